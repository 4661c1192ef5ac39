//===- Quantizer.h - Round-to-nearest weight quantization -------*- C++ -*-===//
//
// Part of the qrealign project.
//
// The one definition of min-max round-to-nearest weight quantization and of
// the packed storage it produces, shared by the pass that materializes it
// (qrealign-quantize-weights), the engine lowering that reads it back, and
// the engine's fake-quantize (lib/Engine/Torch, which computes the same
// formulas with libtorch; test/Unit/Quant checks the numbers).
//
// Levels are signed, q in [-2^(b-1), 2^(b-1) - 1], and w = (q - z) * s:
//   - symmetric: s = max|w| / (2^(b-1) - 1), z = 0;
//   - asymmetric: the range [min(w, 0), max(w, 0)] (it always holds 0, as
//     in compressed-tensors), s = (max - min) / (2^b - 1),
//     z = round(-min / s) - 2^(b-1).
// s is at least 1e-8; rounding is to nearest, ties to even (as torch.round);
// arithmetic is f32. Learnable weight clipping (OmniQuant's LWC) scales the
// range: [sigmoid(c_min) * min(w, 0), sigmoid(c_max) * max(w, 0)], or
// sigmoid(c_max) * max|w| when symmetric, with one logit per range.
//
// Storage (byte-identical to compressed-tensors' pack-quantized layout for
// 4 bits): `i8` [N, K] two's complement for 8 bits (5..8); for 2..4 bits,
// `u8` [N, K/2] with two values per byte along the input dimension, element
// 2j in the low nibble, stored offset-binary (q + 8). Scales are f32
// [N, G] (G = K / group_size; [N, 1] per channel, [1, 1] per tensor); zero
// points i8 of the same shape, for asymmetric schemes.
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_QUANT_QUANTIZER_H
#define QREALIGN_QUANT_QUANTIZER_H

#include "llvm/ADT/ArrayRef.h"

#include <cstdint>
#include <optional>
#include <vector>

namespace qrealign {
/// What to quantize: `bits` in 2..8; `groupSize` 0 for per channel, -1 for
/// per tensor, else the input channels per group (it divides K).
struct WeightQuantSpec {
  int bits = 8;
  int64_t groupSize = 0;
  bool symmetric = false;
  /// Clipping logits, one per range ([scaleRows, groups], row-major), or
  /// empty for factor 1. `clipMin` is not used when symmetric.
  llvm::ArrayRef<float> clipMax, clipMin;
};

/// The clipping factor of logit `c`: 1 / (1 + exp(-c)), in f32.
float clipFactor(float c);

/// A quantized [N, K] weight, unpacked.
struct QuantizedWeight {
  int64_t rows = 0, cols = 0;        // N, K
  int64_t scaleRows = 0, groups = 0; // scale shape [scaleRows, groups]
  std::vector<int8_t> q;             // [N, K], signed levels
  std::vector<float> scale;          // [scaleRows, groups]
  std::vector<int8_t> zeroPoint;     // [scaleRows, groups]; empty if symmetric
};

/// Quantizes `w` ([N, K], row-major f32).
QuantizedWeight quantizeWeight(llvm::ArrayRef<float> w, int64_t n, int64_t k,
                               const WeightQuantSpec &spec);

/// Levels of `w` on given scales and zero points (`zeroPoint` empty when
/// symmetric), [scaleRows, groups] as in dequantizeWeight:
/// q = clamp(round(w / s) + z, -2^(b-1), 2^(b-1) - 1).
std::vector<int8_t> quantizeOnGrid(llvm::ArrayRef<float> w, int64_t n,
                                   int64_t k, int bits,
                                   llvm::ArrayRef<float> scale,
                                   llvm::ArrayRef<int8_t> zeroPoint,
                                   int64_t scaleRows, int64_t groups);

/// Storage formats of float tensors.
enum class FloatFormat { F32, F16, BF16 };

/// `count` elements of `format` at `data` (little-endian) as f32: exact.
std::vector<float> widenToF32(const void *data, size_t count,
                              FloatFormat format);

/// How a weight's levels are stored: one two's-complement byte per level
/// (`i8`, any width; compressed-tensors' `int-quantized`), or two
/// offset-binary levels per byte, the even one in the low nibble (`ui8`,
/// 2..4 bits).
enum class LevelStorage { Bytes, Nibbles };

/// True if qrealign stores `bits`-bit levels two per byte (2..4 bits).
inline bool isNibblePacked(int bits) { return bits <= 4; }

/// The storage bytes of `q` ([N, K]): i8 for 5..8 bits, nibbles for 2..4.
std::vector<uint8_t> packWeight(llvm::ArrayRef<int8_t> q, int64_t n, int64_t k,
                                int bits);

/// Levels [N, K] from storage of either kind: the inverse of packWeight.
std::vector<int8_t> unpackWeight(llvm::ArrayRef<uint8_t> packed, int64_t n,
                                 int64_t k, LevelStorage storage);

/// The index of the first of `q` outside the signed range of `bits` bits,
/// [-2^(bits-1), 2^(bits-1) - 1], if any: levels of fewer than 8 bits held
/// one per byte, as an `int-quantized` checkpoint stores them, are only
/// trusted after this check.
std::optional<size_t> findLevelOutOfRange(llvm::ArrayRef<int8_t> q, int bits);

/// compressed-tensors' `pack_to_int32`: levels of `bits` (4 or 8) bits,
/// [rows, cols] row-major, stored offset-binary (q + 2^(bits-1)) and packed
/// 32 / bits to a 32-bit word, element i of a word at bit bits * i. Along
/// the last axis (`alongRows` false) the result is [rows, ceil(cols / f)];
/// along the first (zero points, `alongRows` true) [ceil(rows / f), cols],
/// with f = 32 / bits. Padding levels are stored as 0.
std::vector<int32_t> packInt32(llvm::ArrayRef<int8_t> q, int64_t rows,
                               int64_t cols, int bits, bool alongRows);

/// Levels from words packed by packInt32 (the same `rows`, `cols`, `bits`
/// and axis); padding is dropped.
std::vector<int8_t> unpackInt32(llvm::ArrayRef<int32_t> words, int64_t rows,
                                int64_t cols, int bits, bool alongRows);

/// w = (q - z) * s in f32, [N, K]; `zeroPoint` may be empty (symmetric).
/// `scale` and `zeroPoint` are [scaleRows, groups] with scaleRows 1 or N
/// and groups dividing K.
std::vector<float> dequantizeWeight(llvm::ArrayRef<int8_t> q, int64_t n,
                                    int64_t k, llvm::ArrayRef<float> scale,
                                    llvm::ArrayRef<int8_t> zeroPoint,
                                    int64_t scaleRows, int64_t groups);

/// W diag(s) in place: column c of the [N, K] weight `w` times `s[c]`. The
/// weight side of a smoothing (qrealign.smooth_weight), as the engine
/// computes it and qrealign-fold-smoothing folds it.
void scaleColumns(llvm::MutableArrayRef<float> w, int64_t n, int64_t k,
                  llvm::ArrayRef<float> s);
} // namespace qrealign

#endif // QREALIGN_QUANT_QUANTIZER_H
