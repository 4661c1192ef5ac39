//===- Passes.h - Conversions out of the qrealign dialect -------*- C++ -*-===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_CONVERSION_PASSES_H
#define QREALIGN_CONVERSION_PASSES_H

#include "qrealign/Conversion/QRealignToLinalg/QRealignToLinalg.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::qrealign {
#define GEN_PASS_DECL
#include "qrealign/Conversion/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "qrealign/Conversion/Passes.h.inc"
} // namespace mlir::qrealign

#endif // QREALIGN_CONVERSION_PASSES_H
