//===- Pipelines.cpp - Named lowering pipelines ---------------------------===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Conversion/Pipelines/Pipelines.h"

#include "qrealign/Conversion/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

// Equivalent to the mlir-opt pipeline
//   qrealign-bind-params,
//   func.func(convert-qrealign-to-linalg{narrow-levels},
//             qrealign-fuse-elementwise),
//   (emulate-gpu: linalg-fuse-elementwise-ops instead),
//   canonicalize,cse,qrealign-cpu-vectorize{tile-rows,lanes},
//   one-shot-bufferize{bufferize-function-boundaries
//                      function-boundary-type-conversion=identity-layout-map},
//   func.func(buffer-loop-hoisting),buffer-deallocation-pipeline,
//   convert-bufferization-to-memref,
//   func.func(convert-linalg-to-loops,convert-vector-to-scf{full-unroll}),
//   qrealign-emulate-narrow-types,convert-scf-to-cf,expand-strided-metadata,
//   lower-affine,
//   finalize-memref-to-llvm,
//   convert-vector-to-llvm{reassociate-fp-reductions},convert-math-to-llvm,
//   convert-arith-to-llvm,convert-index-to-llvm,convert-func-to-llvm,
//   convert-cf-to-llvm,convert-ub-to-llvm,reconcile-unrealized-casts
// built from the passes' constructors, so that a library embedding it (the
// JIT) needs no pass registry.
void mlir::qrealign::buildLowerToCPUPipeline(OpPassManager &pm,
                                             const LowerToCPUOptions &options) {
  // Parameters become arguments first: the manifest records how each is
  // stored, which the dequantize ops still say.
  QRealignBindParamsPassOptions bind;
  bind.manifest = options.manifest;
  pm.addPass(createQRealignBindParamsPass(bind));
  OpPassManager &fn = pm.nest<func::FuncOp>();
  ConvertQRealignToLinalgPassOptions toLinalg;
  toLinalg.packedRowsLimit = options.packedRowsLimit;
  toLinalg.packedIntRowsLimit = options.packedIntRowsLimit;
  toLinalg.narrowLevels = options.narrowLevels && !options.emulateGPU;
  fn.addPass(createConvertQRealignToLinalgPass(toLinalg));
  // The emulated GPU path fuses as qrealign-lower-to-nvvm does.
  if (options.emulateGPU)
    fn.addPass(createLinalgElementwiseOpFusionPass());
  else
    fn.addPass(createQRealignFuseElementwisePass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  if (options.emulateGPU) {
    // The linalg IR as qrealign-lower-to-nvvm maps it (without the
    // tensor-core schedules, which need a GPU to run), each launch then a
    // loop nest on the host; qrealign-gpu-loops places the frees.
    pm.addPass(bufferization::createEmptyTensorEliminationPass());
    pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
    pm.addPass(createQRealignGPULoopsPass());
    pm.addPass(createQRealignGPULaunchToLoopsPass());
  } else {
    if (options.vectorize) {
      QRealignCPUVectorizePassOptions vectorize;
      vectorize.tileRows = options.tileRows;
      vectorize.lanes = options.lanes;
      pm.addPass(createQRealignCPUVectorizePass(vectorize));
    }
    pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
    // A tile's buffer (a W4A16 weight's 8 dequantized rows) allocated once
    // per call, not once per tile.
    pm.nest<func::FuncOp>().addPass(
        bufferization::createBufferLoopHoistingPass());
    bufferization::buildBufferDeallocationPipeline(pm);
  }
  // A function that returns one of its arguments (destination-passing
  // style) returns a clone of it.
  pm.addPass(createConvertBufferizationToMemRefPass());
  OpPassManager &loops = pm.nest<func::FuncOp>();
  loops.addPass(createConvertLinalgToLoopsPass());
  VectorTransferToSCFOptions unroll;
  unroll.unroll = true;
  loops.addPass(createConvertVectorToSCFPass(unroll));
  // After the last transfer is 1-D: the i4 levels become shifts of bytes.
  pm.addPass(createQRealignEmulateNarrowTypesPass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  ConvertVectorToLLVMPassOptions vectorToLLVM;
  // The partial sums are already reassociated; the final reductions may be
  // too.
  vectorToLLVM.reassociateFPReductions = true;
  pm.addPass(createConvertVectorToLLVMPass(vectorToLLVM));
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  // Vector and arith lowerings create ub.poison.
  pm.addPass(createUBToLLVMConversionPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}

void mlir::qrealign::registerQRealignPipelines() {
  PassPipelineRegistration<LowerToCPUOptions>(
      "qrealign-lower-to-cpu",
      "Lower qrealign functions to the LLVM dialect for the host CPU",
      [](OpPassManager &pm, const LowerToCPUOptions &options) {
        buildLowerToCPUPipeline(pm, options);
      });
  PassPipelineRegistration<LowerToNVVMOptions>(
      "qrealign-lower-to-nvvm",
      "Lower a qrealign- or linalg-level module to host code and PTX or a "
      "cubin: W8A8 GEMMs and W4A16 linears on tensor cores (nvgpu.mma.sync), "
      "every other op one thread per output",
      [](OpPassManager &pm, const LowerToNVVMOptions &options) {
        buildLowerToNVVMPipeline(pm, options);
      });
}
