//===- QRealignToLinalg.cpp - qrealign to linalg on tensors ---------------===//
//
// Part of the qrealign project.
//
// Every op becomes linalg.generic ops on tensors in destination-passing
// style, with tensor reshapes between them. The quantized linears take the
// integer path: per-token dynamic quantization of the activations, an
// i8 x i8 -> i32 contraction per weight scale group, and an epilogue that
// applies the zero points as row-sum corrections and both scales. What is
// computed, and in which order, is written in Passes.td; the differential
// kernel tests (test/Unit/Conversion) hold it to a scalar reference.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Conversion/QRealignToLinalg/QRealignToLinalg.h"
#include "qrealign/Conversion/Passes.h"
#include "qrealign/Dialect/QRealign/IR/QRealign.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/DialectConversion.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <limits>

namespace mlir::qrealign {
#define GEN_PASS_DEF_CONVERTQREALIGNTOLINALGPASS
#include "qrealign/Conversion/Passes.h.inc"
} // namespace mlir::qrealign

using namespace mlir;
using namespace mlir::qrealign;
using namespace mlir::qrealign::linalg_lowering;

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

static RankedTensorType tensorType(Value v) {
  return cast<RankedTensorType>(v.getType());
}

/// A tensor of `sizes` filled with `value` (the init of a reduction).
static Value filledTensor(OpBuilder &b, Location loc,
                          ArrayRef<OpFoldResult> sizes, TypedAttr value) {
  Value init = tensor::EmptyOp::create(b, loc, sizes, value.getType());
  Value c = arith::ConstantOp::create(b, loc, value);
  return linalg::FillOp::create(b, loc, c, init).getResult(0);
}

static Value emptyTensor(OpBuilder &b, Location loc,
                         ArrayRef<OpFoldResult> sizes, Type element) {
  return tensor::EmptyOp::create(b, loc, sizes, element);
}

/// `v` converted to the float type `to` (exact widening or rounding).
static Value castFloat(OpBuilder &b, Location loc, Value v, Type to) {
  Type from = v.getType();
  if (from == to)
    return v;
  if (from.getIntOrFloatBitWidth() < to.getIntOrFloatBitWidth())
    return arith::ExtFOp::create(b, loc, to, v);
  return arith::TruncFOp::create(b, loc, to, v);
}

static SmallVector<utils::IteratorType> iterators(unsigned parallel,
                                                  unsigned reduction = 0) {
  SmallVector<utils::IteratorType> it(parallel, utils::IteratorType::parallel);
  it.append(reduction, utils::IteratorType::reduction);
  return it;
}

/// The map (d0, ..., d{n-1}) -> (d{dims[0]}, d{dims[1]}, ...).
static AffineMap pick(MLIRContext *ctx, unsigned n, ArrayRef<unsigned> dims) {
  SmallVector<AffineExpr> exprs;
  for (unsigned d : dims)
    exprs.push_back(getAffineDimExpr(d, ctx));
  return AffineMap::get(n, 0, exprs, ctx);
}

static SmallVector<unsigned> range(unsigned begin, unsigned end) {
  SmallVector<unsigned> r;
  for (unsigned i = begin; i < end; ++i)
    r.push_back(i);
  return r;
}

static OpFoldResult dimOf(OpBuilder &b, Location loc, Value v, int64_t i) {
  return tensor::getMixedSize(b, loc, v, i);
}

/// The sizes of `v`'s leading axes (all but the last).
static SmallVector<OpFoldResult> leadingSizes(OpBuilder &b, Location loc,
                                              Value v) {
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, v);
  sizes.pop_back();
  return sizes;
}

/// The loops of a linear: its L leading axes, then `extra` more.
static SmallVector<unsigned> withLead(unsigned lead, ArrayRef<unsigned> extra) {
  SmallVector<unsigned> dims = range(0, lead);
  dims.append(extra.begin(), extra.end());
  return dims;
}

/// `x` [..., C] with its last axis split as `split` (static sizes; the
/// leading axes, dynamic or not, stay as they are).
static Value splitLastAxis(OpBuilder &b, Location loc, Value x,
                           ArrayRef<int64_t> split) {
  RankedTensorType t = tensorType(x);
  int64_t rank = t.getRank();
  SmallVector<int64_t> shape(t.getShape().drop_back());
  shape.append(split.begin(), split.end());
  SmallVector<OpFoldResult> sizes = leadingSizes(b, loc, x);
  for (int64_t v : split)
    sizes.push_back(b.getIndexAttr(v));
  SmallVector<ReassociationIndices> re;
  for (int64_t i = 0; i + 1 < rank; ++i)
    re.push_back({i});
  ReassociationIndices last;
  for (int64_t i = 0; i < int64_t(split.size()); ++i)
    last.push_back(rank - 1 + i);
  re.push_back(last);
  return tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get(shape, t.getElementType()), x, re, sizes);
}

/// The inverse of splitLastAxis: the trailing `count` axes merged into one.
static Value mergeTrailingAxes(OpBuilder &b, Location loc, Value x,
                               int64_t count) {
  int64_t rank = tensorType(x).getRank();
  SmallVector<ReassociationIndices> re;
  for (int64_t i = 0; i < rank - count; ++i)
    re.push_back({i});
  ReassociationIndices last;
  for (int64_t i = rank - count; i < rank; ++i)
    last.push_back(i);
  re.push_back(last);
  return tensor::CollapseShapeOp::create(b, loc, x, re);
}

/// `q` [..., K] as [..., groups, K / groups].
static Value expandGroups(OpBuilder &b, Location loc, Value q, int64_t groups) {
  int64_t k = tensorType(q).getShape().back();
  return splitLastAxis(b, loc, q, {groups, k / groups});
}

/// A scale or zero-point tensor [R, G] (R = 1 or N) and the map that reads
/// it from loops (.., n at `rowDim`, g at `groupDim`, ..): a one-row tensor
/// is collapsed to [G] so that every map stays a projected permutation.
static std::pair<Value, AffineMap> rangeOperand(OpBuilder &b, Location loc,
                                                Value v, unsigned numLoops,
                                                unsigned rowDim,
                                                unsigned groupDim) {
  MLIRContext *ctx = b.getContext();
  if (tensorType(v).getDimSize(0) != 1)
    return {v, pick(ctx, numLoops, {rowDim, groupDim})};
  Value row = tensor::CollapseShapeOp::create(
      b, loc, v, SmallVector<ReassociationIndices>{{0, 1}});
  return {row, pick(ctx, numLoops, {groupDim})};
}

//===----------------------------------------------------------------------===//
// Building blocks of the integer path
//===----------------------------------------------------------------------===//

static Value buildLevelsView(OpBuilder &b, Location loc, Value packed);
static Value buildNibbleLevel(OpBuilder &b, Location loc, Value nibble);

RowQuantized linalg_lowering::buildRowQuantization(OpBuilder &b, Location loc,
                                                   Value x, int64_t bits,
                                                   bool symmetric) {
  MLIRContext *ctx = b.getContext();
  Type f32 = b.getF32Type(), i32 = b.getI32Type(), i8 = b.getI8Type();
  RankedTensorType xType = tensorType(x);
  unsigned lead = xType.getRank() - 1;
  SmallVector<OpFoldResult> rows = leadingSizes(b, loc, x);
  ArrayRef<int64_t> rowShape = xType.getShape().drop_back();
  int64_t half = int64_t(1) << (bits - 1);
  double top = double((int64_t(1) << bits) - 1);
  AffineMap all = pick(ctx, lead + 1, range(0, lead + 1));
  AffineMap row = pick(ctx, lead + 1, range(0, lead));

  Value zero = filledTensor(b, loc, rows, b.getF32FloatAttr(0));
  AffineMap id = pick(ctx, lead, range(0, lead));
  Value scale, zeroPoint;
  if (symmetric) {
    // max|x| per row, s = max(max|x|, 1e-8) / (2^(b-1) - 1), z = 0.
    Value absMax =
        linalg::GenericOp::create(
            b, loc, TypeRange{zero.getType()}, ValueRange{x}, ValueRange{zero},
            {all, row}, iterators(lead, 1),
            [&](OpBuilder &nb, Location nl, ValueRange args) {
              Value v =
                  math::AbsFOp::create(nb, nl, castFloat(nb, nl, args[0], f32));
              linalg::YieldOp::create(
                  nb, nl,
                  ValueRange{arith::MaximumFOp::create(nb, nl, args[1], v)});
            })
            .getResult(0);
    auto ranges = linalg::GenericOp::create(
        b, loc,
        TypeRange{RankedTensorType::get(rowShape, f32),
                  RankedTensorType::get(rowShape, i32)},
        ValueRange{absMax},
        ValueRange{emptyTensor(b, loc, rows, f32),
                   emptyTensor(b, loc, rows, i32)},
        SmallVector<AffineMap>(3, id), iterators(lead),
        [&](OpBuilder &nb, Location nl, ValueRange args) {
          Value floor =
              arith::ConstantOp::create(nb, nl, nb.getF32FloatAttr(1e-8f));
          Value qmax = arith::ConstantOp::create(
              nb, nl, nb.getF32FloatAttr(float(half - 1)));
          Value s = arith::DivFOp::create(
              nb, nl, arith::MaximumFOp::create(nb, nl, args[0], floor), qmax);
          Value z = arith::ConstantOp::create(nb, nl, nb.getI32IntegerAttr(0));
          linalg::YieldOp::create(nb, nl, ValueRange{s, z});
        });
    scale = ranges.getResult(0);
    zeroPoint = ranges.getResult(1);
  }

  // max(x, 0) and min(x, 0) per row: reductions from 0.
  if (!symmetric) {
    auto minmax = linalg::GenericOp::create(
        b, loc, TypeRange{zero.getType(), zero.getType()}, ValueRange{x},
        ValueRange{zero, zero}, {all, row, row}, iterators(lead, 1),
        [&](OpBuilder &nb, Location nl, ValueRange args) {
          Value v = castFloat(nb, nl, args[0], f32);
          linalg::YieldOp::create(
              nb, nl,
              ValueRange{arith::MaximumFOp::create(nb, nl, args[1], v),
                         arith::MinimumFOp::create(nb, nl, args[2], v)});
        });

    // s = max((hi - lo) / (2^b - 1), 1e-8); z = roundeven(-lo / s) - 2^(b-1).
    auto ranges = linalg::GenericOp::create(
        b, loc,
        TypeRange{RankedTensorType::get(rowShape, f32),
                  RankedTensorType::get(rowShape, i32)},
        minmax.getResults(),
        ValueRange{emptyTensor(b, loc, rows, f32),
                   emptyTensor(b, loc, rows, i32)},
        SmallVector<AffineMap>(4, id), iterators(lead),
        [&](OpBuilder &nb, Location nl, ValueRange args) {
          Value span = arith::SubFOp::create(nb, nl, args[0], args[1]);
          Value steps =
              arith::ConstantOp::create(nb, nl, nb.getF32FloatAttr(top));
          Value floor =
              arith::ConstantOp::create(nb, nl, nb.getF32FloatAttr(1e-8f));
          Value s = arith::MaximumFOp::create(
              nb, nl, arith::DivFOp::create(nb, nl, span, steps), floor);
          Value neg = arith::NegFOp::create(nb, nl, args[1]);
          Value zf = math::RoundEvenOp::create(
              nb, nl, arith::DivFOp::create(nb, nl, neg, s));
          Value z = arith::SubIOp::create(
              nb, nl, arith::FPToSIOp::create(nb, nl, i32, zf),
              arith::ConstantOp::create(nb, nl, nb.getI32IntegerAttr(half)));
          linalg::YieldOp::create(nb, nl, ValueRange{s, z});
        });
    scale = ranges.getResult(0);
    zeroPoint = ranges.getResult(1);
  }

  // levels = clamp(roundeven(x / s) + z + 2^(b-1), 0, 2^b - 1) - 2^(b-1).
  auto levels = linalg::GenericOp::create(
      b, loc, TypeRange{RankedTensorType::get(xType.getShape(), i8)},
      ValueRange{x, scale, zeroPoint},
      ValueRange{emptyTensor(b, loc, tensor::getMixedSizes(b, loc, x), i8)},
      {all, row, row, all}, iterators(lead + 1),
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        Value v = castFloat(nb, nl, args[0], f32);
        Value c = arith::ConstantOp::create(nb, nl, nb.getI32IntegerAttr(half));
        Value zf = arith::SIToFPOp::create(
            nb, nl, f32, arith::AddIOp::create(nb, nl, args[2], c));
        Value r = arith::AddFOp::create(
            nb, nl,
            math::RoundEvenOp::create(
                nb, nl, arith::DivFOp::create(nb, nl, v, args[1])),
            zf);
        r = arith::MaximumFOp::create(
            nb, nl, r,
            arith::ConstantOp::create(nb, nl, nb.getF32FloatAttr(0)));
        r = arith::MinimumFOp::create(
            nb, nl, r,
            arith::ConstantOp::create(nb, nl, nb.getF32FloatAttr(top)));
        Value q = arith::SubIOp::create(
            nb, nl, arith::FPToSIOp::create(nb, nl, i32, r), c);
        linalg::YieldOp::create(
            nb, nl, ValueRange{arith::TruncIOp::create(nb, nl, i8, q)});
      });
  return {levels.getResult(0), scale, zeroPoint};
}

