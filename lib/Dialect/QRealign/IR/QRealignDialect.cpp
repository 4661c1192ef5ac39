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
  Attribute value = attribute.getValue();
  enum class Kind { Path, String, Template, NonNegInt, PositiveInt, IdList };
  static constexpr std::pair<StringLiteral, Kind> kKnown[] = {
      {"qrealign.checkpoint", Kind::Path},
      {"qrealign.tokenizer", Kind::Path},
      {"qrealign.model_type", Kind::String},
      {"qrealign.chat_template", Kind::Template},
      {"qrealign.bos_token_id", Kind::NonNegInt},
      {"qrealign.eos_token_ids", Kind::IdList},
      {"qrealign.max_positions", Kind::PositiveInt},
      {"qrealign.sliding_window", Kind::PositiveInt},
  };
  const auto *known = llvm::find_if(
      kKnown, [&](const auto &entry) { return entry.first == name; });
  if (known == std::end(kKnown)) {
    InFlightDiagnostic diag = op->emitError() << "unknown qrealign attribute '"
                                              << name << "' (known: ";
    llvm::interleaveComma(kKnown, diag, [&](const auto &entry) {
      diag << "'" << entry.first << "'";
    });
    return diag << ")";
  }
  if (!isa<ModuleOp>(op))
    return op->emitError() << "'" << name
                           << "' is only valid on a builtin.module";
  auto str = dyn_cast<StringAttr>(value);
  auto integer = dyn_cast<IntegerAttr>(value);
  switch (known->second) {
  case Kind::Path:
  case Kind::String:
    if (!str || str.getValue().empty())
      return op->emitError() << "'" << name << "' must be a non-empty string";
    return success();
  case Kind::Template:
    if (!str || !llvm::is_contained({StringRef("llama-2"), StringRef("llama-3"),
                                     StringRef("chatml"), StringRef("none")},
                                    str.getValue()))
      return op->emitError() << "'" << name
                             << "' must be one of \"llama-2\", \"llama-3\", "
                                "\"chatml\", \"none\"";
    return success();
  case Kind::NonNegInt:
  case Kind::PositiveInt: {
    int64_t min = known->second == Kind::PositiveInt ? 1 : 0;
    if (!integer || integer.getValue().getSExtValue() < min)
      return op->emitError()
             << "'" << name << "' must be an integer >= " << min;
    return success();
  }
  case Kind::IdList: {
    auto list = dyn_cast<ArrayAttr>(value);
    if (!list || list.empty() || !llvm::all_of(list, [](Attribute a) {
          auto i = dyn_cast<IntegerAttr>(a);
          return i && i.getValue().getSExtValue() >= 0;
        }))
      return op->emitError() << "'" << name
                             << "' must be a non-empty array of integers "
                                ">= 0";
    return success();
  }
  }
  llvm_unreachable("unhandled attribute kind");
}
