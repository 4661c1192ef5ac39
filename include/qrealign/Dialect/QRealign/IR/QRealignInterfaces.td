//===- QRealignInterfaces.td - qrealign op interfaces ------*- tablegen -*-===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_INTERFACES_TD
#define QREALIGN_INTERFACES_TD

include "mlir/IR/OpBase.td"

def QRealign_SafetyBoundaryOpInterface
    : OpInterface<"SafetyBoundaryOpInterface"> {
  let cppNamespace = "::mlir::qrealign";
  let description = [{
    An op whose output residual stream can carry a safety boundary
    (`#qrealign.boundary`): probe annotation attaches boundaries through this
    interface and calibration reads them through it, without depending on
    the concrete op.
  }];
  let methods = [
    InterfaceMethod<"Returns the safety boundary, or null if none is attached.",
      "::mlir::qrealign::SafetyBoundaryAttr", "getSafetyBoundary">,
    InterfaceMethod<"Attaches `boundary`, replacing any existing one; a null "
      "attribute removes it.",
      "void", "setSafetyBoundary",
      (ins "::mlir::qrealign::SafetyBoundaryAttr":$boundary)>,
    InterfaceMethod<"Returns the width D of the hidden state the probe reads, "
      "or ShapedType::kDynamic if unknown.",
      "int64_t", "getProbedHiddenSize">,
  ];
}

#endif // QREALIGN_INTERFACES_TD