/// Levels from i32 words: out[r, w, i] = ((word[r, w] or word[w, r]) >>
/// (bits * i) & mask) - 2^(bits-1) over [R, W, f], f = 32 / bits; words run
/// along the last axis (`alongRows` false, [R, W]) or the first ([W, R]).
static Value unpackWords(OpBuilder &b, Location loc, Value words, int64_t bits,
                         bool alongRows) {
  MLIRContext *ctx = b.getContext();
  Type i8 = b.getI8Type();
  RankedTensorType t = tensorType(words);
  int64_t perWord = 32 / bits;
  int64_t outer = t.getDimSize(alongRows ? 1 : 0),
          inner = t.getDimSize(alongRows ? 0 : 1);
  auto type = RankedTensorType::get({outer, inner, perWord}, i8);
  return linalg::GenericOp::create(
             b, loc, TypeRange{type}, ValueRange{words},
             ValueRange{
                 emptyTensor(b, loc,
                             {b.getIndexAttr(outer), b.getIndexAttr(inner),
                              b.getIndexAttr(perWord)},
                             i8)},
             {pick(ctx, 3,
                   alongRows ? ArrayRef<unsigned>{1, 0}
                             : ArrayRef<unsigned>{0, 1}),
              pick(ctx, 3, {0, 1, 2})},
             iterators(3),
             [&](OpBuilder &nb, Location nl, ValueRange args) {
               Type i32 = nb.getI32Type();
               auto c = [&](int64_t v) {
                 return arith::ConstantOp::create(nb, nl,
                                                  nb.getI32IntegerAttr(v));
               };
               Value i = arith::IndexCastOp::create(
                   nb, nl, i32, linalg::IndexOp::create(nb, nl, 2));
               Value shift = arith::MulIOp::create(nb, nl, i, c(bits));
               Value level = arith::AndIOp::create(
                   nb, nl, arith::ShRUIOp::create(nb, nl, args[0], shift),
                   c((1 << bits) - 1));
               Value q = arith::SubIOp::create(nb, nl, level,
                                               c(int64_t(1) << (bits - 1)));
               linalg::YieldOp::create(
                   nb, nl, ValueRange{arith::TruncIOp::create(nb, nl, i8, q)});
             })
      .getResult(0);
}

Value linalg_lowering::buildUnpackZeroPoints(OpBuilder &b, Location loc,
                                             Value zeroPoint, int64_t bits,
                                             int64_t rows) {
  RankedTensorType t = tensorType(zeroPoint);
  if (!t.getElementType().isInteger(32))
    return zeroPoint;
  // [G, W, f]: row w * f + i of group g.
  Value levels = unpackWords(b, loc, zeroPoint, bits, /*alongRows=*/true);
  int64_t groups = t.getDimSize(1);
  // Flattened to [G, W * f]; the first `rows` rows, transposed.
  MLIRContext *ctx = b.getContext();
  Type i8 = b.getI8Type();
  Value flat = tensor::CollapseShapeOp::create(
      b, loc, levels, SmallVector<ReassociationIndices>{{0}, {1, 2}});
  if (tensorType(flat).getDimSize(1) != rows)
    flat = tensor::ExtractSliceOp::create(
        b, loc, RankedTensorType::get({groups, rows}, i8), flat, ValueRange{},
        ValueRange{}, ValueRange{}, b.getDenseI64ArrayAttr({0, 0}),
        b.getDenseI64ArrayAttr({groups, rows}), b.getDenseI64ArrayAttr({1, 1}));
  return linalg::GenericOp::create(
             b, loc, TypeRange{RankedTensorType::get({rows, groups}, i8)},
             ValueRange{flat},
             ValueRange{emptyTensor(
                 b, loc, {b.getIndexAttr(rows), b.getIndexAttr(groups)}, i8)},
             {pick(ctx, 2, {1, 0}), pick(ctx, 2, {0, 1})}, iterators(2),
             [&](OpBuilder &nb, Location nl, ValueRange args) {
               linalg::YieldOp::create(nb, nl, ValueRange{args[0]});
             })
      .getResult(0);
}

Value linalg_lowering::buildUnpackLevels(OpBuilder &b, Location loc,
                                         Value packed, int64_t bits,
                                         bool narrow) {
  RankedTensorType words = tensorType(packed);
  if (words.getElementType().isInteger(32)) {
    Value levels = unpackWords(b, loc, packed, bits, /*alongRows=*/false);
    return tensor::CollapseShapeOp::create(
        b, loc, levels, SmallVector<ReassociationIndices>{{0}, {1, 2}});
  }
  // One level per byte.
  if (!words.getElementType().isUnsignedInteger(8))
    return packed;
  MLIRContext *ctx = b.getContext();
  Type i8 = b.getI8Type();
  RankedTensorType t = tensorType(packed);
  if (narrow) {
    // The i4 levels, less 8.
    Value levels = buildLevelsView(b, loc, packed);
    RankedTensorType lt = tensorType(levels);
    SmallVector<OpFoldResult> sizes = {b.getIndexAttr(lt.getDimSize(0)),
                                       b.getIndexAttr(lt.getDimSize(1))};
    return linalg::GenericOp::create(
               b, loc, TypeRange{RankedTensorType::get(lt.getShape(), i8)},
               ValueRange{levels}, ValueRange{emptyTensor(b, loc, sizes, i8)},
               {pick(ctx, 2, {0, 1}), pick(ctx, 2, {0, 1})}, iterators(2),
               [&](OpBuilder &nb, Location nl, ValueRange args) {
                 Value level = buildNibbleLevel(nb, nl, args[0]);
                 linalg::YieldOp::create(
                     nb, nl,
                     ValueRange{arith::TruncIOp::create(nb, nl, i8, level)});
               })
        .getResult(0);
  }
  // ui8 storage read as signless bytes.
  Value bytes = tensor::BitcastOp::create(
      b, loc, RankedTensorType::get(t.getShape(), i8), packed);
  int64_t n = t.getDimSize(0), half = t.getDimSize(1);
  auto pairs = RankedTensorType::get({n, half, 2}, i8);
  auto unpack = linalg::GenericOp::create(
      b, loc, TypeRange{pairs}, ValueRange{bytes},
      ValueRange{emptyTensor(
          b, loc, {b.getIndexAttr(n), b.getIndexAttr(half), b.getIndexAttr(2)},
          i8)},
      {pick(ctx, 3, {0, 1}), pick(ctx, 3, {0, 1, 2})}, iterators(3),
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        auto c = [&](int64_t v) {
          return arith::ConstantOp::create(nb, nl, nb.getI8IntegerAttr(v));
        };
        Value low = arith::AndIOp::create(nb, nl, args[0], c(15));
        Value high = arith::ShRUIOp::create(nb, nl, args[0], c(4));
        Value second =
            arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::ne,
                                  linalg::IndexOp::create(nb, nl, 2),
                                  arith::ConstantIndexOp::create(nb, nl, 0));
        Value nibble = arith::SelectOp::create(nb, nl, second, high, low);
        linalg::YieldOp::create(
            nb, nl, ValueRange{arith::SubIOp::create(nb, nl, nibble, c(8))});
      });
  return tensor::CollapseShapeOp::create(
      b, loc, unpack.getResult(0),
      SmallVector<ReassociationIndices>{{0}, {1, 2}});
}

