//===- CompressedTensors.h - compressed-tensors quantization configs -*- C++
//-*-===//
//
// Part of the qrealign project.
//
// The `quantization_config` of a Hugging Face directory in the
// compressed-tensors format (what llm-compressor writes and vLLM loads):
// the subset qrealign reads and writes, in one place for the importer and
// the exporter. Integer weights of 4 or 8 bits per channel or per group,
// symmetric or with zero points; input activations either float or 8-bit
// with dynamic per-token ranges. Formats: `pack-quantized` (weight-only:
// `weight_packed` i32 words, `weight_scale`, `weight_shape`, packed
// `weight_zero_point`) and `int-quantized` (W8A8: `weight` i8, `weight_scale`,
// `weight_zero_point` i8).
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_CHECKPOINT_COMPRESSEDTENSORS_H
#define QREALIGN_CHECKPOINT_COMPRESSEDTENSORS_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace qrealign {
/// The storage formats qrealign reads and writes.
inline constexpr llvm::StringLiteral kPackQuantized = "pack-quantized";
inline constexpr llvm::StringLiteral kIntQuantized = "int-quantized";

/// One scheme of `config_groups`.
struct CTScheme {
  int weightBits = 0;           // 4 or 8
  bool weightSymmetric = false; // false: weight_zero_point is stored
  int64_t groupSize = 0;        // 0: strategy "channel"; else "group"
  /// 0: float input activations; 4 or 8: integers, dynamic, per token.
  int actBits = 0;
  bool actSymmetric = false;

  bool operator==(const CTScheme &o) const {
    return weightBits == o.weightBits && weightSymmetric == o.weightSymmetric &&
           groupSize == o.groupSize && actBits == o.actBits &&
           actSymmetric == o.actSymmetric;
  }
  /// The format that stores this scheme, as compressed-tensors infers it:
  /// pack-quantized for weight-only 4 or 8 bits, int-quantized (one level
  /// per byte) once activations are quantized (W8A8, W4A8, W4A4); an error
  /// for other widths.
  llvm::Expected<llvm::StringRef> getFormat() const;
  /// `{"weights": ..., "input_activations": ..., "targets": ...}`.
  llvm::json::Object toJSON(std::vector<std::string> targets) const;
};

/// One entry of `config_groups`.
struct CTGroup {
  std::string name;
  /// "Linear" (every linear), "re:REGEX" (re.match on the module name) or
  /// a module name.
  std::vector<std::string> targets;
  CTScheme scheme;
};

struct CompressedTensorsConfig {
  std::string format;
  std::vector<CTGroup> groups;
  /// Modules left in floating point: names or "re:REGEX".
  std::vector<std::string> ignore;

  /// The group of linear module `name` (e.g. "model.layers.0.mlp.up_proj"),
  /// or nullptr if it is ignored or no group targets it; an error if two
  /// groups target it.
  llvm::Expected<const CTGroup *> match(llvm::StringRef name) const;
  /// The `quantization_config` object.
  llvm::json::Object toJSON() const;
};

/// Parses a config.json object's `quantization_config`: std::nullopt when
/// there is none, an error (naming `origin` and the key) for a
/// quantization method, format, status or scheme qrealign does not read.
llvm::Expected<std::optional<CompressedTensorsConfig>>
parseCompressedTensorsConfig(const llvm::json::Object &config,
                             llvm::StringRef origin);
} // namespace qrealign

#endif // QREALIGN_CHECKPOINT_COMPRESSEDTENSORS_H
