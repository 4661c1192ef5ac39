//===- AssignQuant.cpp - attach quantization schemes to linears -----------===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Dialect/QRealign/IR/QRealign.h"
#include "qrealign/Dialect/QRealign/Transforms/Passes.h"
#include "qrealign/Dialect/QRealign/Transforms/QuantOptions.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/BitVector.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"

namespace mlir::qrealign {
#define GEN_PASS_DEF_QREALIGNASSIGNQUANTPASS
#include "qrealign/Dialect/QRealign/Transforms/Passes.h.inc"
} // namespace mlir::qrealign

using namespace mlir;
using namespace mlir::qrealign;

namespace {
/// One linear and the fusion group it belongs to.
struct LinearInfo {
  LinearOp op;
  std::optional<int64_t> layer;
  unsigned group;
};

struct AssignQuantPass
    : public qrealign::impl::QRealignAssignQuantPassBase<AssignQuantPass> {
  using QRealignAssignQuantPassBase::QRealignAssignQuantPassBase;

  void runOnOperation() override;

private:
  /// Builds the default scheme from the pass options, reporting bad options
  /// at the module.
  FailureOr<SchemeFields> defaultFields(ModuleOp module);
};
} // namespace

/// Lists the linear names and layer range of a module, for diagnostics about
/// selectors that match nothing.
static std::string describeLinears(ArrayRef<LinearInfo> linears) {
  llvm::SmallVector<std::string> names;
  llvm::StringSet<> seen;
  std::optional<int64_t> lo, hi;
  for (const LinearInfo &l : linears) {
    LinearOp op = l.op;
    if (seen.insert(op.getName()).second)
      names.push_back(op.getName().str());
    if (l.layer) {
      lo = lo ? std::min(*lo, *l.layer) : *l.layer;
      hi = hi ? std::max(*hi, *l.layer) : *l.layer;
    }
  }
  llvm::sort(names);
  std::string out = "linear names in this module: " + llvm::join(names, ", ");
  if (lo)
    out += "; layers L" + std::to_string(*lo) + "-" + std::to_string(*hi);
  return out;
}

FailureOr<SchemeFields> AssignQuantPass::defaultFields(ModuleOp module) {
  SchemeFields fields;
  SchemeSettings settings;
  // The options are ints so that a negative width reaches this located
  // diagnostic instead of failing in the option parser; the valid widths
  // are checked with the other fields (QuantSchemeAttr::verify) below.
  if (wBits < 0 || aBits < 0) {
    module.emitError() << "qrealign-assign-quant: "
                       << (wBits < 0 ? "w-bits" : "a-bits")
                       << " must be positive, got "
                       << (wBits < 0 ? int(wBits) : int(aBits));
    return failure();
  }
  settings.wBits = unsigned(wBits);
  settings.aBits = unsigned(aBits);
  settings.symmetric = symmetric;
  if (aSymmetric)
    settings.actSymmetric = true;
  // The string options share the override parser and its messages.
  auto parseSetting = [&](StringRef key, StringRef value) -> LogicalResult {
    if (llvm::Error err =
            parseSchemeSetting((key + "=" + value).str(), settings)) {
      module.emitError() << "qrealign-assign-quant: "
                         << llvm::toString(std::move(err));
      return failure();
    }
    return success();
  };
  if (!granularity.empty() && failed(parseSetting("granularity", granularity)))
    return failure();
  // 0 is "unset" internally; given explicitly it is a mistake, not a way to
  // ask for per-channel scales.
  if (groupSize.hasValue() && groupSize <= 0) {
    module.emitError() << "qrealign-assign-quant: group-size must be a power "
                          "of two >= 8 (omit it for per-channel scales), got "
                       << static_cast<int64_t>(groupSize);
    return failure();
  }
  if (groupSize > 0)
    settings.groupSize = groupSize;
  if (failed(parseSetting("act", act)))
    return failure();
  settings.applyTo(fields);
  // Check the default once here, so that a bad option is reported once at
  // the module rather than once per linear.
  if (failed(QuantSchemeAttr::verify(
          [&] {
            return module.emitError() << "qrealign-assign-quant: invalid "
                                         "default scheme: ";
          },
          fields.wBits, fields.aBits, fields.granularity, fields.groupSize,
          fields.symmetric, fields.act, fields.actSymmetric)))
    return failure();
  return fields;
}