Value linalg_lowering::buildGroupedIntMatmul(OpBuilder &b, Location loc,
                                             Value a, Value w, int64_t groups) {
  MLIRContext *ctx = b.getContext();
  Type i32 = b.getI32Type();
  unsigned lead = tensorType(a).getRank() - 1;
  Value a3 = expandGroups(b, loc, a, groups);
  Value w3 = expandGroups(b, loc, w, groups);
  SmallVector<OpFoldResult> sizes = leadingSizes(b, loc, a);
  sizes.append({dimOf(b, loc, w, 0), b.getIndexAttr(groups)});
  Value init = filledTensor(b, loc, sizes, b.getI32IntegerAttr(0));
  // Loops (lead..., n, g, j): a[lead..., g, j] * w[n, g, j] summed over j.
  unsigned n = lead, g = lead + 1, j = lead + 2, loops = lead + 3;
  return linalg::GenericOp::create(
             b, loc, TypeRange{init.getType()}, ValueRange{a3, w3},
             ValueRange{init},
             {pick(ctx, loops, withLead(lead, {g, j})),
              pick(ctx, loops, {n, g, j}),
              pick(ctx, loops, withLead(lead, {n, g}))},
             iterators(lead + 2, 1),
             [&](OpBuilder &nb, Location nl, ValueRange args) {
               Value x = arith::ExtSIOp::create(nb, nl, i32, args[0]);
               Value y = arith::ExtSIOp::create(nb, nl, i32, args[1]);
               linalg::YieldOp::create(
                   nb, nl,
                   ValueRange{arith::AddIOp::create(
                       nb, nl, args[2], arith::MulIOp::create(nb, nl, x, y))});
             })
      .getResult(0);
}

Value linalg_lowering::buildGroupRowSums(OpBuilder &b, Location loc, Value q,
                                         int64_t groups) {
  MLIRContext *ctx = b.getContext();
  Type i32 = b.getI32Type();
  unsigned lead = tensorType(q).getRank() - 1;
  Value q3 = expandGroups(b, loc, q, groups);
  SmallVector<OpFoldResult> sizes = leadingSizes(b, loc, q);
  sizes.push_back(b.getIndexAttr(groups));
  Value init = filledTensor(b, loc, sizes, b.getI32IntegerAttr(0));
  unsigned loops = lead + 2;
  return linalg::GenericOp::create(
             b, loc, TypeRange{init.getType()}, ValueRange{q3},
             ValueRange{init},
             {pick(ctx, loops, range(0, loops)),
              pick(ctx, loops, range(0, lead + 1))},
             iterators(lead + 1, 1),
             [&](OpBuilder &nb, Location nl, ValueRange args) {
               linalg::YieldOp::create(
                   nb, nl,
                   ValueRange{arith::AddIOp::create(
                       nb, nl, args[1],
                       arith::ExtSIOp::create(nb, nl, i32, args[0]))});
             })
      .getResult(0);
}

/// How packed storage holds a weight's levels: bytes of two offset-8
/// nibbles whatever the width (2..4 bits, as the quantizer packs them), or
/// compressed-tensors' i32 words of 32 / bits levels of `bits` each.
/// `levels`: the bytes are read as their i4 levels (buildLevelsView), one
/// level per element, instead of unit by unit (`narrow`: the pass's
/// `narrow-levels`; words are always read as units).
struct UnitLayout {
  bool words, levels;
  int64_t perUnit, levelBits;
  /// The layout of `storage` when it packs several levels per unit and
  /// whole units make a group of `groupWidth` levels.
  static std::optional<UnitLayout> of(RankedTensorType storage, int64_t bits,
                                      int64_t groupWidth, bool narrow) {
    Type element = storage.getElementType();
    UnitLayout layout;
    layout.words = element.isInteger(32);
    if (!layout.words && !element.isUnsignedInteger(8))
      return std::nullopt;
    layout.levels = narrow && !layout.words;
    layout.perUnit = layout.words ? 32 / bits : 2;
    layout.levelBits = layout.words ? bits : 4;
    if (layout.perUnit < 2 || groupWidth % layout.perUnit)
      return std::nullopt;
    return layout;
  }
  /// The loops of a contraction over this storage after `lead` leading
  /// ones: (n, g, j, b) over units, (n, g, j) over levels (see
  /// buildPackedOperands).
  unsigned contractionLoops(unsigned lead) const {
    return lead + (levels ? 3 : 4);
  }
};

/// The storage `packed` as signless units [N, groups, B].
static Value splitUnits(OpBuilder &b, Location loc, Value packed,
                        const UnitLayout &layout, int64_t groups) {
  RankedTensorType storage = tensorType(packed);
  int64_t units = storage.getShape().back() / groups;
  if (!layout.words)
    packed = tensor::BitcastOp::create(
        b, loc, RankedTensorType::get(storage.getShape(), b.getI8Type()),
        packed);
  return splitLastAxis(b, loc, packed, {groups, units});
}

/// The storage `packed` as signless units [N, groups, B] and `x` [..., K]
/// as [..., groups, B, U]: the operands of a contraction over units.
static std::pair<Value, Value> splitIntoUnits(OpBuilder &b, Location loc,
                                              Value x, Value packed,
                                              const UnitLayout &layout,
                                              int64_t groups) {
  int64_t units = tensorType(x).getShape().back() / groups / layout.perUnit;
  Value unitsView = splitUnits(b, loc, packed, layout, groups);
  return {splitLastAxis(b, loc, x, {groups, units, layout.perUnit}), unitsView};
}

/// Byte storage [R, C] (nibble pairs, `ui8`) as its levels, `i4` [R, 2C]
/// (level 2c the low nibble of byte c, 2c + 1 the high one): a view of the
/// same bytes, `memref.view` of the flattened buffer, which
/// qrealign-emulate-narrow-types turns back into that buffer once every
/// access to the levels is a shift of the byte holding it.
static Value buildLevelsView(OpBuilder &b, Location loc, Value packed) {
  RankedTensorType storage = tensorType(packed);
  int64_t rows = storage.getDimSize(0), bytes = storage.getDimSize(1);
  Type i8 = b.getI8Type();
  Value signless = tensor::BitcastOp::create(
      b, loc, RankedTensorType::get(storage.getShape(), i8), packed);
  Value buffer = bufferization::ToBufferOp::create(
      b, loc, MemRefType::get(storage.getShape(), i8), signless,
      /*read_only=*/true);
  Value flat = memref::CollapseShapeOp::create(
      b, loc, buffer, SmallVector<ReassociationIndices>{{0, 1}});
  auto levels = MemRefType::get({rows, 2 * bytes}, b.getIntegerType(4));
  Value view = memref::ViewOp::create(b, loc, levels, flat,
                                      arith::ConstantIndexOp::create(b, loc, 0),
                                      ValueRange{});
  return bufferization::ToTensorOp::create(
      b, loc, RankedTensorType::get(levels.getShape(), levels.getElementType()),
      view, /*restrict=*/true, /*writable=*/false);
}

/// In a body: the signed level of `i4` element `nibble` (offset 8), as i32.
static Value buildNibbleLevel(OpBuilder &b, Location loc, Value nibble) {
  Type i32 = b.getI32Type();
  return arith::SubIOp::create(
      b, loc, arith::ExtUIOp::create(b, loc, i32, nibble),
      arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(8)));
}

/// The input `x` [..., K] and the weight storage `packed` of a contraction
/// over packed storage, with their maps, loops (lead..., n, g, j, b) for
/// unit b of group g and level j of the unit, or over levels
/// (`layout.levels`) loops (lead..., n, g, j) for level j of group g.
struct PackedOperands {
  Value x, packed;
  AffineMap xMap, packedMap;
};
static PackedOperands buildPackedOperands(OpBuilder &b, Location loc, Value x,
                                          Value packed,
                                          const UnitLayout &layout,
                                          int64_t groups) {
  MLIRContext *ctx = b.getContext();
  unsigned lead = tensorType(x).getRank() - 1;
  unsigned nDim = lead, gDim = lead + 1, jDim = lead + 2, bDim = lead + 3,
           loops = layout.contractionLoops(lead);
  if (layout.levels)
    return {expandGroups(b, loc, x, groups),
            expandGroups(b, loc, buildLevelsView(b, loc, packed), groups),
            pick(ctx, loops, withLead(lead, {gDim, jDim})),
            pick(ctx, loops, {nDim, gDim, jDim})};
  auto [xUnits, units] = splitIntoUnits(b, loc, x, packed, layout, groups);
  return {xUnits, units, pick(ctx, loops, withLead(lead, {gDim, bDim, jDim})),
          pick(ctx, loops, {nDim, gDim, bDim})};
}

/// In a contraction body: the signed level of storage unit `unit` (an i8
/// or i32 block argument) at the position loop `jDim` gives, as i32; over
/// levels (`layout.levels`), of the i4 element `unit` itself.
static Value buildUnitLevel(OpBuilder &b, Location loc, Value unit,
                            unsigned jDim, const UnitLayout &layout) {
  if (layout.levels)
    return buildNibbleLevel(b, loc, unit);
  Type i32 = b.getI32Type();
  auto c = [&](int64_t v) {
    return arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(v));
  };
  if (!layout.words)
    unit = arith::ExtUIOp::create(b, loc, i32, unit);
  Value j = arith::IndexCastOp::create(b, loc, i32,
                                       linalg::IndexOp::create(b, loc, jDim));
  Value shift = arith::MulIOp::create(b, loc, j, c(layout.levelBits));
  return arith::SubIOp::create(
      b, loc,
      arith::AndIOp::create(b, loc, arith::ShRUIOp::create(b, loc, unit, shift),
                            c((int64_t(1) << layout.levelBits) - 1)),
      c(int64_t(1) << (layout.levelBits - 1)));
}

