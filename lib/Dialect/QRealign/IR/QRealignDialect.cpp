//===- QRealignDialect.cpp - qrealign dialect -----------------------------===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Dialect/QRealign/IR/QRealign.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::qrealign;

#include "qrealign/Dialect/QRealign/IR/QRealignOpsDialect.cpp.inc"

void QRealignDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "qrealign/Dialect/QRealign/IR/QRealignOps.cpp.inc"
      >();
  registerAttributes();
}

LogicalResult
QRealignDialect::verifyOperationAttribute(Operation *op,
                                          NamedAttribute attribute) {
  StringRef name = attribute.getName().getValue();
  if (name == getCheckpointAttrName()) {
    if (!isa<ModuleOp>(op))
      return op->emitError()
             << "'" << name << "' is only valid on a builtin.module";
    auto path = dyn_cast<StringAttr>(attribute.getValue());
    if (!path || path.getValue().empty())
      return op->emitError()
             << "'" << name
             << "' must be a non-empty string naming a .safetensors file or "
                "a .safetensors.index.json";
    return success();
  }
  return op->emitError() << "unknown qrealign attribute '" << name
                         << "' (known: '" << getCheckpointAttrName() << "')";
}
