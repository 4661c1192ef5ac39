//===- Pipelines.h - Named lowering pipelines -------------------*- C++ -*-===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_CONVERSION_PIPELINES_PIPELINES_H
#define QREALIGN_CONVERSION_PIPELINES_PIPELINES_H

#include "mlir/Pass/PassManager.h"

namespace mlir::qrealign {
/// qrealign-lower-to-cpu: qrealign functions to the LLVM dialect for the
/// host: convert-qrealign-to-linalg, elementwise fusion (the dequantization
/// of a W4A16 weight fuses into its contraction), qrealign-bind-params
/// (parameters become arguments; the `qrealign.param` ops stay as the
/// manifest of those arguments, and are all that is not LLVM afterwards),
/// one-shot bufferization with identity layouts at function boundaries,
/// buffer deallocation, loops, and the conversions to LLVM.
void buildLowerToCPUPipeline(OpPassManager &pm);

/// Registers the named pipelines with the pass registry.
void registerQRealignPipelines();
} // namespace mlir::qrealign

#endif // QREALIGN_CONVERSION_PIPELINES_PIPELINES_H