Value linalg_lowering::buildPackedCenteredIntMatmul(
    OpBuilder &b, Location loc, Value a, Value za, Value packed, Value zw,
    int64_t bits, int64_t groups, bool narrow) {
  MLIRContext *ctx = b.getContext();
  Type i32 = b.getI32Type();
  int64_t k = tensorType(a).getShape().back();
  std::optional<UnitLayout> layout =
      UnitLayout::of(tensorType(packed), bits, k / groups, narrow);
  assert(layout && "storage without several levels per unit");
  unsigned lead = tensorType(a).getRank() - 1;
  unsigned nDim = lead, gDim = lead + 1, jDim = lead + 2,
           loops = layout->contractionLoops(lead);
  int64_t n = tensorType(packed).getDimSize(0);
  PackedOperands operands =
      buildPackedOperands(b, loc, a, packed, *layout, groups);
  SmallVector<Value> ins = {operands.x, za, operands.packed};
  SmallVector<AffineMap> maps = {
      operands.xMap, pick(ctx, loops, range(0, lead)), operands.packedMap};
  if (zw) {
    auto [z, zMap] = rangeOperand(b, loc, zw, loops, nDim, gDim);
    ins.push_back(z);
    maps.push_back(zMap);
  }
  maps.push_back(pick(ctx, loops, withLead(lead, {nDim, gDim})));
  SmallVector<OpFoldResult> sizes = leadingSizes(b, loc, a);
  sizes.push_back(b.getIndexAttr(n));
  sizes.push_back(b.getIndexAttr(groups));
  Value init = filledTensor(b, loc, sizes, b.getI32IntegerAttr(0));
  return linalg::GenericOp::create(
             b, loc, TypeRange{init.getType()}, ins, ValueRange{init}, maps,
             iterators(lead + 2, loops - lead - 2),
             [&](OpBuilder &nb, Location nl, ValueRange args) {
               Value x = arith::SubIOp::create(
                   nb, nl, arith::ExtSIOp::create(nb, nl, i32, args[0]),
                   args[1]);
               Value w = buildUnitLevel(nb, nl, args[2], jDim, *layout);
               if (zw)
                 w = arith::SubIOp::create(
                     nb, nl, w, arith::ExtSIOp::create(nb, nl, i32, args[3]));
               linalg::YieldOp::create(
                   nb, nl,
                   ValueRange{arith::AddIOp::create(
                       nb, nl, args.back(),
                       arith::MulIOp::create(nb, nl, x, w))});
             })
      .getResult(0);
}

//===----------------------------------------------------------------------===//
// Patterns
//===----------------------------------------------------------------------===//

namespace {
/// y[..., n] + bias[n] in `resultType` (y itself without a bias); `sizes`
/// are y's.
static Value addBias(OpBuilder &b, Location loc, Value y, Value bias,
                     RankedTensorType resultType,
                     ArrayRef<OpFoldResult> sizes) {
  if (!bias)
    return y;
  MLIRContext *ctx = b.getContext();
  Type acc = resultType.getElementType();
  unsigned lead = resultType.getRank() - 1;
  AffineMap all = pick(ctx, lead + 1, range(0, lead + 1));
  return linalg::GenericOp::create(
             b, loc, TypeRange{resultType}, ValueRange{y, bias},
             ValueRange{emptyTensor(b, loc, sizes, acc)},
             {all, pick(ctx, lead + 1, {lead}), all}, iterators(lead + 1),
             [&](OpBuilder &nb, Location nl, ValueRange args) {
               linalg::YieldOp::create(
                   nb, nl,
                   ValueRange{arith::AddFOp::create(
                       nb, nl, args[0], castFloat(nb, nl, args[1], acc))});
             })
      .getResult(0);
}

/// out[..., n] = Σ_k x[..., k] · W[n, k] (+ bias[n]) on float operands,
/// accumulating in the result's element type.
Value buildFloatLinear(OpBuilder &b, Location loc, Value x, Value weight,
                       Value bias, RankedTensorType resultType) {
  MLIRContext *ctx = b.getContext();
  Type acc = resultType.getElementType();
  unsigned lead = resultType.getRank() - 1;
  unsigned n = lead, k = lead + 1, loops = lead + 2;
  SmallVector<OpFoldResult> sizes = leadingSizes(b, loc, x);
  sizes.push_back(dimOf(b, loc, weight, 0));
  Value init = filledTensor(b, loc, sizes, b.getFloatAttr(acc, 0));
  Value y =
      linalg::GenericOp::create(
          b, loc, TypeRange{resultType}, ValueRange{x, weight},
          ValueRange{init},
          {pick(ctx, loops, withLead(lead, {k})), pick(ctx, loops, {n, k}),
           pick(ctx, loops, withLead(lead, {n}))},
          iterators(lead + 1, 1),
          [&](OpBuilder &nb, Location nl, ValueRange args) {
            Value p =
                arith::MulFOp::create(nb, nl, castFloat(nb, nl, args[0], acc),
                                      castFloat(nb, nl, args[1], acc));
            linalg::YieldOp::create(
                nb, nl, ValueRange{arith::AddFOp::create(nb, nl, args[2], p)});
          })
          .getResult(0);
  return addBias(b, loc, y, bias, resultType, sizes);
}

struct LinearLowering : OpConversionPattern<LinearOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(LinearOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOp(op,
                       buildFloatLinear(rewriter, op.getLoc(),
                                        adaptor.getInput(), adaptor.getWeight(),
                                        adaptor.getBias(), op.getType()));
    return success();
  }
};

/// `few` when `x` [..., K] has at most `limit` rows (tokens: the product of
/// its leading sizes), else `many`: decided here when every leading size is
/// static, otherwise by an scf.if at run time.
static Value buildForRows(OpBuilder &b, Location loc, Value x, int64_t limit,
                          function_ref<Value(OpBuilder &, Location)> few,
                          function_ref<Value(OpBuilder &, Location)> many) {
  ArrayRef<int64_t> lead = tensorType(x).getShape().drop_back();
  if (!ShapedType::isDynamicShape(lead)) {
    int64_t rows = ShapedType::getNumElements(lead);
    return rows <= limit ? few(b, loc) : many(b, loc);
  }
  Value rows = arith::ConstantIndexOp::create(b, loc, 1);
  for (int64_t i = 0, e = lead.size(); i < e; ++i)
    rows = arith::MulIOp::create(b, loc, rows,
                                 tensor::DimOp::create(b, loc, x, i));
  Value isFew =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ule, rows,
                            arith::ConstantIndexOp::create(b, loc, limit));
  return scf::IfOp::create(
             b, loc, isFew,
             [&](OpBuilder &nb, Location l) {
               scf::YieldOp::create(nb, l, few(nb, l));
             },
             [&](OpBuilder &nb, Location l) {
               scf::YieldOp::create(nb, l, many(nb, l));
             })
      .getResult(0);
}

/// The integer path: see Passes.td.
struct QuantizedLinearLowering : OpRewritePattern<LinearOp> {
  QuantizedLinearLowering(MLIRContext *ctx, int64_t rowsLimit, bool narrow)
      : OpRewritePattern(ctx), rowsLimit(rowsLimit), narrow(narrow) {}
  LogicalResult matchAndRewrite(LinearOp op,
                                PatternRewriter &rewriter) const override {
    QuantSchemeAttr scheme = op.getQuantAttr();
    auto deq = op.getWeight().getDefiningOp<DequantizeOp>();
    if (!scheme || !scheme.quantizesActivations() ||
        scheme.getAct() != ActQuantMode::Dynamic || !deq)
      return failure();
    Location loc = op.getLoc();
    MLIRContext *ctx = op.getContext();
    Type f32 = rewriter.getF32Type(), i32 = rewriter.getI32Type();
    RankedTensorType type = op.getType();
    unsigned lead = type.getRank() - 1;
    int64_t k = op.getInFeatures();
    int64_t groups = tensorType(deq.getScale()).getDimSize(1);
    int64_t groupWidth = k / groups;

    Value x = op.getInput();
    RowQuantized a = buildRowQuantization(rewriter, loc, x, scheme.getABits(),
                                          scheme.getActSymmetric());
    Value zw = deq.getZeroPoint();
    if (zw)
      zw = buildUnpackZeroPoints(rewriter, loc, zw, deq.getBits(),
                                 tensorType(deq.getScale()).getDimSize(0));
    // Loops (lead..., n, g): partial[..., n] = Σ_g sw[n, g] · t[..., n, g].
    unsigned n = lead, g = lead + 1, loops = lead + 2;
    AffineMap out = pick(ctx, loops, range(0, lead + 1));
    SmallVector<OpFoldResult> sizes = leadingSizes(rewriter, loc, x);
    sizes.push_back(rewriter.getIndexAttr(op.getOutFeatures()));
    auto sumGroups =
        [&](OpBuilder &b, Location l, SmallVector<Value> ins,
            SmallVector<AffineMap> maps,
            function_ref<Value(OpBuilder &, Location, ValueRange)> centered) {
          auto [sw, swMap] = rangeOperand(b, l, deq.getScale(), loops, n, g);
          ins.push_back(sw);
          maps.append({swMap, out});
          Value init = filledTensor(b, l, sizes, b.getF32FloatAttr(0));
          return linalg::GenericOp::create(
                     b, l, TypeRange{init.getType()}, ins, ValueRange{init},
                     maps, iterators(lead + 1, 1),
                     [&](OpBuilder &nb, Location nl, ValueRange args) {
                       Value t = centered(nb, nl, args);
                       Value term = arith::MulFOp::create(
                           nb, nl,
                           castFloat(nb, nl, args[args.size() - 2], f32),
                           arith::SIToFPOp::create(nb, nl, f32, t));
                       linalg::YieldOp::create(nb, nl,
                                               ValueRange{arith::AddFOp::create(
                                                   nb, nl, args.back(), term)});
                     })
              .getResult(0);
        };
    // Few rows: t read from the storage units in one contraction, its zero
    // points subtracted in the body.
    auto unitsForm = [&](OpBuilder &b, Location l) -> Value {
      Value t = buildPackedCenteredIntMatmul(b, l, a.levels, a.zeroPoint,
                                             deq.getPacked(), zw, deq.getBits(),
                                             groups, narrow);
      return sumGroups(
          b, l, {t}, {pick(ctx, loops, range(0, loops))},
          [](OpBuilder &, Location, ValueRange args) { return args[0]; });
    };
    // Many rows: the weight's levels unpacked once per call, acc = Σ a·w,
    // the zero points applied through row sums in the epilogue.
    auto unpackedForm = [&](OpBuilder &b, Location l) -> Value {
      Value w = buildUnpackLevels(b, l, deq.getPacked(), deq.getBits(), narrow);
      Value acc = buildGroupedIntMatmul(b, l, a.levels, w, groups);
      Value weightSums = buildGroupRowSums(b, l, w, groups);
      Value actSums = zw ? buildGroupRowSums(b, l, a.levels, groups) : Value();
      SmallVector<Value> ins = {acc, a.zeroPoint, weightSums};
      SmallVector<AffineMap> maps = {pick(ctx, loops, range(0, loops)),
                                     pick(ctx, loops, range(0, lead)),
                                     pick(ctx, loops, {n, g})};
      if (zw) {
        auto [zwRow, zwMap] = rangeOperand(b, l, zw, loops, n, g);
        ins.append({zwRow, actSums});
        maps.append({zwMap, pick(ctx, loops, withLead(lead, {g}))});
      }
      return sumGroups(
          b, l, ins, maps, [&](OpBuilder &nb, Location nl, ValueRange args) {
            // t = acc - za·Σw (- zw·Σa + J·za·zw)
            Value za = args[1];
            Value t = arith::SubIOp::create(
                nb, nl, args[0], arith::MulIOp::create(nb, nl, za, args[2]));
            if (!zw)
              return t;
            Value z = arith::ExtSIOp::create(nb, nl, i32, args[3]);
            t = arith::SubIOp::create(
                nb, nl, t, arith::MulIOp::create(nb, nl, z, args[4]));
            Value width = arith::ConstantOp::create(
                nb, nl, nb.getI32IntegerAttr(groupWidth));
            return arith::AddIOp::create(
                       nb, nl, t,
                       arith::MulIOp::create(
                           nb, nl, arith::MulIOp::create(nb, nl, width, za), z))
                .getResult();
          });
    };
    // The packed form needs levels packed several per unit (not i8).
    Value partial =
        UnitLayout::of(tensorType(deq.getPacked()), deq.getBits(), groupWidth,
                       narrow)
            ? buildForRows(rewriter, loc, x, rowsLimit, unitsForm, unpackedForm)
            : unpackedForm(rewriter, loc);

    // y[..., n] = partial[..., n] · sa[...] (+ bias[n]), in the result type.
    Type element = type.getElementType();
    Value bias = op.getBias();
    AffineMap all = pick(ctx, lead + 1, range(0, lead + 1));
    SmallVector<Value> eIns = {partial, a.scale};
    SmallVector<AffineMap> eMaps = {all, pick(ctx, lead + 1, range(0, lead))};
    if (bias) {
      eIns.push_back(bias);
      eMaps.push_back(pick(ctx, lead + 1, {n}));
    }
    eMaps.push_back(all);
    Value y = linalg::GenericOp::create(
                  rewriter, loc, TypeRange{type}, eIns,
                  ValueRange{emptyTensor(rewriter, loc, sizes, element)}, eMaps,
                  iterators(lead + 1),
                  [&](OpBuilder &nb, Location nl, ValueRange args) {
                    Value v = arith::MulFOp::create(nb, nl, args[0], args[1]);
                    if (bias)
                      v = arith::AddFOp::create(
                          nb, nl, v, castFloat(nb, nl, args[2], f32));
                    linalg::YieldOp::create(
                        nb, nl, ValueRange{castFloat(nb, nl, v, element)});
                  })
                  .getResult(0);
    rewriter.replaceOp(op, y);
    return success();
  }

private:
  int64_t rowsLimit;
  bool narrow;
};

