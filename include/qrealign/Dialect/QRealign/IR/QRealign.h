//===- QRealign.h - qrealign dialect, attributes and ops --------*- C++ -*-===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//
//
// The one header clients include to use the qrealign dialect.
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_DIALECT_QREALIGN_IR_QREALIGN_H
#define QREALIGN_DIALECT_QREALIGN_IR_QREALIGN_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/RegionKindInterface.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "qrealign/Dialect/QRealign/IR/ParamEnvironment.h"

#include "qrealign/Dialect/QRealign/IR/QRealignOpsDialect.h.inc"

#include "qrealign/Dialect/QRealign/IR/QRealignEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "qrealign/Dialect/QRealign/IR/QRealignAttrs.h.inc"

#include "qrealign/Dialect/QRealign/IR/QRealignInterfaces.h.inc"

#define GET_OP_CLASSES
#include "qrealign/Dialect/QRealign/IR/QRealignOps.h.inc"

namespace mlir::qrealign {
/// Valid weight bit widths of #qrealign.quant (16 = not quantized).
inline constexpr unsigned kValidWeightBits[] = {2, 3, 4, 8, 16};
/// Valid activation bit widths of #qrealign.quant (16 = not quantized).
inline constexpr unsigned kValidActBits[] = {4, 8, 16};

/// True if `bits` is a valid weight width.
bool isValidWeightBits(unsigned bits);
/// True if `bits` is a valid activation width.
bool isValidActBits(unsigned bits);
/// True if `groupSize` is a valid per-group size (a power of two >= 8).
bool isValidGroupSize(int64_t groupSize);

/// Ranges in the convention of qrealign/Quant (WeightQuantSpec::groupSize)
/// and of the engine's QR_OP_FAKE_QUANT (i1): -1 per tensor, 0 per row
/// (channel or token), else the elements per group.
inline int64_t getRangeGroupSize(Granularity granularity, int64_t groupSize) {
  switch (granularity) {
  case Granularity::PerTensor:
    return -1;
  case Granularity::PerChannel:
    return 0;
  case Granularity::PerGroup:
    return groupSize;
  }
  return 0;
}
} // namespace mlir::qrealign

#endif // QREALIGN_DIALECT_QREALIGN_IR_QREALIGN_H
