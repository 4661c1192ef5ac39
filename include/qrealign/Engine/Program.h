//===- Program.h - qrealign IR lowered for the execution engine -*- C++ -*-===//
//
// The engine does not parse IR: it runs a flat program (EngineAPI.h) that
// this lowering builds from a module's `func.func @forward`. Lowering
// resolves `qrealign.get_param` to parameters, inlines `qrealign.layer`
// bodies (marking each layer's output as a hook point), and maps parameter
// data from the files of their scopes (`qrealign.params`, memory-mapped,
// zero copy) or from inline elements attributes.
//
// This is the MLIR side of the engine boundary; it never links libtorch.
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_ENGINE_PROGRAM_H
#define QREALIGN_ENGINE_PROGRAM_H

#include "qrealign/Dialect/QRealign/IR/ParamEnvironment.h"
#include "qrealign/Engine/EngineAPI.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/raw_ostream.h"

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace qrealign {
class Checkpoint;

/// Model-level facts recorded by the importer, for tools.
struct ModelInfo {
  std::string modelType;
  std::string tokenizerPath; // resolved, or empty
  std::string chatTemplate;  // "none" when absent
  int64_t bosTokenId = -1;
  std::vector<int64_t> eosTokenIds;
  /// The usable context: max_position_embeddings, or the sliding window
  /// when that is smaller (the engine attends over the whole sequence,
  /// which is exact only within the window).
  int64_t maxPositions = 0;
  /// `qrealign.sliding_window`, or 0.
  int64_t slidingWindow = 0;
};

class Program {
public:
  ~Program();
  const qr_program &get() const { return program; }
  const ModelInfo &getModelInfo() const { return info; }
  /// Number of instructions of each kind, for reports.
  size_t getNumLinears() const;
  /// The checkpoint tensor name of parameter `index` (its symbol name when
  /// the parameter is inline).
  llvm::StringRef getTensorName(int index) const { return tensorNames[index]; }
  /// True for a program lowered with `parametersOnly`: parameters and model
  /// facts, no instructions; the engine cannot run it.
  bool isParametersOnly() const { return parametersOnly; }

private:
  friend class ProgramLowering;
  Program();
  qr_program program{};
  std::vector<qr_param> params;
  std::vector<qr_instr> instrs;
  std::vector<int32_t> inputValues, outputValues;
  std::vector<std::string> tensorNames;
  std::deque<std::string> strings;           // stable c_str()s
  std::vector<std::vector<uint8_t>> buffers; // copies of splat/inline data
  std::vector<std::unique_ptr<Checkpoint>> checkpoints; // one per scope
  ModelInfo info;
  bool parametersOnly = false;
};

/// The engine's dtype (enum qr_dtype) of parameters of element type `elt`,
/// or std::nullopt when the engine cannot hold them.
std::optional<int32_t> getParamDType(mlir::Type elt);

/// Prints `program` as text, one line per parameter and per instruction,
/// with every field the engine reads (parameter data as its byte count and
/// a checksum): what the lowering produced, testable without libtorch
/// (`qrealign-run --dump-program`).
void printProgram(const Program &program, llvm::raw_ostream &os);

/// Lowers `module`'s `function`: `@forward`, the model (ids, positions and
/// mask to logits), or any other function over ranked tensors, a function
/// program (calibration functions) run through qr_engine_call. Parameter
/// scopes resolve through `env` (its `inputDir`,
/// the IR file's directory, also anchors a relative `qrealign.tokenizer`;
/// its `scopeFiles` replace or add entries of `qrealign.params`).
/// Problems are reported as diagnostics located on the offending op (for a
/// parameter: its name location, the checkpoint tensor name, when the
/// importer wrote it).
///
/// With `parametersOnly`, the function's interface is checked and the
/// parameters are loaded and checked, but no instruction is lowered and no
/// weight is computed from parameters (dequantized): what the compiled
/// backend needs, which binds the stored parameters themselves (a
/// dequantized 7B model would take 28 GB of f32).
mlir::FailureOr<std::unique_ptr<Program>> lowerToProgram(
    mlir::ModuleOp module, const mlir::qrealign::ParamEnvironment &env = {},
    llvm::StringRef function = "forward", bool parametersOnly = false);
} // namespace qrealign

#endif // QREALIGN_ENGINE_PROGRAM_H
