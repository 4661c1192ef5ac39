//===- CompiledModel.h - A model's @forward compiled for the host -*- C++
//-*-===//
//
// Part of the qrealign project.
//
// `qrealign-run --backend compiled`: the module's @forward through
// qrealign-lower-to-cpu and the JIT, its parameters bound to the arguments
// that qrealign-bind-params adds (their data as the engine program already
// read, checked and mapped them: nothing is loaded twice); or, ahead of
// time, an object file qrealign-compile wrote, its parameters mapped from
// the files its manifest names. Greedy generation runs @prefill over the
// prompt, then @decode once per new token with the KV cache the previous
// call returned (qrealign-build-kv-cache).
//
// An object compiled for a GPU (qrealign-compile --gpu) keeps every buffer
// there: each parameter uploaded once when the object is loaded, the
// inputs of a call (ids, positions, mask) uploaded per call, the KV cache
// copied once from @prefill's results into device buffers with room for
// the whole generation, which @decode updates in place, and only the last
// row of logits copied back. An object of the emulated
// GPU mapping (--emulate-gpu) is handled the same way in host memory, which
// is how this path is tested where no GPU is.
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_COMPILED_COMPILEDMODEL_H
#define QREALIGN_COMPILED_COMPILEDMODEL_H

#include "qrealign/Checkpoint/Checkpoint.h"
#include "qrealign/Compiled/JIT.h"
#include "qrealign/Compiled/ObjectCode.h"
#include "qrealign/Engine/Engine.h"
#include "qrealign/Engine/Program.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace qrealign {
class BufferSpace;

class CompiledModel {
public:
  ~CompiledModel();
  /// Compiles `module`'s @forward (the module is not modified), its
  /// parameters bound to the data that `parameters` (the engine program
  /// lowered from the same module, e.g. a ModelSession's) loaded and
  /// checked; `parameters` must outlive the compiled model.
  static llvm::Expected<std::unique_ptr<CompiledModel>>
  create(mlir::ModuleOp module, const Program &parameters);
  /// Loads an object file that qrealign-compile wrote (ObjectModule) and
  /// binds its parameters as its embedded manifest says: each scope's
  /// safetensors file (relative paths from the object's directory;
  /// `scopeFiles` SCOPE=PATH pairs replace them) is memory-mapped, and
  /// every tensor is checked against its entry (present, dtype, shape)
  /// before any code runs. The functions' signatures are checked too.
  static llvm::Expected<std::unique_ptr<CompiledModel>>
  load(llvm::StringRef objectPath,
       llvm::ArrayRef<std::pair<std::string, std::string>> scopeFiles = {});

  int64_t getVocabSize() const { return vocab; }
  /// Where the code runs: "" (the host), "emulated-gpu" or "cuda:sm_NN"
  /// (ObjectModule::getDevice).
  llvm::StringRef getDevice() const { return device; }
  /// A function of the compiled module with its bound parameters.
  struct BoundFunction {
    /// The memref descriptors ({allocated, aligned, offset, sizes,
    /// strides} as 64-bit words) of arguments numInputs + i.
    std::vector<std::vector<int64_t>> params;
    unsigned numInputs = 0, numResults = 0;
  };

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
  /// A rank-3 f32 result of compiled code (every result of the three
  /// functions is one), owned by the caller.
  using Result = MemRefDescriptor<float, 3>;
  /// A host array passed to a call: placed in the code's memory (copied to
  /// the GPU) for that call.
  struct Input {
    const void *data;
    size_t bytes;
    std::vector<int64_t> sizes;
  };
  /// Calls `name` with `inputs`, then `cache` (results of an earlier call,
  /// already in the code's memory), then its bound parameters.
  llvm::Error call(llvm::StringRef name, const BoundFunction &fn,
                   llvm::ArrayRef<Input> inputs, llvm::ArrayRef<Result *> cache,
                   std::vector<Result> &results);
  void release(std::vector<Result> &results);
  /// Copies @prefill's caches (its results 1..) into buffers of
  /// `capacity` positions, appended to `caches` (released by the caller,
  /// also on error).
  llvm::Error growCaches(const std::vector<Result> &prefilled, int64_t capacity,
                         std::vector<Result> &caches);
  /// @prefill of one sequence (positions 0.., no padding): logits and cache.
  llvm::Error prefill(llvm::ArrayRef<int64_t> ids, std::vector<Result> &out);
  /// The logits of the last position of `logits` [1, S, vocab], copied to
  /// the host.
  llvm::Expected<std::vector<float>> lastRow(const Result &logits) const;

  /// Calls a function's packed entry point (JIT or loaded object).
  std::function<llvm::Error(llvm::StringRef, llvm::MutableArrayRef<void *>)>
      invoke;
  /// What `invoke` runs and the data it binds: the JIT and its module, or
  /// the loaded object and the checkpoints it maps.
  mlir::OwningOpRef<mlir::ModuleOp> compiled;
  std::unique_ptr<JitModule> jit;
  std::unique_ptr<ObjectModule> object;
  std::vector<std::unique_ptr<Checkpoint>> checkpoints;
  BoundFunction prefillFn, decodeFn;
  int64_t vocab = 0;
  std::string device;
  /// Where the code's buffers live, and the parameters placed there (on a
  /// GPU: uploaded once, freed with the model).
  std::unique_ptr<BufferSpace> memory;
  std::vector<void *> placedParams;
};
} // namespace qrealign

#endif // QREALIGN_COMPILED_COMPILEDMODEL_H