void AssignQuantPass::runOnOperation() {
  ModuleOp module = getOperation();
  FailureOr<SchemeFields> defaults = defaultFields(module);
  if (failed(defaults))
    return signalPassFailure();

  // Parse selectors and overrides up front, reporting every bad entry.
  bool ok = true;
  llvm::StringSet<> reported; // "skip=," has two empty entries: say it once
  auto parseAll = [&](const auto &texts, auto parse, StringRef option,
                      auto &parsed) {
    for (const std::string &text : texts) {
      auto value = parse(text);
      if (!value) {
        std::string msg =
            (option + ": " + llvm::toString(value.takeError())).str();
        if (reported.insert(msg).second)
          module.emitError() << "qrealign-assign-quant: " << msg;
        ok = false;
        continue;
      }
      parsed.push_back(std::move(*value));
    }
  };
  SmallVector<LinearSelector> skips;
  parseAll(skip, parseLinearSelector, "skip", skips);
  SmallVector<QuantOverride> parsedOverrides;
  parseAll(overrides, parseQuantOverride, "overrides", parsedOverrides);
  if (!ok)
    return signalPassFailure();

  // Collect linears and their fusion groups: the linears of one block with
  // the same `fusion` name; a linear without one is a group of its own.
  SmallVector<LinearInfo> linears;
  llvm::MapVector<std::pair<Block *, StringAttr>, unsigned> groupOfName;
  unsigned numGroups = 0;
  module.walk([&](LinearOp op) {
    unsigned group = numGroups;
    if (StringAttr fusion = op.getFusionAttr()) {
      auto [it, inserted] =
          groupOfName.try_emplace({op->getBlock(), fusion}, numGroups);
      group = it->second;
    }
    numGroups += group == numGroups;
    linears.push_back({op, op.getLayerIndex(), group});
  });

  // Groups touched by a selector; reports selectors that match nothing.
  auto groupsMatching = [&](const LinearSelector &sel, StringRef what,
                            llvm::BitVector &groups) -> bool {
    groups.clear();
    groups.resize(numGroups, false);
    bool any = false;
    for (const LinearInfo &l : linears) {
      LinearOp op = l.op;
      if (sel.matches(l.layer, op.getName())) {
        groups.set(l.group);
        any = true;
      }
    }
    if (!any)
      module.emitError() << "qrealign-assign-quant: " << what << " '"
                         << sel.text << "' matches no linear ("
                         << describeLinears(linears) << ")";
    return any;
  };

  // Per-group fields: every application is group-wide, so the members of a
  // group agree at every step.
  SmallVector<SchemeFields> groupFields(numGroups, *defaults);
  SmallVector<SmallVector<StringRef>> appliedOverrides(numGroups);
  llvm::BitVector groups;
  for (const QuantOverride &ov : parsedOverrides) {
    if (!groupsMatching(ov.selector, "override", groups)) {
      ok = false;
      continue;
    }
    for (unsigned g : groups.set_bits()) {
      ov.settings.applyTo(groupFields[g]);
      appliedOverrides[g].push_back(ov.text);
    }
  }
  llvm::BitVector skipped(numGroups, false);
  for (const LinearSelector &sel : skips) {
    if (!groupsMatching(sel, "skip selector", groups)) {
      ok = false;
      continue;
    }
    skipped |= groups;
  }
  if (!ok)
    return signalPassFailure();

  // Build every scheme before touching the IR, so a failure changes nothing.
  // A problem shared by many linears (a bad override, a group size that does
  // not divide a common width) is reported once, at the first of them.
  SmallVector<QuantSchemeAttr> schemes(linears.size());
  MLIRContext *ctx = &getContext();
  SmallVector<SchemeFields> badFields;
  // (group size, input features) -> linears it does not divide.
  llvm::MapVector<std::pair<int64_t, int64_t>, SmallVector<LinearOp>>
      indivisible;
  for (auto [i, l] : llvm::enumerate(linears)) {
    LinearOp op = l.op;
    if (skipped[l.group])
      continue;
    const SchemeFields &f = groupFields[l.group];
    if (llvm::is_contained(badFields, f))
      continue;
    ArrayRef<StringRef> setBy = appliedOverrides[l.group];
    auto emitErr = [&]() {
      InFlightDiagnostic diag = op.emitError()
                                << "qrealign-assign-quant: cannot quantize '"
                                << op.getName() << "': ";
      if (!setBy.empty())
        diag.attachNote() << "scheme built from the default and override(s) '"
                          << llvm::join(setBy, "', '") << "'";
      return diag;
    };
    QuantSchemeAttr scheme = QuantSchemeAttr::getChecked(
        emitErr, ctx, f.wBits, f.aBits, f.granularity, f.groupSize, f.symmetric,
        f.act, f.actSymmetric);
    if (!scheme) {
      badFields.push_back(f);
      ok = false;
      continue;
    }
    int64_t k = op.getInFeatures();
    if (f.granularity == Granularity::PerGroup && !ShapedType::isDynamic(k) &&
        k % f.groupSize != 0) {
      indivisible[{f.groupSize, k}].push_back(op);
      ok = false;
      continue;
    }
    schemes[i] = scheme;
  }
  for (auto &[key, ops] : indivisible) {
    llvm::SetVector<StringRef> names;
    for (LinearOp op : ops)
      names.insert(op.getName());
    ops.front().emitError()
        << "qrealign-assign-quant: group-size " << key.first
        << " does not divide the " << key.second << " input features of "
        << ops.size() << " linear(s): " << llvm::join(names, ", ")
        << "; choose a group-size that divides " << key.second
        << ", or override or skip these linears";
  }
  if (!ok)
    return signalPassFailure();

  for (auto [l, scheme] : llvm::zip_equal(linears, schemes)) {
    if (scheme) {
      l.op.setQuantAttr(scheme);
      ++numQuantized;
    } else {
      l.op.removeQuantAttr();
      ++numSkipped;
    }
  }
}
