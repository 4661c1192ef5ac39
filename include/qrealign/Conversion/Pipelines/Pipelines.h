//===- Pipelines.h - Named lowering pipelines -------------------*- C++ -*-===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_CONVERSION_PIPELINES_PIPELINES_H
#define QREALIGN_CONVERSION_PIPELINES_PIPELINES_H

#include "qrealign/Conversion/Passes.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/JSON.h"

#include <optional>
#include <string>
#include <utility>

namespace mlir::func {
class FuncOp;
} // namespace mlir::func

namespace mlir::qrealign {
/// qrealign-lower-to-cpu: qrealign functions to the LLVM dialect for the
/// host: qrealign-bind-params (parameters become arguments; the
/// `qrealign.param` ops stay as the manifest of those arguments, and are all
/// that is not LLVM afterwards), convert-qrealign-to-linalg,
/// qrealign-fuse-elementwise (no producer element computed twice),
/// qrealign-cpu-vectorize (the contractions tiled and vectorized on
/// tensors, a prefill W4A16 weight dequantized a tile at a time), one-shot
/// bufferization with identity layouts at function boundaries, buffer loop
/// hoisting, buffer deallocation, loops, vector transfers unrolled,
/// qrealign-emulate-narrow-types (4-bit levels bound to their bytes), and
/// the conversions to LLVM.
struct LowerToCPUOptions : public PassPipelineOptions<LowerToCPUOptions> {
  PassOptions::Option<std::string> manifest{
      *this, "manifest",
      llvm::cl::desc("Write the parameter bindings to this JSON file and drop "
                     "the parameter ops (qrealign-bind-params), so that the "
                     "result translates to LLVM IR and objects"),
      llvm::cl::init("")};
  PassOptions::Option<bool> vectorize{
      *this, "vectorize",
      llvm::cl::desc("Tile and vectorize the contractions "
                     "(qrealign-cpu-vectorize); off: scalar loops"),
      llvm::cl::init(true)};
  PassOptions::Option<int64_t> packedRowsLimit{
      *this, "packed-rows-limit",
      llvm::cl::desc("convert-qrealign-to-linalg's option: at most this many "
                     "rows read packed weights in their contraction"),
      llvm::cl::init(4)};
  PassOptions::Option<int64_t> packedIntRowsLimit{
      *this, "packed-int-rows-limit",
      llvm::cl::desc("convert-qrealign-to-linalg's option: the same for the "
                     "integer path (W4A8, W4A4)"),
      llvm::cl::init(2)};
  PassOptions::Option<bool> narrowLevels{
      *this, "narrow-levels",
      llvm::cl::desc("convert-qrealign-to-linalg's option: nibble storage "
                     "read as i4 levels, bound to its bytes by "
                     "qrealign-emulate-narrow-types (off: read as bytes and "
                     "shifted; emulate-gpu: always off, as "
                     "qrealign-lower-to-nvvm)"),
      llvm::cl::init(true)};
  PassOptions::Option<int64_t> tileRows{
      *this, "tile-rows",
      llvm::cl::desc("qrealign-cpu-vectorize's option: tokens per tile of a "
                     "linear (0: for the host)"),
      llvm::cl::init(QRealignCPUVectorizePassOptions().tileRows)};
  PassOptions::Option<int64_t> lanes{
      *this, "lanes",
      llvm::cl::desc("qrealign-cpu-vectorize's option: partial sums per "
                     "output (0: for the host)"),
      llvm::cl::init(QRealignCPUVectorizePassOptions().lanes)};
  PassOptions::Option<bool> emulateGPU{
      *this, "emulate-gpu",
      llvm::cl::desc("Map the linalg ops as qrealign-lower-to-nvvm does "
                     "(qrealign-gpu-loops) and run the launches as host loops "
                     "(qrealign-gpu-launch-to-loops): the GPU mapping checked "
                     "on the CPU; no vectorization"),
      llvm::cl::init(false)};
};
void buildLowerToCPUPipeline(OpPassManager &pm,
                             const LowerToCPUOptions &options = {});
/// qrealign-cpu-vectorize's tiles {tile-rows, lanes} for a CPU with
/// `features` (LLVM's names, such as "avx512f"): what options of 0 give on
/// a host with these features.
std::pair<int64_t, int64_t>
getCPUVectorizeTiles(const llvm::StringMap<bool> &features);

struct LowerToNVVMOptions : public PassPipelineOptions<LowerToNVVMOptions> {
  PassOptions::Option<std::string> chip{
      *this, "chip", llvm::cl::desc("sm_80 or sm_90"), llvm::cl::init("sm_80")};
  PassOptions::Option<std::string> format{
      *this, "format",
      llvm::cl::desc("isa (PTX), bin (cubin through ptxas) or fatbin"),
      llvm::cl::init("isa")};
  PassOptions::Option<std::string> toolkit{
      *this, "toolkit", llvm::cl::desc("The CUDA toolkit (ptxas) for bin"),
      llvm::cl::init("/usr/local/cuda")};
};

/// qrealign-lower-to-nvvm: a qrealign- or linalg-level module (parameters
/// bound as arguments) to host code and PTX or a cubin for NVIDIA GPUs:
/// convert-qrealign-to-linalg and elementwise fusion, the W8A8 integer GEMMs
/// and the W4A16 packed contractions on tensor cores
/// (qrealign-gpu-int-matmul-schedule, one-shot bufferization,
/// qrealign-gpu-w4a16-mma), every other linalg op one thread per output
/// (qrealign-gpu-loops), the launches on one stream (gpu-async-region), the
/// NVVM lowering, gpu-module-to-binary. Needs the passes registered
/// (qrealign-opt).
void buildLowerToNVVMPipeline(OpPassManager &pm,
                              const LowerToNVVMOptions &options);

/// The version of the parameter manifest that buildParamManifest writes
/// and the runtime reads (lib/Compiled/Manifest.cpp). 3: @decode updates
/// KV caches of a given capacity in place (2 returned them grown).
constexpr int64_t kManifestVersion = 3;

/// The parameter manifest of `module`, whose functions' parameters
/// qrealign-bind-params bound (docs/lowering.md#ahead-of-time): per
/// function its inputs and results (dtype, shape with null for a dynamic
/// size) and each bound parameter (argument, symbol, scope, tensor, dtype,
/// shape, storage); the scopes' files as the module records them. An
/// inline parameter, or an input or result that is not a ranked tensor, is
/// an error emitted on the module.
FailureOr<llvm::json::Value> buildParamManifest(ModuleOp module);
/// How bound argument `arg` of `fn` (after qrealign-bind-params) stores its
/// parameter, as the manifest's `storage` says: `float`, `int<b>` (one
/// b-bit level or zero point per byte), `int4-pairs`, `int<b>-words`,
/// `int<b>-words-rows`.
std::string getParamStorage(func::FuncOp fn, unsigned arg);
/// The width b of a storage `int<b>` with b < 8: bytes of which only the
/// values in [-2^(b-1), 2^(b-1) - 1] are levels; std::nullopt otherwise.
std::optional<int> getByteLevelBits(llvm::StringRef storage);
/// Drops the `qrealign.param` ops, `qrealign.params` and the arguments'
/// `qrealign.param` markers once a manifest describes them (what is left
/// translates to LLVM IR).
void dropBoundParams(ModuleOp module);

/// Registers the named pipelines with the pass registry.
void registerQRealignPipelines();
} // namespace mlir::qrealign

#endif // QREALIGN_CONVERSION_PIPELINES_PIPELINES_H
