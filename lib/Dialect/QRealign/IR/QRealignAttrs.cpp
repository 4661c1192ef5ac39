//===- QRealignAttrs.cpp - qrealign attributes ----------------------------===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Dialect/QRealign/IR/QRealign.h"

#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>

using namespace mlir;
using namespace mlir::qrealign;

#include "qrealign/Dialect/QRealign/IR/QRealignEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "qrealign/Dialect/QRealign/IR/QRealignAttrs.cpp.inc"

void QRealignDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "qrealign/Dialect/QRealign/IR/QRealignAttrs.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// ExternalAttr
//===----------------------------------------------------------------------===//

bool ExternalAttr::isValidScope(StringRef scope) {
  if (scope.empty() || !(llvm::isAlpha(scope.front()) || scope.front() == '_'))
    return false;
  return llvm::all_of(
      scope, [](char c) { return llvm::isAlnum(c) || c == '_' || c == '-'; });
}

LogicalResult ExternalAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                   StringRef scope, StringRef key) {
  if (!isValidScope(scope))
    return emitError() << "scope '" << scope
                       << "' is not a name ([A-Za-z_][A-Za-z0-9_-]*)";
  if (key.empty())
    return emitError() << "external tensor name must not be empty";
  return success();
}

// #qrealign.external<"scope"::"key">
Attribute ExternalAttr::parse(AsmParser &parser, Type) {
  SMLoc loc = parser.getCurrentLocation();
  std::string scope, key;
  if (parser.parseLess() || parser.parseString(&scope) || parser.parseColon() ||
      parser.parseColon() || parser.parseString(&key) || parser.parseGreater())
    return {};
  return parser.getChecked<ExternalAttr>(loc, parser.getContext(), scope, key);
}

void ExternalAttr::print(AsmPrinter &printer) const {
  printer << "<";
  printer.printString(getScope());
  printer << "::";
  printer.printString(getKey());
  printer << ">";
}

bool mlir::qrealign::isValidWeightBits(unsigned bits) {
  return llvm::is_contained(kValidWeightBits, bits);
}

bool mlir::qrealign::isValidActBits(unsigned bits) {
  return llvm::is_contained(kValidActBits, bits);
}

bool mlir::qrealign::isValidGroupSize(int64_t groupSize) {
  return groupSize >= 8 && llvm::isPowerOf2_64(groupSize);
}

//===----------------------------------------------------------------------===//
// QuantSchemeAttr
//===----------------------------------------------------------------------===//

LogicalResult
QuantSchemeAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                        unsigned wBits, unsigned aBits, Granularity granularity,
                        int64_t groupSize, bool symmetric, ActQuantMode act,
                        bool actSymmetric) {
  if (!isValidWeightBits(wBits))
    return emitError() << "w_bits must be one of 2, 3, 4, 8 or 16, got "
                       << wBits;
  if (!isValidActBits(aBits))
    return emitError() << "a_bits must be one of 4, 8 or 16, got " << aBits;
  if (wBits == 16 &&
      (granularity != Granularity::PerChannel || groupSize != 0 || symmetric))
    return emitError() << "w_bits = 16 leaves weights unquantized; "
                          "granularity, group_size and symmetric must keep "
                          "their defaults";
  if (granularity == Granularity::PerGroup && groupSize == 0)
    return emitError() << "per_group granularity needs a group_size";
  if (granularity != Granularity::PerGroup && groupSize != 0)
    return emitError() << "group_size is only valid with per_group "
                          "granularity, got granularity = "
                       << stringifyGranularity(granularity);
  if (groupSize != 0 && !isValidGroupSize(groupSize))
    return emitError() << "group_size must be a power of two >= 8, got "
                       << groupSize;
  if (act == ActQuantMode::Static && aBits == 16)
    return emitError() << "act = static needs quantized activations "
                          "(a_bits < 16)";
  if (actSymmetric && (aBits == 16 || act != ActQuantMode::Dynamic))
    return emitError() << "act_symmetric applies to dynamic activation "
                          "quantization only (a_bits < 16, act = dynamic)";
  return success();
}

int64_t QuantSchemeAttr::getNumGroups(int64_t inFeatures) const {
  if (getGranularity() != Granularity::PerGroup || getGroupSize() <= 0)
    return 1;
  return inFeatures / getGroupSize();
}

double QuantSchemeAttr::getBitsPerWeight(int64_t inFeatures) const {
  if (!quantizesWeights())
    return 16.0;
  // One f16 scale, plus a w_bits zero point when asymmetric, per scale group.
  double perScale = 16.0 + (getSymmetric() ? 0.0 : double(getWBits()));
  double elementsPerScale = 1.0;
  switch (getGranularity()) {
  case Granularity::PerTensor:
    // The single scale is negligible at any realistic size.
    return double(getWBits());
  case Granularity::PerChannel:
    elementsPerScale = double(inFeatures);
    break;
  case Granularity::PerGroup:
    elementsPerScale = double(getGroupSize());
    break;
  }
  return double(getWBits()) + perScale / elementsPerScale;
}

std::string QuantSchemeAttr::getShortName() const {
  std::string out;
  llvm::raw_string_ostream os(out);
  os << "W" << getWBits() << "A" << getABits();
  if (quantizesWeights()) {
    switch (getGranularity()) {
    case Granularity::PerTensor:
      os << " per-tensor";
      break;
    case Granularity::PerChannel:
      os << " per-channel";
      break;
    case Granularity::PerGroup:
      os << " g" << getGroupSize();
      break;
    }
    os << (getSymmetric() ? " sym" : " asym");
  }
  if (quantizesActivations())
    os << (getAct() == ActQuantMode::Static ? " static-act"
           : getActSymmetric()              ? " dyn-sym-act"
                                            : " dyn-act");
  return out;
}

//===----------------------------------------------------------------------===//
// SafetyBoundaryAttr
//===----------------------------------------------------------------------===//

LogicalResult
SafetyBoundaryAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                           FlatSymbolRefAttr weight, FlatSymbolRefAttr bias,
                           int64_t position, llvm::APFloat accuracyValue) {
  double accuracy = accuracyValue.convertToDouble();
  if (!weight || !bias)
    return emitError() << "safety boundary needs probe weight and bias "
                          "symbols";
  if (!(accuracy >= 0.0 && accuracy <= 1.0))
    return emitError() << "safety boundary accuracy must be in [0, 1], got "
                       << accuracy;
  return success();
}
