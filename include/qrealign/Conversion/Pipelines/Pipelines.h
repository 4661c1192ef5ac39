//===- Pipelines.h - Named lowering pipelines -------------------*- C++ -*-===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_CONVERSION_PIPELINES_PIPELINES_H
#define QREALIGN_CONVERSION_PIPELINES_PIPELINES_H

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"

namespace mlir::qrealign {
/// qrealign-lower-to-cpu: qrealign functions to the LLVM dialect for the
/// host: convert-qrealign-to-linalg, elementwise fusion (the dequantization
/// of a W4A16 weight fuses into its contraction), qrealign-bind-params
/// (parameters become arguments; the `qrealign.param` ops stay as the
/// manifest of those arguments, and are all that is not LLVM afterwards),
/// qrealign-cpu-vectorize (the contractions tiled and vectorized on
/// tensors), one-shot bufferization with identity layouts at function
/// boundaries, buffer deallocation, loops, vector transfers unrolled, and the
/// conversions to LLVM.
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
};
void buildLowerToCPUPipeline(OpPassManager &pm,
                             const LowerToCPUOptions &options = {});

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

/// qrealign-lower-to-nvvm: the integer GEMMs of a linalg-level module to
/// PTX or a cubin for NVIDIA tensor cores (qrealign-gpu-int-matmul-schedule,
/// convert-vector-to-gpu to nvgpu.mma.sync, the NVVM lowering,
/// gpu-module-to-binary). Needs the passes registered (qrealign-opt).
void buildLowerToNVVMPipeline(OpPassManager &pm,
                              const LowerToNVVMOptions &options);

/// Registers the named pipelines with the pass registry.
void registerQRealignPipelines();
} // namespace mlir::qrealign

#endif // QREALIGN_CONVERSION_PIPELINES_PIPELINES_H
