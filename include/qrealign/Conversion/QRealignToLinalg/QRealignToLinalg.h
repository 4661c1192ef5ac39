//===- QRealignToLinalg.h - qrealign to linalg on tensors -------*- C++ -*-===//
//
// Part of the qrealign project.
//
// The patterns of convert-qrealign-to-linalg, and the building blocks of
// its integer path, which the differential kernel tests call directly to
// compare the intermediate values (quantized activations, i32
// accumulators) bit for bit with a scalar reference.
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_CONVERSION_QREALIGNTOLINALG_QREALIGNTOLINALG_H
#define QREALIGN_CONVERSION_QREALIGNTOLINALG_QREALIGNTOLINALG_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::qrealign {
/// The patterns of convert-qrealign-to-linalg (all but the quantized
/// linears, see populateQRealignQuantizedLinearPatterns). `narrowLevels`:
/// see the pass's `narrow-levels`.
void populateQRealignToLinalgPatterns(RewritePatternSet &patterns,
                                      bool narrowLevels = false);

/// The linears on `qrealign.dequantize`d weights: weight-only linears over
/// packed storage (one contraction over the storage units for at most
/// `packedRowsLimit` rows of input, decided at run time when the rows are
/// dynamic; the generic form for more) and the integer path of those with
/// quantized activations (its packed form for at most `packedIntRowsLimit`
/// rows). They read the `qrealign.dequantize` producing the weight, so they
/// run before that op is lowered.
void populateQRealignQuantizedLinearPatterns(RewritePatternSet &patterns,
                                             int64_t packedRowsLimit = 4,
                                             int64_t packedIntRowsLimit = 2,
                                             bool narrowLevels = false);

/// Bufferization of `tensor.bitcast` (to a view of the same buffer), which
/// the lowering of packed `ui8` storage needs and MLIR 22 lacks.
void registerBitcastBufferizationModel(DialectRegistry &registry);

namespace linalg_lowering {
/// Per-row dynamic quantization of `x` ([M, K], f32) to `bits` (2..8)
/// signed levels, as the engine's activation quantizer. Asymmetric:
///   levels i8 [M, K]: clamp(roundeven(x / s) + z, 0, 2^b - 1) - 2^(b-1)
///   scale f32 [M]: max((max(x, 0) - min(x, 0)) / (2^b - 1), 1e-8)
///   zeroPoint i32 [M]: roundeven(-min(x, 0) / s) - 2^(b-1)
/// Symmetric (`symmetric`): s = max(max|x|, 1e-8) / (2^(b-1) - 1), z = 0,
/// levels clamp(roundeven(x / s), -2^(b-1), 2^(b-1) - 1).
struct RowQuantized {
  Value levels;
  Value scale;
  Value zeroPoint;
};
RowQuantized buildRowQuantization(OpBuilder &b, Location loc, Value x,
                                  int64_t bits, bool symmetric = false);

/// Signed levels i8 [N, K] from `packed` storage: i8 [N, K] for 5..8 bits
/// (returned as is), ui8 [N, K / 2] for 2..4 bits (low nibble first,
/// offset-binary), or compressed-tensors' i32 words [N, K / f] (f = 32 /
/// bits levels per word, offset-binary, element i at bit bits * i). With
/// `narrow`, bytes are read as their i4 levels (see
/// convert-qrealign-to-linalg's `narrow-levels`: only qrealign-lower-to-cpu
/// binds those).
Value buildUnpackLevels(OpBuilder &b, Location loc, Value packed, int64_t bits,
                        bool narrow = false);

/// Signed zero points i8 [rows, G] from a dequantize's `zeroPoint`: i8
/// (returned as is) or i32 words packed along the rows ([ceil(rows / f),
/// G]).
Value buildUnpackZeroPoints(OpBuilder &b, Location loc, Value zeroPoint,
                            int64_t bits, int64_t rows);

/// acc[m, n, g] = Σ_j a[m, g * J + j] · w[n, g * J + j] (i8 × i8 → i32)
/// with J = K / groups: `a` is [M, K], `w` is [N, K].
Value buildGroupedIntMatmul(OpBuilder &b, Location loc, Value a, Value w,
                            int64_t groups);

/// sums[r, g] = Σ_j q[r, g * J + j] in i32, for `q` i8 [R, K].
Value buildGroupRowSums(OpBuilder &b, Location loc, Value q, int64_t groups);

/// The zero-point-corrected accumulators of the integer path read straight
/// from packed storage: t[m, n, g] = Σ_j (a[m, g·J + j] − za[m]) ·
/// (w[n, g·J + j] − zw[n, g]) in i32 (J = K / groups), w's levels taken
/// from the storage units in the contraction (`packed`: ui8 bytes of 8 /
/// bits levels or i32 words of 32 / bits, as buildUnpackLevels reads them;
/// loops (m, n, g, j, b), units innermost). `a` is i8 [M, K], `za` i32 [M],
/// `zw` (null for none) i8 [R, G] with R = 1 or N. Equal to acc − zw·Σa −
/// za·Σw + J·za·zw of the unpacked form: the same integer. With `narrow`,
/// bytes are read as their i4 levels instead, loops (m, n, g, j).
Value buildPackedCenteredIntMatmul(OpBuilder &b, Location loc, Value a,
                                   Value za, Value packed, Value zw,
                                   int64_t bits, int64_t groups,
                                   bool narrow = false);
} // namespace linalg_lowering
} // namespace mlir::qrealign

#endif // QREALIGN_CONVERSION_QREALIGNTOLINALG_QREALIGNTOLINALG_H
