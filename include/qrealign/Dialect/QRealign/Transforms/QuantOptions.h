//===- QuantOptions.h - selectors and overrides for schemes -----*- C++ -*-===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//
//
// The small languages of qrealign-assign-quant's options: linear selectors
// (`down_proj`, `L0-3`, `L5.q_proj`, `*`) and scheme overrides
// (`SELECTOR:KEY=VALUE[:KEY=VALUE...]`). Pure C++, unit-tested.
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_DIALECT_QREALIGN_TRANSFORMS_QUANTOPTIONS_H
#define QREALIGN_DIALECT_QREALIGN_TRANSFORMS_QUANTOPTIONS_H

#include "qrealign/Dialect/QRealign/IR/QRealign.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>

namespace mlir::qrealign {
/// Selects linears by layer range and name.
struct LinearSelector {
  /// Inclusive layer range; unset = any layer, including linears outside
  /// layers (such as lm_head).
  std::optional<std::pair<int64_t, int64_t>> layers;
  /// Linear name; empty = any name.
  std::string name;
  /// The text the selector was parsed from, for diagnostics.
  std::string text;

  bool matches(std::optional<int64_t> layer, llvm::StringRef linearName) const;
};

/// Parses `*`, `NAME`, `L<i>`, `L<i>-<j>`, `L<i>.NAME` or `L<i>-<j>.NAME`.
llvm::Expected<LinearSelector> parseLinearSelector(llvm::StringRef text);

/// The fields of a #qrealign.quant scheme as plain values.
struct SchemeFields {
  unsigned wBits = 8;
  unsigned aBits = 16;
  Granularity granularity = Granularity::PerChannel;
  int64_t groupSize = 0;
  bool symmetric = false;
  ActQuantMode act = ActQuantMode::Dynamic;
  bool actSymmetric = false;

  bool operator==(const SchemeFields &o) const {
    return wBits == o.wBits && aBits == o.aBits &&
           granularity == o.granularity && groupSize == o.groupSize &&
           symmetric == o.symmetric && act == o.act &&
           actSymmetric == o.actSymmetric;
  }
};

/// Settings given by one override; unset fields keep their value.
struct SchemeSettings {
  std::optional<unsigned> wBits, aBits;
  std::optional<Granularity> granularity;
  std::optional<int64_t> groupSize;
  std::optional<bool> symmetric;
  std::optional<ActQuantMode> act;
  std::optional<bool> actSymmetric;

  /// Applies the settings to `fields`. Setting a positive group size without
  /// a granularity implies per_group; setting a granularity other than
  /// per_group without a group size clears the group size; setting
  /// w-bits=16 resets the weight-only fields to their defaults unless they
  /// are given too.
  void applyTo(SchemeFields &fields) const;
};

/// Parses one `KEY=VALUE` setting into `settings`. Keys: w-bits, a-bits,
/// granularity, group-size, symmetric, act.
llvm::Error parseSchemeSetting(llvm::StringRef text, SchemeSettings &settings);

/// `SELECTOR:KEY=VALUE[:KEY=VALUE...]`.
struct QuantOverride {
  LinearSelector selector;
  SchemeSettings settings;
  std::string text;
};

llvm::Expected<QuantOverride> parseQuantOverride(llvm::StringRef text);

/// Parses `per-tensor`/`per_tensor`, `per-channel`, `per-group`.
std::optional<Granularity> parseGranularityOption(llvm::StringRef text);
/// Parses `dynamic` or `static`.
std::optional<ActQuantMode> parseActOption(llvm::StringRef text);
} // namespace mlir::qrealign

#endif // QREALIGN_DIALECT_QREALIGN_TRANSFORMS_QUANTOPTIONS_H
