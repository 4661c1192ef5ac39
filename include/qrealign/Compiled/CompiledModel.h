//===- CompiledModel.h - A model's @forward compiled for the host -*- C++
//-*-===//
//
// Part of the qrealign project.
//
// `qrealign-run --backend compiled`: the module's @forward through
// qrealign-lower-to-cpu and the JIT, its parameters bound to the arguments
// that qrealign-bind-params adds (their data read, checked and mapped by
// the same loader as the engine's, QRealignProgram). Greedy generation
// reruns the whole sequence for every new token: the compiled prefill and
// decode functions with an explicit KV cache are not written yet.
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_COMPILED_COMPILEDMODEL_H
#define QREALIGN_COMPILED_COMPILEDMODEL_H

#include "qrealign/Compiled/JIT.h"
#include "qrealign/Dialect/QRealign/IR/ParamEnvironment.h"
#include "qrealign/Engine/Engine.h"
#include "qrealign/Engine/Program.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace qrealign {
class CompiledModel {
public:
  ~CompiledModel();
  /// Compiles `module`'s @forward (the module is not modified). Parameter
  /// scopes resolve through `env`.
  static llvm::Expected<std::unique_ptr<CompiledModel>>
  create(mlir::ModuleOp module, const mlir::qrealign::ParamEnvironment &env);

  int64_t getVocabSize() const { return vocab; }
  /// The number of parameters bound to arguments.
  size_t getNumBoundParams() const { return bound.size(); }

  /// Logits of the last token of each sequence ([batch][vocab]), each
  /// sequence run alone (no padding).
  llvm::Expected<std::vector<std::vector<float>>>
  forward(llvm::ArrayRef<std::vector<int64_t>> batch);
  /// Greedy decoding, stopping at `eosIds` or after `maxNewTokens`.
  llvm::Expected<GenerateResult>
  generate(llvm::ArrayRef<std::vector<int64_t>> batch, int maxNewTokens,
           llvm::ArrayRef<int64_t> eosIds);

private:
  CompiledModel() = default;
  /// Logits [S][vocab] of one sequence.
  llvm::Expected<std::vector<float>> run(llvm::ArrayRef<int64_t> ids);

  std::unique_ptr<Program> program; // owns the parameters' data
  mlir::OwningOpRef<mlir::ModuleOp> compiled;
  std::unique_ptr<JitModule> jit;
  std::vector<const qr_param *> bound; // argument 3 + i
  std::vector<llvm::SmallVector<int64_t, 4>> boundShapes;
  int64_t vocab = 0;
};
} // namespace qrealign

#endif // QREALIGN_COMPILED_COMPILEDMODEL_H
