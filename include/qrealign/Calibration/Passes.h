//===- Passes.h - Calibration passes ----------------------------*- C++ -*-===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_CALIBRATION_PASSES_H
#define QREALIGN_CALIBRATION_PASSES_H

#include "qrealign/Dialect/QRealign/IR/QRealign.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::qrealign {
#define GEN_PASS_DECL
#include "qrealign/Calibration/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "qrealign/Calibration/Passes.h.inc"
} // namespace mlir::qrealign

#endif // QREALIGN_CALIBRATION_PASSES_H