/// `x` [..., K] with each group of `width` columns de-interleaved by
/// `perUnit` (the levels of a storage unit): column g·W + u·B + b of the
/// result, B = W / perUnit, is column g·W + b·perUnit + u of `x` (the order
/// of buildDequantized's `deinterleaved` form).
static Value deinterleave(OpBuilder &b, Location loc, Value x, int64_t width,
                          int64_t perUnit) {
  MLIRContext *ctx = b.getContext();
  RankedTensorType t = tensorType(x);
  unsigned lead = t.getRank() - 1;
  int64_t groups = t.getShape().back() / width, units = width / perUnit;
  Value split = splitLastAxis(b, loc, x, {groups, units, perUnit});
  SmallVector<OpFoldResult> sizes = leadingSizes(b, loc, x);
  sizes.append(
      {b.getIndexAttr(groups), b.getIndexAttr(perUnit), b.getIndexAttr(units)});
  // Loops (lead..., g, u, b).
  unsigned g = lead, u = lead + 1, bl = lead + 2, loops = lead + 3;
  Value init = emptyTensor(b, loc, sizes, t.getElementType());
  Value halves = linalg::GenericOp::create(
                     b, loc, TypeRange{init.getType()}, ValueRange{split},
                     ValueRange{init},
                     {pick(ctx, loops, withLead(lead, {g, bl, u})),
                      pick(ctx, loops, range(0, loops))},
                     iterators(loops),
                     [&](OpBuilder &nb, Location nl, ValueRange args) {
                       linalg::YieldOp::create(nb, nl, ValueRange{args[0]});
                     })
                     .getResult(0);
  return mergeTrailingAxes(b, loc, halves, 3);
}

/// The generic form of a dequantization: (q - z) · s per group in the
/// grouped form [N, G, K / G], rounded to `type`'s element type, the levels
/// q unpacked from their storage. Storage that packs several levels per
/// unit (nibble pairs, i32 words: UnitLayout) is read by the same op, loops
/// (n, g, b, u) for level u of unit b of group g, so that no tensor of
/// levels exists and a tile of the result is computed from a tile of the
/// units (qrealign-cpu-vectorize computes a W4A16 linear's weight 8 rows at
/// a time). With `deinterleaved`, the loops are (n, g, u, b) instead: the
/// result holds each group's first level of every unit, then the second,
/// and so on (column g·G + u·B + b is level b·U + u of group g, see
/// deinterleave), so that a group's units run along the innermost loop.
/// With `narrow`, nibble pairs are read as `i4` levels instead
/// (buildLevelsView), loops (n, g, k) as for unpacked levels.
static Value buildDequantized(OpBuilder &b, Location loc, Value packed,
                              Value scale, Value zeroPoint, int64_t bits,
                              RankedTensorType type, bool narrow,
                              bool deinterleaved = false) {
  MLIRContext *ctx = b.getContext();
  Type f32 = b.getF32Type(), i32 = b.getI32Type();
  Type element = type.getElementType();
  int64_t n = type.getDimSize(0), k = type.getDimSize(1);
  int64_t groups = tensorType(scale).getDimSize(1);
  int64_t width = k / groups;
  std::optional<UnitLayout> layout =
      UnitLayout::of(tensorType(packed), bits, width, narrow);
  // Read unit by unit, or one level per element (i4 levels, i8 levels).
  bool units = layout && !layout->levels;
  deinterleaved &= units;
  SmallVector<int64_t> shape = {n, groups, width};
  SmallVector<Value> ins;
  SmallVector<AffineMap> maps;
  if (units) {
    int64_t units = width / layout->perUnit;
    shape = {n, groups, units, layout->perUnit};
    if (deinterleaved)
      std::swap(shape[2], shape[3]);
    ins.push_back(splitUnits(b, loc, packed, *layout, groups));
    maps.push_back(pick(ctx, 4, {0, 1, deinterleaved ? 3u : 2u}));
  } else {
    Value q = layout ? buildLevelsView(b, loc, packed)
                     : buildUnpackLevels(b, loc, packed, bits);
    ins.push_back(expandGroups(b, loc, q, groups));
    maps.push_back(pick(ctx, 3, {0, 1, 2}));
  }
  unsigned loops = shape.size();
  auto [s, sMap] = rangeOperand(b, loc, scale, loops, 0, 1);
  ins.push_back(s);
  maps.push_back(sMap);
  Value zero = zeroPoint;
  if (zero) {
    zero = buildUnpackZeroPoints(b, loc, zero, bits,
                                 tensorType(scale).getDimSize(0));
    auto [z, zMap] = rangeOperand(b, loc, zero, loops, 0, 1);
    ins.push_back(z);
    maps.push_back(zMap);
  }
  maps.push_back(pick(ctx, loops, range(0, loops)));
  SmallVector<OpFoldResult> sizes = llvm::map_to_vector(
      shape, [&](int64_t d) -> OpFoldResult { return b.getIndexAttr(d); });
  Value w =
      linalg::GenericOp::create(
          b, loc, TypeRange{RankedTensorType::get(shape, element)}, ins,
          ValueRange{emptyTensor(b, loc, sizes, element)}, maps,
          iterators(loops),
          [&](OpBuilder &nb, Location nl, ValueRange args) {
            Value level = layout
                              ? buildUnitLevel(nb, nl, args[0],
                                               deinterleaved ? 2 : 3, *layout)
                              : arith::ExtSIOp::create(nb, nl, i32, args[0]);
            if (zero)
              level = arith::SubIOp::create(
                  nb, nl, level, arith::ExtSIOp::create(nb, nl, i32, args[2]));
            Value v = arith::MulFOp::create(
                nb, nl, arith::SIToFPOp::create(nb, nl, f32, level),
                castFloat(nb, nl, args[1], f32));
            linalg::YieldOp::create(nb, nl,
                                    ValueRange{castFloat(nb, nl, v, element)});
          })
          .getResult(0);
  SmallVector<ReassociationIndices> merge = {{0}, {1, 2}};
  if (units)
    merge = {{0}, {1, 2, 3}};
  return tensor::CollapseShapeOp::create(b, loc, type, w, merge);
}

