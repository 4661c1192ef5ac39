//===- QuantOptions.cpp - selectors and overrides for schemes -------------===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Dialect/QRealign/Transforms/QuantOptions.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringExtras.h"

#include <algorithm>

using namespace mlir;
using namespace mlir::qrealign;
using llvm::Error;
using llvm::Expected;
using llvm::StringRef;

static Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

static bool isIdentifier(StringRef s) {
  if (s.empty() || !(llvm::isAlpha(s.front()) || s.front() == '_'))
    return false;
  return llvm::all_of(s, [](char c) { return llvm::isAlnum(c) || c == '_'; });
}

/// Parses a non-negative decimal integer that is all of `s`.
static std::optional<int64_t> parseIndex(StringRef s) {
  int64_t v;
  if (s.empty() || !llvm::all_of(s, llvm::isDigit) || s.getAsInteger(10, v))
    return std::nullopt;
  return v;
}

bool LinearSelector::matches(std::optional<int64_t> layer,
                             StringRef linearName) const {
  if (layers) {
    if (!layer || *layer < layers->first || *layer > layers->second)
      return false;
  }
  return name.empty() || name == linearName;
}

Expected<LinearSelector> mlir::qrealign::parseLinearSelector(StringRef text) {
  LinearSelector sel;
  sel.text = text.str();
  StringRef s = text.trim();
  auto bad = [&](const llvm::Twine &why) {
    return makeError("invalid selector '" + text + "': " + why +
                     " (expected *, NAME, L<i>, L<i>-<j>, L<i>.NAME or "
                     "L<i>-<j>.NAME)");
  };
  if (s.empty())
    return bad("empty");
  if (s == "*")
    return sel;
  // A leading `L<digit>` starts a layer range.
  if (s.size() >= 2 && s[0] == 'L' && llvm::isDigit(s[1])) {
    auto [range, rest] = s.drop_front().split('.');
    auto [firstText, lastText] = range.split('-');
    std::optional<int64_t> first = parseIndex(firstText);
    std::optional<int64_t> last =
        range.contains('-') ? parseIndex(lastText) : first;
    if (!first || !last)
      return bad("layer range must be L<i> or L<i>-<j> with decimal indices");
    if (*last < *first)
      return bad("layer range is empty (" + llvm::Twine(*first) + " > " +
                 llvm::Twine(*last) + ")");
    sel.layers = std::make_pair(*first, *last);
    if (!s.contains('.'))
      return sel;
    if (!isIdentifier(rest))
      return bad("'" + rest + "' is not a linear name");
    sel.name = rest.str();
    return sel;
  }
  if (!isIdentifier(s))
    return bad("'" + s + "' is not a linear name");
  sel.name = s.str();
  return sel;
}

std::optional<Granularity>
mlir::qrealign::parseGranularityOption(StringRef text) {
  std::string norm = text.str();
  std::replace(norm.begin(), norm.end(), '-', '_');
  return symbolizeGranularity(norm);
}

std::optional<ActQuantMode> mlir::qrealign::parseActOption(StringRef text) {
  return symbolizeActQuantMode(text);
}

void SchemeSettings::applyTo(SchemeFields &f) const {
  if (wBits) {
    f.wBits = *wBits;
    if (*wBits == 16) {
      // Unquantized weights: weight-only fields go back to their defaults.
      f.granularity = Granularity::PerChannel;
      f.groupSize = 0;
      f.symmetric = false;
    }
  }
  if (aBits) {
    f.aBits = *aBits;
    // Unquantized activations: their only field goes back to its default.
    if (*aBits == 16)
      f.actSymmetric = false;
  }
  if (granularity) {
    f.granularity = *granularity;
    if (*granularity != Granularity::PerGroup && !groupSize)
      f.groupSize = 0;
  }
  if (groupSize) {
    f.groupSize = *groupSize;
    if (*groupSize > 0 && !granularity)
      f.granularity = Granularity::PerGroup;
    if (*groupSize == 0 && !granularity &&
        f.granularity == Granularity::PerGroup)
      f.granularity = Granularity::PerChannel;
  }
  if (symmetric)
    f.symmetric = *symmetric;
  if (act)
    f.act = *act;
  if (actSymmetric)
    f.actSymmetric = *actSymmetric;
}

Error mlir::qrealign::parseSchemeSetting(StringRef text,
                                         SchemeSettings &settings) {
  auto [key, value] = text.split('=');
  key = key.trim();
  value = value.trim();
  if (!text.contains('=') || value.empty())
    return makeError("setting '" + text + "' must be KEY=VALUE");
  auto parseUnsigned = [&](std::optional<unsigned> &out) -> Error {
    unsigned v;
    if (value.getAsInteger(10, v))
      return makeError(key + " must be an integer, got '" + value + "'");
    out = v;
    return Error::success();
  };
  if (key == "w-bits")
    return parseUnsigned(settings.wBits);
  if (key == "a-bits")
    return parseUnsigned(settings.aBits);
  if (key == "group-size") {
    int64_t v;
    if (value.getAsInteger(10, v) || v < 0)
      return makeError("group-size must be a non-negative integer, got '" +
                       value + "'");
    settings.groupSize = v;
    return Error::success();
  }
  if (key == "granularity") {
    settings.granularity = parseGranularityOption(value);
    if (!settings.granularity)
      return makeError("granularity must be per-tensor, per-channel or "
                       "per-group, got '" +
                       value + "'");
    return Error::success();
  }
  if (key == "symmetric" || key == "a-symmetric") {
    std::optional<bool> &out =
        key == "symmetric" ? settings.symmetric : settings.actSymmetric;
    if (value == "true" || value == "1")
      out = true;
    else if (value == "false" || value == "0")
      out = false;
    else
      return makeError(key + " must be true or false, got '" + value + "'");
    return Error::success();
  }
  if (key == "act") {
    settings.act = parseActOption(value);
    if (!settings.act)
      return makeError("act must be dynamic or static, got '" + value + "'");
    return Error::success();
  }
  return makeError("unknown key '" + key +
                   "' (known: w-bits, a-bits, granularity, group-size, "
                   "symmetric, act, a-symmetric)");
}

Expected<QuantOverride> mlir::qrealign::parseQuantOverride(StringRef text) {
  QuantOverride ov;
  ov.text = text.str();
  llvm::SmallVector<StringRef> parts;
  text.split(parts, ':');
  if (parts.size() < 2)
    return makeError("override '" + text +
                     "' must be SELECTOR:KEY=VALUE[:KEY=VALUE...]");
  Expected<LinearSelector> sel = parseLinearSelector(parts.front());
  if (!sel)
    return sel.takeError();
  ov.selector = std::move(*sel);
  for (StringRef part : llvm::drop_begin(parts))
    if (Error err = parseSchemeSetting(part, ov.settings))
      return makeError("in override '" + text +
                       "': " + llvm::toString(std::move(err)));
  return ov;
}
