//===- GPUContractions.h - Contractions the GPU passes lower ----*- C++ -*-===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_LIB_CONVERSION_PIPELINES_GPUCONTRACTIONS_H
#define QREALIGN_LIB_CONVERSION_PIPELINES_GPUCONTRACTIONS_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"

namespace mlir::qrealign {
/// Whether `op` has the loops and maps of the packed weight-only
/// contraction convert-qrealign-to-linalg emits for few rows: loops
/// (m, n, g, j, b), operands x[m, g, b, j], unit[n, g, b], scale[n, g],
/// optionally zero[n, g], and y[m, n]. qrealign-gpu-w4a16-mma lowers it
/// (and says why not when its types or body differ);
/// qrealign-gpu-int-matmul-schedule leaves it to that pass.
bool isPackedWeightOnlyContraction(linalg::GenericOp op);
} // namespace mlir::qrealign

#endif // QREALIGN_LIB_CONVERSION_PIPELINES_GPUCONTRACTIONS_H