/// A weight-only linear (W4A16, W8A16 from words) whose weight is
/// dequantized from packed storage: one contraction that reads the
/// storage units themselves. With U levels per unit (2 per byte, 32/bits
/// per word) and groups of G = B·U levels, the loops are (lead..., n, g, j,
/// b): y[..., n] += x[..., g, b, j] · w(unit[n, g, b], j), where
/// w(u, j) = ((u >> bits·j & mask) − 2^(bits−1) − z[n, g]) · s[n, g],
/// rounded to the dequantized type as DequantizeLowering's. The innermost
/// loop runs over units (b), so that qrealign-cpu-vectorize puts units in
/// the lanes: contiguous loads, the nibble shift uniform across lanes. The
/// generic form (unpack every level to an i8 tensor, then dequantize)
/// makes a scalar pass over the whole weight per call, which does not fuse
/// into the contraction (the [K/U, U] and [K/G, G] splits of K differ).
/// With `narrow`, nibble pairs are read as `i4` levels (buildLevelsView)
/// instead of units: loops (lead..., n, g, k), x read as [..., G, K / G],
/// and no de-interleaving in the generic form.
struct PackedWeightOnlyLinearLowering : OpRewritePattern<LinearOp> {
  PackedWeightOnlyLinearLowering(MLIRContext *ctx, int64_t rowsLimit,
                                 bool narrow)
      : OpRewritePattern(ctx), rowsLimit(rowsLimit), narrow(narrow) {}
  LogicalResult matchAndRewrite(LinearOp op,
                                PatternRewriter &rewriter) const override {
    QuantSchemeAttr scheme = op.getQuantAttr();
    auto deq = op.getWeight().getDefiningOp<DequantizeOp>();
    if (!deq || (scheme && scheme.quantizesActivations()))
      return failure();
    int64_t bits = deq.getBits();
    int64_t k = op.getInFeatures(), n = op.getOutFeatures();
    int64_t groups = tensorType(deq.getScale()).getDimSize(1);
    std::optional<UnitLayout> layout =
        UnitLayout::of(tensorType(deq.getPacked()), bits, k / groups, narrow);
    if (!layout)
      return failure();

    Location loc = op.getLoc();
    MLIRContext *ctx = op.getContext();
    Type f32 = rewriter.getF32Type(), i32 = rewriter.getI32Type();
    RankedTensorType type = op.getType();
    Type acc = type.getElementType();
    Type element = deq.getType().getElementType();
    unsigned lead = type.getRank() - 1;
    unsigned nDim = lead, gDim = lead + 1, jDim = lead + 2,
             loops = layout->contractionLoops(lead);

    // Few rows: one contraction over the units (or levels).
    auto unitsForm = [&](OpBuilder &rewriter, Location loc) -> Value {
      PackedOperands operands = buildPackedOperands(
          rewriter, loc, op.getInput(), deq.getPacked(), *layout, groups);
      SmallVector<Value> ins = {operands.x, operands.packed};
      SmallVector<AffineMap> maps = {operands.xMap, operands.packedMap};
      auto [scale, scaleMap] =
          rangeOperand(rewriter, loc, deq.getScale(), loops, nDim, gDim);
      ins.push_back(scale);
      maps.push_back(scaleMap);
      Value zero = deq.getZeroPoint();
      if (zero) {
        zero = buildUnpackZeroPoints(rewriter, loc, zero, bits,
                                     tensorType(deq.getScale()).getDimSize(0));
        auto [z, zMap] = rangeOperand(rewriter, loc, zero, loops, nDim, gDim);
        ins.push_back(z);
        maps.push_back(zMap);
      }
      maps.push_back(pick(ctx, loops, withLead(lead, {nDim})));
      SmallVector<OpFoldResult> sizes =
          leadingSizes(rewriter, loc, op.getInput());
      sizes.push_back(rewriter.getIndexAttr(n));
      Value init =
          filledTensor(rewriter, loc, sizes, rewriter.getFloatAttr(acc, 0));
      Value y =
          linalg::GenericOp::create(
              rewriter, loc, TypeRange{init.getType()}, ins, ValueRange{init},
              maps, iterators(lead + 1, loops - lead - 1),
              [&](OpBuilder &nb, Location nl, ValueRange args) {
                Value level = buildUnitLevel(nb, nl, args[1], jDim, *layout);
                if (zero)
                  level = arith::SubIOp::create(
                      nb, nl, level,
                      arith::ExtSIOp::create(nb, nl, i32, args[3]));
                Value w = arith::MulFOp::create(
                    nb, nl, arith::SIToFPOp::create(nb, nl, f32, level),
                    castFloat(nb, nl, args[2], f32));
                w = castFloat(nb, nl, castFloat(nb, nl, w, element), acc);
                Value p = arith::MulFOp::create(
                    nb, nl, castFloat(nb, nl, args[0], acc), w);
                linalg::YieldOp::create(
                    nb, nl,
                    ValueRange{arith::AddFOp::create(nb, nl, args.back(), p)});
              })
              .getResult(0);
      return addBias(rewriter, loc, y, op.getBias(), type, sizes);
    };
    // Many rows: the generic form, whose unpacking is paid once per call.
    auto genericForm = [&](OpBuilder &b, Location loc) -> Value {
      // Units: levels de-interleaved in the weight and the input alike
      // (the same permutation of the reduction), so that the weight's
      // tiles are dequantized from contiguous units. Levels are contiguous
      // already.
      Value w = buildDequantized(b, loc, deq.getPacked(), deq.getScale(),
                                 deq.getZeroPoint(), bits, deq.getType(),
                                 narrow, /*deinterleaved=*/true);
      Value x = op.getInput();
      if (!layout->levels)
        x = deinterleave(b, loc, x, k / groups, layout->perUnit);
      return buildFloatLinear(b, loc, x, w, op.getBias(), type);
    };
    rewriter.replaceOp(op, buildForRows(rewriter, loc, op.getInput(), rowsLimit,
                                        unitsForm, genericForm));
    return success();
  }

private:
  int64_t rowsLimit;
  bool narrow;
};

struct DequantizeLowering : OpConversionPattern<DequantizeOp> {
  DequantizeLowering(MLIRContext *ctx, bool narrow)
      : OpConversionPattern(ctx), narrow(narrow) {}
  LogicalResult
  matchAndRewrite(DequantizeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOp(
        op, buildDequantized(rewriter, op.getLoc(), adaptor.getPacked(),
                             adaptor.getScale(), adaptor.getZeroPoint(),
                             op.getBits(), op.getType(), narrow));
    return success();
  }

private:
  bool narrow;
};

struct RMSNormLowering : OpConversionPattern<RMSNormOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(RMSNormOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = op.getContext();
    Type f32 = rewriter.getF32Type();
    Value x = adaptor.getInput();
    RankedTensorType type = op.getType();
    unsigned rank = type.getRank();
    int64_t d = type.getDimSize(rank - 1);
    SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(rewriter, loc, x);
    Value init = filledTensor(rewriter, loc, ArrayRef(sizes).drop_back(),
                              rewriter.getF32FloatAttr(0));
    Value squares =
        linalg::GenericOp::create(
            rewriter, loc, TypeRange{init.getType()}, ValueRange{x},
            ValueRange{init},
            {pick(ctx, rank, range(0, rank)),
             pick(ctx, rank, range(0, rank - 1))},
            iterators(rank - 1, 1),
            [&](OpBuilder &nb, Location nl, ValueRange args) {
              Value v = castFloat(nb, nl, args[0], f32);
              linalg::YieldOp::create(
                  nb, nl,
                  ValueRange{arith::AddFOp::create(
                      nb, nl, args[1], arith::MulFOp::create(nb, nl, v, v))});
            })
            .getResult(0);
    double eps = op.getEpsilon().convertToDouble();
    Type element = type.getElementType();
    Value out =
        linalg::GenericOp::create(
            rewriter, loc, TypeRange{type},
            ValueRange{x, squares, adaptor.getWeight()},
            ValueRange{emptyTensor(rewriter, loc, sizes, element)},
            {pick(ctx, rank, range(0, rank)),
             pick(ctx, rank, range(0, rank - 1)), pick(ctx, rank, {rank - 1}),
             pick(ctx, rank, range(0, rank))},
            iterators(rank),
            [&](OpBuilder &nb, Location nl, ValueRange args) {
              Value mean = arith::DivFOp::create(
                  nb, nl, args[1],
                  arith::ConstantOp::create(nb, nl,
                                            nb.getF32FloatAttr(float(d))));
              Value r = math::RsqrtOp::create(
                  nb, nl,
                  arith::AddFOp::create(
                      nb, nl, mean,
                      arith::ConstantOp::create(
                          nb, nl, nb.getF32FloatAttr(float(eps)))));
              Value v = arith::MulFOp::create(
                  nb, nl,
                  arith::MulFOp::create(nb, nl, castFloat(nb, nl, args[0], f32),
                                        r),
                  castFloat(nb, nl, args[2], f32));
              linalg::YieldOp::create(
                  nb, nl, ValueRange{castFloat(nb, nl, v, element)});
            })
            .getResult(0);
    rewriter.replaceOp(op, out);
    return success();
  }
};

/// Elementwise binary ops: add and swiglu.
template <typename Op>
struct ElementwiseLowering : OpConversionPattern<Op> {
  using OpConversionPattern<Op>::OpConversionPattern;
  using OpAdaptor = typename Op::Adaptor;
  LogicalResult
  matchAndRewrite(Op op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType type = op.getType();
    unsigned rank = type.getRank();
    Value lhs = adaptor.getOperands()[0], rhs = adaptor.getOperands()[1];
    AffineMap id = pick(op.getContext(), rank, range(0, rank));
    Value out =
        linalg::GenericOp::create(
            rewriter, loc, TypeRange{type}, ValueRange{lhs, rhs},
            ValueRange{emptyTensor(rewriter, loc,
                                   tensor::getMixedSizes(rewriter, loc, lhs),
                                   type.getElementType())},
            {id, id, id}, iterators(rank),
            [&](OpBuilder &nb, Location nl, ValueRange args) {
              Value v;
              if constexpr (std::is_same_v<Op, AddOp>) {
                v = arith::AddFOp::create(nb, nl, args[0], args[1]);
              } else {
                // silu(g) · u = g / (1 + exp(-g)) · u
                Value one = arith::ConstantOp::create(
                    nb, nl, nb.getFloatAttr(args[0].getType(), 1.0));
                Value e = math::ExpOp::create(
                    nb, nl, arith::NegFOp::create(nb, nl, args[0]));
                Value silu = arith::DivFOp::create(
                    nb, nl, args[0], arith::AddFOp::create(nb, nl, one, e));
                v = arith::MulFOp::create(nb, nl, silu, args[1]);
              }
              linalg::YieldOp::create(nb, nl, ValueRange{v});
            })
            .getResult(0);
    rewriter.replaceOp(op, out);
    return success();
  }
};

struct EmbeddingLowering : OpConversionPattern<EmbeddingOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(EmbeddingOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType type = op.getType();
    unsigned rank = type.getRank();
    Value ids = adaptor.getIds(), table = adaptor.getTable();
    SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(rewriter, loc, ids);
    sizes.push_back(rewriter.getIndexAttr(type.getDimSize(rank - 1)));
    Type element = type.getElementType();
    Value out = linalg::GenericOp::create(
                    rewriter, loc, TypeRange{type}, ValueRange{ids},
                    ValueRange{emptyTensor(rewriter, loc, sizes, element)},
                    {pick(op.getContext(), rank, range(0, rank - 1)),
                     pick(op.getContext(), rank, range(0, rank))},
                    iterators(rank),
                    [&](OpBuilder &nb, Location nl, ValueRange args) {
                      Value row = arith::IndexCastOp::create(
                          nb, nl, nb.getIndexType(), args[0]);
                      Value col = linalg::IndexOp::create(nb, nl, rank - 1);
                      Value v = tensor::ExtractOp::create(nb, nl, table,
                                                          ValueRange{row, col});
                      linalg::YieldOp::create(
                          nb, nl, ValueRange{castFloat(nb, nl, v, element)});
                    })
                    .getResult(0);
    rewriter.replaceOp(op, out);
    return success();
  }
};

