//===- Passes.h - qrealign transformation passes ----------------*- C++ -*-===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_DIALECT_QREALIGN_TRANSFORMS_PASSES_H
#define QREALIGN_DIALECT_QREALIGN_TRANSFORMS_PASSES_H

#include "qrealign/Dialect/QRealign/IR/QRealign.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::qrealign {
#define GEN_PASS_DECL
#include "qrealign/Dialect/QRealign/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "qrealign/Dialect/QRealign/Transforms/Passes.h.inc"
} // namespace mlir::qrealign

#endif // QREALIGN_DIALECT_QREALIGN_TRANSFORMS_PASSES_H
