//===- Manifest.h - The parameter manifest of compiled code -----*- C++ -*-===//
//
// Part of the qrealign project.
//
// The runtime's reading of what buildParamManifest
// (qrealign/Conversion/Pipelines/Pipelines.h) writes: which tensor of which
// file every parameter argument of a compiled function binds, and the
// signature of each function. Every field is checked; an error names the
// field ("ORIGIN: functions.prefill.params[3].dtype: expected string").
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_COMPILED_MANIFEST_H
#define QREALIGN_COMPILED_MANIFEST_H

#include "llvm/Support/Error.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace qrealign {
struct ManifestTensor {
  /// MLIR's spelling of the element type: f32, bf16, ui8, i64, i1, ...
  std::string dtype;
  /// std::nullopt: a dynamic size.
  std::vector<std::optional<int64_t>> shape;
};

struct ManifestParam : ManifestTensor {
  int64_t argument = 0;
  std::string symbol, scope, tensor, storage;
};

struct ManifestFunction {
  /// The arguments before the parameters.
  int64_t inputs = 0;
  std::vector<ManifestTensor> arguments, results;
  /// In argument order: inputs, inputs + 1, ...
  std::vector<ManifestParam> params;
};

struct Manifest {
  /// Scope name → file, as the module recorded it (relative to the
  /// object's directory when qrealign-compile wrote it).
  std::map<std::string, std::string> scopes;
  std::map<std::string, ManifestFunction> functions;
};

/// Parses and checks `text`: the format tag, the version the runtime
/// reads, static parameter shapes, parameters numbered from `inputs` on
/// consecutively, and every parameter's scope listed. `origin` prefixes
/// errors.
llvm::Expected<Manifest> parseManifest(llvm::StringRef text,
                                       llvm::StringRef origin);
} // namespace qrealign

#endif // QREALIGN_COMPILED_MANIFEST_H