/// rope: the last axis as [H, 2, half] (rotate_half) or [H, half, 2]
/// (interleaved); each output element reads both members of its pair
/// through constant indices in the maps. The angle is position ·
/// theta^(-2i / head_dim), computed in f32 as the engine does.
struct RopeLowering : OpConversionPattern<RopeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(RopeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = op.getContext();
    RankedTensorType type = op.getType();
    if (type.getRank() != 3)
      return rewriter.notifyMatchFailure(op, "rope input is not [B, S, C]");
    Type f32 = rewriter.getF32Type();
    int64_t hd = op.getHeadDim(), half = hd / 2;
    int64_t heads = type.getDimSize(2) / hd;
    bool interleaved = op.getStyle() == RopeStyle::Interleaved;
    SmallVector<int64_t> split = interleaved
                                     ? SmallVector<int64_t>{heads, half, 2}
                                     : SmallVector<int64_t>{heads, 2, half};
    Value x = splitLastAxis(rewriter, loc, adaptor.getInput(), split);
    // Loops (b, s, h, u, v): the pair member is u (rotate_half) or v
    // (interleaved), the frequency the other one.
    unsigned member = interleaved ? 4 : 3, freq = interleaved ? 3 : 4;
    auto memberMap = [&](int64_t which) {
      SmallVector<AffineExpr> e = {getAffineDimExpr(0, ctx),
                                   getAffineDimExpr(1, ctx),
                                   getAffineDimExpr(2, ctx)};
      AffineExpr c = getAffineConstantExpr(which, ctx);
      AffineExpr f = getAffineDimExpr(freq, ctx);
      e.push_back(interleaved ? f : c);
      e.push_back(interleaved ? c : f);
      return AffineMap::get(5, 0, e, ctx);
    };
    double theta = op.getTheta().convertToDouble();
    Type element = type.getElementType();
    Value out =
        linalg::GenericOp::create(
            rewriter, loc, TypeRange{tensorType(x)},
            ValueRange{x, x, adaptor.getPositions()},
            ValueRange{emptyTensor(rewriter, loc,
                                   tensor::getMixedSizes(rewriter, loc, x),
                                   element)},
            {memberMap(0), memberMap(1), pick(ctx, 5, {0, 1}),
             pick(ctx, 5, range(0, 5))},
            iterators(5),
            [&](OpBuilder &nb, Location nl, ValueRange args) {
              Value i = arith::IndexCastOp::create(
                  nb, nl, nb.getI64Type(),
                  linalg::IndexOp::create(nb, nl, freq));
              Value exponent = arith::DivFOp::create(
                  nb, nl,
                  arith::SIToFPOp::create(nb, nl, f32,
                                          arith::AddIOp::create(nb, nl, i, i)),
                  arith::ConstantOp::create(nb, nl,
                                            nb.getF32FloatAttr(float(hd))));
              Value inv = arith::DivFOp::create(
                  nb, nl,
                  arith::ConstantOp::create(nb, nl, nb.getF32FloatAttr(1.0f)),
                  math::PowFOp::create(
                      nb, nl,
                      arith::ConstantOp::create(
                          nb, nl, nb.getF32FloatAttr(float(theta))),
                      exponent));
              Value angle = arith::MulFOp::create(
                  nb, nl, arith::SIToFPOp::create(nb, nl, f32, args[2]), inv);
              Value cos = math::CosOp::create(nb, nl, angle);
              Value sin = math::SinOp::create(nb, nl, angle);
              Value a = castFloat(nb, nl, args[0], f32);
              Value bb = castFloat(nb, nl, args[1], f32);
              // First member: a cos - b sin; second: b cos + a sin.
              Value first = arith::SubFOp::create(
                  nb, nl, arith::MulFOp::create(nb, nl, a, cos),
                  arith::MulFOp::create(nb, nl, bb, sin));
              Value second = arith::AddFOp::create(
                  nb, nl, arith::MulFOp::create(nb, nl, bb, cos),
                  arith::MulFOp::create(nb, nl, a, sin));
              Value isSecond = arith::CmpIOp::create(
                  nb, nl, arith::CmpIPredicate::ne,
                  linalg::IndexOp::create(nb, nl, member),
                  arith::ConstantIndexOp::create(nb, nl, 0));
              Value v =
                  arith::SelectOp::create(nb, nl, isSecond, second, first);
              linalg::YieldOp::create(
                  nb, nl, ValueRange{castFloat(nb, nl, v, element)});
            })
            .getResult(0);
    rewriter.replaceOp(op, mergeTrailingAxes(rewriter, loc, out, 3));
    return success();
  }
};

/// attention: heads split as [KV, rep, head_dim] (query head h = g · rep +
/// r reads key/value head g), so every map is a projected permutation.
/// scores = q · kᵀ · scale, disallowed entries (causal, padding mask) set
/// to the lowest float as the engine does, softmax over keys, then · v.
struct AttentionLowering : OpConversionPattern<AttentionOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(AttentionOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = op.getContext();
    RankedTensorType type = op.getType();
    if (type.getRank() != 3 || !type.getElementType().isF32())
      return rewriter.notifyMatchFailure(op,
                                         "attention is not on f32 [B, S, C]");
    Type f32 = rewriter.getF32Type();
    int64_t heads = op.getNumHeads(), kvHeads = op.getNumKvHeads();
    int64_t hd = op.getHeadDim(), rep = heads / kvHeads;
    Value q = splitLastAxis(rewriter, loc, adaptor.getQuery(),
                            {kvHeads, rep, hd}); // [B, Sq, G, R, D]
    Value k = splitLastAxis(rewriter, loc, adaptor.getKey(),
                            {kvHeads, hd}); // [B, Sk, G, D]
    Value v = splitLastAxis(rewriter, loc, adaptor.getValue(), {kvHeads, hd});
    OpFoldResult batch = dimOf(rewriter, loc, q, 0);
    OpFoldResult sq = dimOf(rewriter, loc, q, 1),
                 sk = dimOf(rewriter, loc, k, 1);
    SmallVector<OpFoldResult> scoreSizes = {batch,
                                            rewriter.getIndexAttr(kvHeads),
                                            rewriter.getIndexAttr(rep), sq, sk};

    // Loops (b, g, r, i, j, d): raw[b, g, r, i, j] = Σ_d q · k.
    Value zero =
        filledTensor(rewriter, loc, scoreSizes, rewriter.getF32FloatAttr(0));
    Value raw =
        linalg::GenericOp::create(
            rewriter, loc, TypeRange{zero.getType()}, ValueRange{q, k},
            ValueRange{zero},
            {pick(ctx, 6, {0, 3, 1, 2, 5}), pick(ctx, 6, {0, 4, 1, 5}),
             pick(ctx, 6, {0, 1, 2, 3, 4})},
            iterators(5, 1),
            [&](OpBuilder &nb, Location nl, ValueRange args) {
              Value p =
                  arith::MulFOp::create(nb, nl, castFloat(nb, nl, args[0], f32),
                                        castFloat(nb, nl, args[1], f32));
              linalg::YieldOp::create(
                  nb, nl,
                  ValueRange{arith::AddFOp::create(nb, nl, args[2], p)});
            })
            .getResult(0);

    // Scale and mask. Query i sees key j when j <= i + (Sk - Sq).
    Value offset = arith::SubIOp::create(
        rewriter, loc, getValueOrCreateConstantIndexOp(rewriter, loc, sk),
        getValueOrCreateConstantIndexOp(rewriter, loc, sq));
    bool causal = op.getCausal();
    Value mask = adaptor.getMask();
    double scale = op.getScale().convertToDouble();
    AffineMap all5 = pick(ctx, 5, range(0, 5));
    SmallVector<Value> ins = {raw};
    SmallVector<AffineMap> maps = {all5};
    if (mask) {
      ins.push_back(mask);
      maps.push_back(pick(ctx, 5, {0, 4}));
    }
    maps.push_back(all5);
    Value scores =
        linalg::GenericOp::create(
            rewriter, loc, TypeRange{zero.getType()}, ins,
            ValueRange{emptyTensor(rewriter, loc, scoreSizes, f32)}, maps,
            iterators(5),
            [&](OpBuilder &nb, Location nl, ValueRange args) {
              Value sc = arith::MulFOp::create(
                  nb, nl, args[0],
                  arith::ConstantOp::create(nb, nl,
                                            nb.getF32FloatAttr(float(scale))));
              Value allowed;
              if (causal) {
                Value i = linalg::IndexOp::create(nb, nl, 3);
                Value j = linalg::IndexOp::create(nb, nl, 4);
                allowed = arith::CmpIOp::create(
                    nb, nl, arith::CmpIPredicate::sle, j,
                    arith::AddIOp::create(nb, nl, i, offset));
              }
              if (mask)
                allowed = allowed
                              ? arith::AndIOp::create(nb, nl, allowed, args[1])
                                    .getResult()
                              : args[1];
              if (allowed)
                sc = arith::SelectOp::create(
                    nb, nl, allowed, sc,
                    arith::ConstantOp::create(
                        nb, nl,
                        nb.getF32FloatAttr(
                            std::numeric_limits<float>::lowest())));
              linalg::YieldOp::create(nb, nl, ValueRange{sc});
            })
            .getResult(0);

    // Softmax over j: the row maximum, exp(s - max) and its sum.
    SmallVector<OpFoldResult> rowSizes(scoreSizes.begin(),
                                       scoreSizes.end() - 1);
    AffineMap row5 = pick(ctx, 5, range(0, 4));
    Value lowest = filledTensor(
        rewriter, loc, rowSizes,
        rewriter.getF32FloatAttr(std::numeric_limits<float>::lowest()));
    Value rowMax =
        linalg::GenericOp::create(
            rewriter, loc, TypeRange{lowest.getType()}, ValueRange{scores},
            ValueRange{lowest}, {all5, row5}, iterators(4, 1),
            [&](OpBuilder &nb, Location nl, ValueRange args) {
              linalg::YieldOp::create(nb, nl,
                                      ValueRange{arith::MaximumFOp::create(
                                          nb, nl, args[1], args[0])});
            })
            .getResult(0);
    Value rowZero =
        filledTensor(rewriter, loc, rowSizes, rewriter.getF32FloatAttr(0));
    auto expSum = linalg::GenericOp::create(
        rewriter, loc, TypeRange{zero.getType(), rowZero.getType()},
        ValueRange{scores, rowMax},
        ValueRange{emptyTensor(rewriter, loc, scoreSizes, f32), rowZero},
        {all5, row5, all5, row5}, iterators(4, 1),
        [&](OpBuilder &nb, Location nl, ValueRange args) {
          Value e = math::ExpOp::create(
              nb, nl, arith::SubFOp::create(nb, nl, args[0], args[1]));
          linalg::YieldOp::create(
              nb, nl, ValueRange{e, arith::AddFOp::create(nb, nl, args[3], e)});
        });

    // Loops (b, g, r, i, d, j): out[b, i, g, r, d] = Σ_j e / sum · v.
    SmallVector<OpFoldResult> outSizes = {
        batch, sq, rewriter.getIndexAttr(kvHeads), rewriter.getIndexAttr(rep),
        rewriter.getIndexAttr(hd)};
    Value outInit =
        filledTensor(rewriter, loc, outSizes, rewriter.getF32FloatAttr(0));
    Value out =
        linalg::GenericOp::create(
            rewriter, loc, TypeRange{outInit.getType()},
            ValueRange{expSum.getResult(0), expSum.getResult(1), v},
            ValueRange{outInit},
            {pick(ctx, 6, {0, 1, 2, 3, 5}), pick(ctx, 6, {0, 1, 2, 3}),
             pick(ctx, 6, {0, 5, 1, 4}), pick(ctx, 6, {0, 3, 1, 2, 4})},
            iterators(5, 1),
            [&](OpBuilder &nb, Location nl, ValueRange args) {
              Value p = arith::DivFOp::create(nb, nl, args[0], args[1]);
              Value t = arith::MulFOp::create(nb, nl, p,
                                              castFloat(nb, nl, args[2], f32));
              linalg::YieldOp::create(
                  nb, nl,
                  ValueRange{arith::AddFOp::create(nb, nl, args[3], t)});
            })
            .getResult(0);
    rewriter.replaceOp(op, mergeTrailingAxes(rewriter, loc, out, 3));
    return success();
  }
};

