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
  enum class Kind {
    ScopeMap,
    Path,
    String,
    Template,
    NonNegInt,
    PositiveInt,
    IdList,
    CalibrationRecord
  };
  static constexpr std::pair<StringLiteral, Kind> kKnown[] = {
      {"qrealign.params", Kind::ScopeMap},
      {"qrealign.tokenizer", Kind::Path},
      {"qrealign.model_type", Kind::String},
      {"qrealign.chat_template", Kind::Template},
      {"qrealign.bos_token_id", Kind::NonNegInt},
      {"qrealign.eos_token_ids", Kind::IdList},
      {"qrealign.max_positions", Kind::PositiveInt},
      {"qrealign.sliding_window", Kind::PositiveInt},
      {"qrealign.calibration", Kind::CalibrationRecord},
  };
  const auto *known = llvm::find_if(
      kKnown, [&](const auto &entry) { return entry.first == name; });
  if (name == "qrealign.checkpoint")
    return op->emitError() << "'qrealign.checkpoint' was replaced by "
                              "'qrealign.params = {model = \"PATH\"}' (a "
                              "scope map; reimport or edit the module)";
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
  case Kind::ScopeMap: {
    auto map = dyn_cast<DictionaryAttr>(value);
    if (!map)
      return op->emitError()
             << "'" << name << "' must be a dictionary of scope = \"path\"";
    for (NamedAttribute entry : map) {
      if (!ExternalAttr::isValidScope(entry.getName().getValue()))
        return op->emitError()
               << "'" << name << "': scope '" << entry.getName().getValue()
               << "' is not a name ([A-Za-z_][A-Za-z0-9_-]*)";
      auto path = dyn_cast<StringAttr>(entry.getValue());
      if (!path || path.getValue().empty())
        return op->emitError()
               << "'" << name << "': scope '" << entry.getName().getValue()
               << "' must map to a non-empty path string";
    }
    return success();
  }
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
  case Kind::CalibrationRecord: {
    // What qrealign-calibrate ran: its objective and scope, and one record
    // of losses per layer.
    auto record = dyn_cast<DictionaryAttr>(value);
    auto objective = record ? record.getAs<StringAttr>("objective") : nullptr;
    auto scope = record ? record.getAs<StringAttr>("scope") : nullptr;
    auto layers = record ? record.getAs<ArrayAttr>("layers") : nullptr;
    if (!objective || !scope || !layers)
      return op->emitError()
             << "'" << name
             << "' must be a dictionary with \"objective\" and \"scope\" "
                "strings and a \"layers\" array";
    for (Attribute a : layers) {
      auto layer = dyn_cast<DictionaryAttr>(a);
      if (!layer || !layer.getAs<IntegerAttr>("layer") ||
          !layer.getAs<FloatAttr>("initial_loss") ||
          !layer.getAs<FloatAttr>("final_loss"))
        return op->emitError()
               << "'" << name
               << "': each entry of \"layers\" needs \"layer\", "
                  "\"initial_loss\" and \"final_loss\"";
    }
    return success();
  }
  }
  llvm_unreachable("unhandled attribute kind");
}