/// fake_quantize with dynamic ranges and no clipping factors (the deployed
/// form's quantization of Q and K at the activation width): ranges per row
/// (per_channel) or per group of the last axis, as buildRowQuantization
/// computes them, then (level - z) · s.
struct FakeQuantizeLowering : OpConversionPattern<FakeQuantizeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(FakeQuantizeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = op.getContext();
    Type f32 = rewriter.getF32Type();
    RankedTensorType type = op.getType();
    int64_t rank = type.getRank(), k = type.getDimSize(rank - 1);
    int64_t groupSize = op.getGranularity() == Granularity::PerGroup
                            ? op.getGroupSize().value_or(k)
                            : k;
    Value x = adaptor.getInput();
    Value grouped = groupSize == k ? x
                                   : splitLastAxis(rewriter, loc, x,
                                                   {k / groupSize, groupSize});
    unsigned loops = tensorType(grouped).getRank();
    RowQuantized q = buildRowQuantization(rewriter, loc, grouped, op.getBits());
    AffineMap all = pick(ctx, loops, range(0, loops));
    AffineMap row = pick(ctx, loops, range(0, loops - 1));
    Type element = type.getElementType();
    Value out =
        linalg::GenericOp::create(
            rewriter, loc,
            TypeRange{
                RankedTensorType::get(tensorType(grouped).getShape(), element)},
            ValueRange{q.levels, q.scale, q.zeroPoint},
            ValueRange{emptyTensor(
                rewriter, loc, tensor::getMixedSizes(rewriter, loc, grouped),
                element)},
            {all, row, row, all}, iterators(loops),
            [&](OpBuilder &nb, Location nl, ValueRange args) {
              Value level = arith::SubIOp::create(
                  nb, nl,
                  arith::ExtSIOp::create(nb, nl, nb.getI32Type(), args[0]),
                  args[2]);
              Value v = arith::MulFOp::create(
                  nb, nl, arith::SIToFPOp::create(nb, nl, f32, level), args[1]);
              linalg::YieldOp::create(
                  nb, nl, ValueRange{castFloat(nb, nl, v, element)});
            })
            .getResult(0);
    if (groupSize != k)
      out = mergeTrailingAxes(rewriter, loc, out, 2);
    rewriter.replaceOp(op, out);
    return success();
  }
};

struct LayerInlining : OpConversionPattern<LayerOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(LayerOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Block &body = op.getBody().front();
    auto yield = cast<YieldOp>(body.getTerminator());
    Value out = yield.getValue();
    rewriter.inlineBlockBefore(&body, op, adaptor.getInputs());
    rewriter.replaceOp(op, out);
    rewriter.eraseOp(yield);
    return success();
  }
};
} // namespace

void mlir::qrealign::populateQRealignToLinalgPatterns(
    RewritePatternSet &patterns, bool narrowLevels) {
  patterns.add<DequantizeLowering>(patterns.getContext(), narrowLevels);
  patterns.add<LinearLowering, RMSNormLowering, ElementwiseLowering<AddOp>,
               ElementwiseLowering<SwiGLUOp>, EmbeddingLowering, LayerInlining,
               RopeLowering, AttentionLowering, FakeQuantizeLowering>(
      patterns.getContext());
}

void mlir::qrealign::populateQRealignQuantizedLinearPatterns(
    RewritePatternSet &patterns, int64_t packedRowsLimit,
    int64_t packedIntRowsLimit, bool narrowLevels) {
  patterns.add<PackedWeightOnlyLinearLowering>(patterns.getContext(),
                                               packedRowsLimit, narrowLevels);
  patterns.add<QuantizedLinearLowering>(patterns.getContext(),
                                        packedIntRowsLimit, narrowLevels);
}

//===----------------------------------------------------------------------===//
// The pass
//===----------------------------------------------------------------------===//

namespace {
struct ConvertQRealignToLinalgPass
    : qrealign::impl::ConvertQRealignToLinalgPassBase<
          ConvertQRealignToLinalgPass> {
  using ConvertQRealignToLinalgPassBase::ConvertQRealignToLinalgPassBase;
  void runOnOperation() override;
};
} // namespace

/// Located errors for what has no lowering, before anything is rewritten.
static LogicalResult checkLowerable(func::FuncOp func) {
  bool ok = true;
  func.walk([&](Operation *op) {
    if (!isa<QRealignDialect>(op->getDialect()))
      return;
    if (isa<ParamOp, GetParamOp, LayerOp, YieldOp, AddOp, SwiGLUOp, RMSNormOp,
            EmbeddingOp, DequantizeOp>(op))
      return;
    if (auto rope = dyn_cast<RopeOp>(op)) {
      if (rope.getType().getRank() != 3) {
        op->emitError() << "convert-qrealign-to-linalg: rope on a rank-"
                        << rope.getType().getRank()
                        << " tensor (the lowering takes [B, S, C])";
        ok = false;
      }
      return;
    }
    if (auto at = dyn_cast<AttentionOp>(op)) {
      if (at.getType().getRank() != 3 ||
          !at.getType().getElementType().isF32()) {
        op->emitError() << "convert-qrealign-to-linalg: attention is lowered "
                           "on f32 [B, S, C] tensors only";
        ok = false;
      }
      return;
    }
    if (auto fq = dyn_cast<FakeQuantizeOp>(op)) {
      const char *why = nullptr;
      if (!fq.isDynamic())
        why = "static ranges (a calibrated scale)";
      else if (fq.getClipMax() || fq.getClipMin())
        why = "learnable clipping (the calibration form: pack the weights "
              "with qrealign-quantize-weights form=packed)";
      else if (fq.getSymmetric())
        why = "symmetric dynamic ranges";
      else if (fq.getGranularity() == Granularity::PerTensor)
        why = "a per-tensor dynamic range";
      if (why) {
        op->emitError() << "convert-qrealign-to-linalg: fake_quantize with "
                        << why << " has no lowering yet";
        ok = false;
      }
      return;
    }
    auto linear = dyn_cast<LinearOp>(op);
    if (!linear) {
      op->emitError() << "convert-qrealign-to-linalg: '" << op->getName()
                      << "' has no lowering to linalg yet";
      ok = false;
      return;
    }
    QuantSchemeAttr scheme = linear.getQuantAttr();
    if (!scheme)
      return;
    bool dequantized = linear.getWeight().getDefiningOp<DequantizeOp>();
    if (scheme.quantizesWeights() && !dequantized) {
      linear.emitError() << "convert-qrealign-to-linalg: linear '"
                         << linear.getName()
                         << "' has a quantized scheme on a float weight: run "
                            "qrealign-quantize-weights (form=packed) first";
      ok = false;
    } else if (scheme.quantizesActivations() &&
               scheme.getAct() != ActQuantMode::Dynamic) {
      linear.emitError() << "convert-qrealign-to-linalg: linear '"
                         << linear.getName()
                         << "': static activation quantization has no "
                            "lowering yet (dynamic per-token only)";
      ok = false;
    } else if (scheme.quantizesActivations() && !dequantized) {
      linear.emitError() << "convert-qrealign-to-linalg: linear '"
                         << linear.getName()
                         << "' quantizes activations of a float weight: the "
                            "integer path needs a qrealign.dequantize weight";
      ok = false;
    }
  });
  return success(ok);
}

void ConvertQRealignToLinalgPass::runOnOperation() {
  func::FuncOp func = getOperation();
  MLIRContext *ctx = &getContext();
  if (failed(checkLowerable(func)))
    return signalPassFailure();

  // The quantized linears first: they read the dequantize ops of their
  // weights, which the second step lowers.
  RewritePatternSet quantized(ctx);
  populateQRealignQuantizedLinearPatterns(quantized, packedRowsLimit,
                                          packedIntRowsLimit, narrowLevels);
  if (failed(applyPatternsGreedily(func, std::move(quantized))))
    return signalPassFailure();

  ConversionTarget target(*ctx);
  target
      .addLegalDialect<arith::ArithDialect, bufferization::BufferizationDialect,
                       linalg::LinalgDialect, math::MathDialect,
                       memref::MemRefDialect, tensor::TensorDialect>();
  target.addIllegalDialect<QRealignDialect>();
  target.addLegalOp<ParamOp, GetParamOp>();
  RewritePatternSet patterns(ctx);
  populateQRealignToLinalgPatterns(patterns, narrowLevels);
  if (failed(applyPartialConversion(func, target, std::move(patterns))))
    return signalPassFailure();
}
