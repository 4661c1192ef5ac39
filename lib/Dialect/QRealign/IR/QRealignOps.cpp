//===- QRealignOps.cpp - qrealign operations ------------------------------===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Dialect/QRealign/IR/QRealign.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/CheckedArithmetic.h"

#include <cmath>

using namespace mlir;
using namespace mlir::qrealign;

#include "qrealign/Dialect/QRealign/IR/QRealignInterfaces.cpp.inc"

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

/// Prints a shape as `[a, b, ?]`.
static std::string shapeStr(ArrayRef<int64_t> shape) {
  std::string s = "[";
  llvm::raw_string_ostream os(s);
  llvm::interleaveComma(shape, os, [&](int64_t d) {
    if (ShapedType::isDynamic(d))
      os << "?";
    else
      os << d;
  });
  os << "]";
  return s;
}

/// Two dimension sizes are compatible if either is dynamic or they are equal.
static bool compatible(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

/// Checks that `actual` is compatible with `expected` dimension by dimension.
static bool compatibleShapes(ArrayRef<int64_t> actual,
                             ArrayRef<int64_t> expected) {
  if (actual.size() != expected.size())
    return false;
  for (auto [a, e] : llvm::zip_equal(actual, expected))
    if (!compatible(a, e))
      return false;
  return true;
}

static RankedTensorType rankedType(Value v) {
  return cast<RankedTensorType>(v.getType());
}

static bool isPositiveFinite(double v) { return std::isfinite(v) && v > 0.0; }

//===----------------------------------------------------------------------===//
// ParamOp
//===----------------------------------------------------------------------===//

/// `: type = external "name"` or `: type = <elements attr without type>`.
static ParseResult parseParamTypeAndInit(OpAsmParser &parser, TypeAttr &type,
                                         Attribute &initialValue) {
  Type t;
  if (parser.parseType(t))
    return failure();
  type = TypeAttr::get(t);
  if (parser.parseEqual())
    return failure();
  SMLoc loc = parser.getCurrentLocation();
  if (parser.parseAttribute(initialValue, t))
    return failure();
  if (!isa<ElementsAttr, ExternalAttr>(initialValue))
    return parser.emitError(loc, "expected #qrealign.external<\"scope\"::"
                                 "\"key\"> or an elements attribute (dense, "
                                 "dense_resource)");
  return success();
}

static void printParamTypeAndInit(OpAsmPrinter &p, ParamOp, TypeAttr type,
                                  Attribute initialValue) {
  p << type.getValue() << " = ";
  if (isa<ElementsAttr>(initialValue))
    p.printAttributeWithoutType(initialValue);
  else
    p.printAttribute(initialValue);
}

LogicalResult ParamOp::verify() {
  if (ElementsAttr value = getInlineValue())
    if (value.getType() != getType())
      return emitOpError("inline value has type ")
             << value.getType() << " but the parameter is declared as "
             << getType();
  return success();
}

//===----------------------------------------------------------------------===//
// GetParamOp
//===----------------------------------------------------------------------===//

/// Resolves `ref` to a qrealign.param visible from `from`, or emits an error
/// naming `what`.
static FailureOr<ParamOp> lookupParam(Operation *from,
                                      SymbolTableCollection &symbolTable,
                                      FlatSymbolRefAttr ref, StringRef what) {
  auto param = symbolTable.lookupNearestSymbolFrom<ParamOp>(from, ref);
  if (!param)
    return from->emitOpError()
           << what << " " << ref << " does not name a qrealign.param";
  return param;
}

LogicalResult GetParamOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  FailureOr<ParamOp> param =
      lookupParam(*this, symbolTable, getNameAttr(), "symbol");
  if (failed(param))
    return failure();
  if (param->getType() != getType())
    return emitOpError("result type ")
           << getType() << " does not match the type " << param->getType()
           << " of " << getNameAttr();
  return success();
}

//===----------------------------------------------------------------------===//
// EmbeddingOp
//===----------------------------------------------------------------------===//

LogicalResult EmbeddingOp::verify() {
  RankedTensorType table = getTable().getType();
  RankedTensorType ids = getIds().getType();
  RankedTensorType result = getResult().getType();
  if (table.getRank() != 2)
    return emitOpError("table must be 2-D [vocab, hidden], got ")
           << shapeStr(table.getShape());
  SmallVector<int64_t> expected(ids.getShape());
  expected.push_back(table.getDimSize(1));
  if (!compatibleShapes(result.getShape(), expected))
    return emitOpError("result shape ")
           << shapeStr(result.getShape()) << " does not match ids shape + "
           << "hidden size " << shapeStr(expected);
  return success();
}

//===----------------------------------------------------------------------===//
// RMSNormOp
//===----------------------------------------------------------------------===//

LogicalResult RMSNormOp::verify() {
  RankedTensorType input = getInput().getType();
  RankedTensorType weight = getWeight().getType();
  if (input.getRank() < 1)
    return emitOpError("input must have rank >= 1");
  if (weight.getRank() != 1 ||
      !compatible(weight.getDimSize(0), input.getShape().back()))
    return emitOpError("weight must be 1-D with one element per feature (")
           << shapeStr(input.getShape().back()) << "), got "
           << shapeStr(weight.getShape());
  if (getResult().getType() != input)
    return emitOpError("result type ")
           << getResult().getType() << " must equal the input type " << input;
  if (!isPositiveFinite(getEpsilon().convertToDouble()))
    return emitOpError("epsilon must be positive and finite");
  return success();
}

//===----------------------------------------------------------------------===//
// LinearOp
//===----------------------------------------------------------------------===//

std::optional<int64_t> LinearOp::getLayerIndex() {
  if (auto layer = (*this)->getParentOfType<LayerOp>())
    return layer.getIndex();
  return std::nullopt;
}

LogicalResult LinearOp::verify() {
  if (getName().empty())
    return emitOpError("name must not be empty");
  RankedTensorType input = getInput().getType();
  auto weight = cast<RankedTensorType>(getWeight().getType());
  RankedTensorType result = getResult().getType();
  if (weight.getRank() != 2)
    return emitOpError("weight must be 2-D [out_features, in_features], got ")
           << shapeStr(weight.getShape());
  if (input.getRank() < 1)
    return emitOpError("input must have rank >= 1");
  int64_t n = weight.getDimSize(0), k = weight.getDimSize(1);
  if (!compatible(input.getShape().back(), k))
    return emitOpError("input has ")
           << input.getShape().back() << " features but the weight "
           << shapeStr(weight.getShape()) << " expects " << k;
  SmallVector<int64_t> expected(input.getShape().drop_back());
  expected.push_back(n);
  if (!compatibleShapes(result.getShape(), expected))
    return emitOpError("result shape ")
           << shapeStr(result.getShape()) << " does not match "
           << shapeStr(expected) << " (input shape with the last dimension "
           << "replaced by out_features)";
  if (result.getElementType() != input.getElementType())
    return emitOpError("result element type ")
           << result.getElementType() << " must equal the input element type "
           << input.getElementType();
  if (Value bias = getBias()) {
    RankedTensorType b = rankedType(bias);
    if (b.getRank() != 1 || !compatible(b.getDimSize(0), n))
      return emitOpError("bias must be 1-D with ")
             << n << " elements, got " << shapeStr(b.getShape());
  }

  QuantSchemeAttr scheme = getQuantAttr();
  if (scheme && scheme.getGranularity() == Granularity::PerGroup &&
      !ShapedType::isDynamic(k) && k % scheme.getGroupSize() != 0)
    return emitOpError("group_size ")
           << scheme.getGroupSize() << " does not divide the " << k
           << " input features";
  if (std::optional<StringRef> fusion = getFusion(); fusion && fusion->empty())
    return emitOpError("fusion group name must not be empty");
  return success();
}

//===----------------------------------------------------------------------===//
// DequantizeOp
//===----------------------------------------------------------------------===//

/// Whether `packed` [N, K / perElement] can hold the levels of an [n, k]
/// weight, `perElement` levels to an element (dynamic sizes match anything).
static bool holdsLevels(RankedTensorType packed, int64_t n, int64_t k,
                        int64_t perElement) {
  return compatible(packed.getDimSize(0), n) &&
         (ShapedType::isDynamic(k) ||
          ShapedType::isDynamic(packed.getDimSize(1)) ||
          packed.getDimSize(1) * perElement == k);
}

LogicalResult DequantizeOp::verify() {
  int64_t bits = getBits();
  if (bits < 2 || bits > 8)
    return emitOpError("bits must be in [2, 8], got ") << bits;
  RankedTensorType packed = getPacked().getType();
  RankedTensorType scale = getScale().getType();
  RankedTensorType result = getResult().getType();
  if (result.getRank() != 2 || packed.getRank() != 2 || scale.getRank() != 2)
    return emitOpError("packed, scale and result must be 2-D, got ")
           << shapeStr(packed.getShape()) << ", " << shapeStr(scale.getShape())
           << " and " << shapeStr(result.getShape());
  int64_t n = result.getDimSize(0), k = result.getDimSize(1);
  int64_t rows = scale.getDimSize(0), groups = scale.getDimSize(1);
  if (isWordPacked())
    return verifyWords(n, k, rows, groups);
  bool nibbles = isNibblePacked();
  if (nibbles && bits > 4)
    return emitOpError("levels of ")
           << bits
           << " bits are stored as i8 (one per byte), got ui8 (two "
              "per byte holds 2 to 4 bits)";
  if (!holdsLevels(packed, n, k, nibbles ? 2 : 1))
    return emitOpError("packed storage ")
           << shapeStr(packed.getShape()) << " does not hold a "
           << shapeStr(result.getShape()) << " weight at " << bits
           << " bits (expected [N, K" << (nibbles ? " / 2" : "") << "])";
  if (failed(verifyScale(n, k, rows, groups)))
    return failure();
  if (Value zp = getZeroPoint()) {
    if (!rankedType(zp).getElementType().isInteger(8))
      return emitOpError("zero_point must be i8 with byte storage, got ")
             << rankedType(zp).getElementType();
    if (!compatibleShapes(rankedType(zp).getShape(), scale.getShape()))
      return emitOpError("zero_point ")
             << shapeStr(rankedType(zp).getShape())
             << " must have the shape of scale " << shapeStr(scale.getShape());
  }
  return success();
}

LogicalResult DequantizeOp::verifyScale(int64_t n, int64_t k, int64_t rows,
                                        int64_t groups) {
  if (!ShapedType::isDynamic(rows) && rows != 1 && !compatible(rows, n))
    return emitOpError("scale has ")
           << rows << " rows; expected 1 (per tensor) or " << n;
  if (!ShapedType::isDynamic(groups) &&
      (groups < 1 || (!ShapedType::isDynamic(k) && k % groups != 0)))
    return emitOpError("scale has ")
           << groups << " groups, which do not divide the " << k
           << " input channels";
  return success();
}

LogicalResult DequantizeOp::verifyWords(int64_t n, int64_t k, int64_t rows,
                                        int64_t groups) {
  int64_t bits = getBits();
  if (bits != 4 && bits != 8)
    return emitOpError("i32 words hold 4- or 8-bit levels, got ")
           << bits << " bits";
  int64_t perWord = 32 / bits;
  RankedTensorType packed = getPacked().getType();
  if (!ShapedType::isDynamic(k) && k % perWord != 0)
    return emitOpError("i32 words of ")
           << bits << "-bit levels need K divisible by " << perWord << ", got "
           << k;
  if (!holdsLevels(packed, n, k, perWord))
    return emitOpError("packed storage ")
           << shapeStr(packed.getShape()) << " does not hold a "
           << shapeStr(getResult().getType().getShape()) << " weight at "
           << bits << " bits (expected [N, K / " << perWord << "] words)";
  if (failed(verifyScale(n, k, rows, groups)))
    return failure();
  Value zp = getZeroPoint();
  if (!zp)
    return success();
  RankedTensorType zt = rankedType(zp);
  if (!zt.getElementType().isInteger(32))
    return emitOpError("zero_point must be i32 words with word storage, got ")
           << zt.getElementType();
  bool ok = zt.getRank() == 2;
  if (ok) {
    int64_t zRows = zt.getDimSize(0);
    ok = (ShapedType::isDynamic(rows) || ShapedType::isDynamic(zRows) ||
          zRows == (rows + perWord - 1) / perWord) &&
         compatible(zt.getDimSize(1), groups);
  }
  if (!ok)
    return emitOpError("zero_point ")
           << shapeStr(zt.getShape()) << " does not hold the "
           << shapeStr(getScale().getType().getShape())
           << " zero points of scale as words packed along the rows "
           << "(expected [ceil(rows / " << perWord << "), groups])";
  return success();
}

//===----------------------------------------------------------------------===//
// FakeQuantizeOp
//===----------------------------------------------------------------------===//

std::optional<std::pair<int64_t, int64_t>> FakeQuantizeOp::getRangeShape() {
  RankedTensorType input = getInput().getType();
  if (input.getRank() != 2 || !input.hasStaticShape())
    return std::nullopt;
  int64_t n = input.getDimSize(0), k = input.getDimSize(1);
  switch (getGranularity()) {
  case Granularity::PerTensor:
    return std::make_pair(int64_t(1), int64_t(1));
  case Granularity::PerChannel:
    return std::make_pair(n, int64_t(1));
  case Granularity::PerGroup:
    if (!getGroupSize() || *getGroupSize() <= 0 || k % *getGroupSize())
      return std::nullopt;
    return std::make_pair(n, k / int64_t(*getGroupSize()));
  }
  return std::nullopt;
}

LogicalResult FakeQuantizeOp::verify() {
  int64_t bits = getBits();
  if (bits < 2 || bits > 8)
    return emitOpError("bits must be in [2, 8], got ") << bits;
  RankedTensorType input = getInput().getType();
  int64_t width = input.getRank() ? input.getShape().back() : 1;
  if (input.getRank() == 0)
    return emitOpError("input must have rank >= 1");
  if (!compatibleShapes(getResult().getType().getShape(), input.getShape()))
    return emitOpError("result shape ")
           << shapeStr(getResult().getType().getShape())
           << " must be the input shape " << shapeStr(input.getShape());
  bool perGroup = getGranularity() == Granularity::PerGroup;
  if (perGroup != getGroupSize().has_value())
    return emitOpError(perGroup ? "per_group needs group_size"
                                : "group_size is only valid with per_group");
  if (perGroup) {
    int64_t g = *getGroupSize();
    if (g <= 0)
      return emitOpError("group_size must be positive, got ") << g;
    if (!ShapedType::isDynamic(width) && width % g)
      return emitOpError("group_size ")
             << g << " does not divide the last axis (" << width << ")";
  }
  if (getZeroPoint() && !getScale())
    return emitOpError("zero_point needs scale (static ranges)");
  if (getScale() && (getClipMax() || getClipMin()))
    return emitOpError("clipping factors apply to dynamic ranges; static "
                       "ranges (scale) are already clipped");
  if (getScale() && getSymmetric() == static_cast<bool>(getZeroPoint()))
    return emitOpError(getSymmetric()
                           ? "symmetric quantization has no zero_point"
                           : "asymmetric static quantization needs zero_point");
  if (getClipMax() && getSymmetric() && getClipMin())
    return emitOpError("symmetric quantization takes clip_max only");
  if (getClipMax() && !getSymmetric() && !getClipMin())
    return emitOpError("asymmetric clipping needs clip_max and clip_min");

  // Operands shaped like the ranges.
  SmallVector<std::pair<StringRef, Value>> ranged;
  for (auto [name, v] : {std::pair<StringRef, Value>("scale", getScale()),
                         {"zero_point", getZeroPoint()},
                         {"clip_max", getClipMax()},
                         {"clip_min", getClipMin()}})
    if (v)
      ranged.push_back({name, v});
  if (ranged.empty())
    return success();
  std::optional<std::pair<int64_t, int64_t>> expected = getRangeShape();
  bool perTensor = getGranularity() == Granularity::PerTensor;
  if (!expected && !perTensor)
    return emitOpError(ranged.front().first)
           << " needs a 2-D input of static shape (a weight) for "
           << stringifyGranularity(getGranularity()) << " ranges, got "
           << shapeStr(input.getShape());
  std::pair<int64_t, int64_t> shape =
      expected ? *expected : std::make_pair(int64_t(1), int64_t(1));
  SmallVector<int64_t> want = {shape.first, shape.second};
  for (auto [name, v] : ranged) {
    ArrayRef<int64_t> got = rankedType(v).getShape();
    if (got.size() != 2 || !compatibleShapes(got, want))
      return emitOpError(name)
             << " " << shapeStr(got) << " must be " << shapeStr(want) << " for "
             << stringifyGranularity(getGranularity()) << " ranges of a "
             << shapeStr(input.getShape()) << " input";
  }
  return success();
}

//===----------------------------------------------------------------------===//
// SmoothOp
//===----------------------------------------------------------------------===//

/// A smoothing scale has one element per `channel` of a `width`-wide axis.
static LogicalResult verifyChannelScale(Operation *op, Value scale,
                                        int64_t width, StringRef channel) {
  ArrayRef<int64_t> got = rankedType(scale).getShape();
  if (got.size() != 1 || !compatible(got[0], width))
    return op->emitOpError("scale ")
           << shapeStr(got) << " must have one element per " << channel << " "
           << shapeStr({width});
  return success();
}

LogicalResult SmoothOp::verify() {
  RankedTensorType input = getInput().getType();
  if (input.getRank() == 0)
    return emitOpError("input must have rank >= 1");
  return verifyChannelScale(*this, getScale(), input.getShape().back(),
                            "channel");
}

//===----------------------------------------------------------------------===//
// SmoothWeightOp
//===----------------------------------------------------------------------===//

LogicalResult SmoothWeightOp::verify() {
  RankedTensorType weight = getWeight().getType();
  if (weight.getRank() != 2)
    return emitOpError("weight must be 2-D [N, K], got ")
           << shapeStr(weight.getShape());
  if (!compatibleShapes(getResult().getType().getShape(), weight.getShape()))
    return emitOpError("result shape ")
           << shapeStr(getResult().getType().getShape())
           << " must be the weight shape " << shapeStr(weight.getShape());
  return verifyChannelScale(*this, getScale(), weight.getDimSize(1),
                            "input channel");
}

//===----------------------------------------------------------------------===//
// RopeOp
//===----------------------------------------------------------------------===//

LogicalResult RopeOp::verify() {
  RankedTensorType input = getInput().getType();
  RankedTensorType positions = getPositions().getType();
  int64_t headDim = getHeadDim();
  if (headDim <= 0 || headDim % 2 != 0)
    return emitOpError("head_dim must be positive and even, got ") << headDim;
  if (input.getRank() < 2)
    return emitOpError("input must have rank >= 2 ([..., seq, heads * "
                       "head_dim])");
  int64_t width = input.getShape().back();
  if (!ShapedType::isDynamic(width) && width % headDim != 0)
    return emitOpError("input width ")
           << width << " is not a multiple of head_dim " << headDim;
  if (!compatibleShapes(positions.getShape(), input.getShape().drop_back()))
    return emitOpError("positions shape ")
           << shapeStr(positions.getShape())
           << " must match the input shape without its last dimension "
           << shapeStr(input.getShape().drop_back());
  if (!isPositiveFinite(getTheta().convertToDouble()))
    return emitOpError("theta must be positive and finite");
  if (getResult().getType() != input)
    return emitOpError("result type ")
           << getResult().getType() << " must equal the input type " << input;
  return success();
}

//===----------------------------------------------------------------------===//
// AttentionOp
//===----------------------------------------------------------------------===//

LogicalResult AttentionOp::verify() {
  int64_t heads = getNumHeads(), kvHeads = getNumKvHeads(),
          headDim = getHeadDim();
  if (heads <= 0 || kvHeads <= 0 || headDim <= 0)
    return emitOpError("num_heads, num_kv_heads and head_dim must be "
                       "positive");
  if (heads % kvHeads != 0)
    return emitOpError("num_kv_heads (")
           << kvHeads << ") must divide num_heads (" << heads << ")";
  // Products of attributes are checked: wrapping values must not verify.
  std::optional<int64_t> qFeatures = llvm::checkedMul(heads, headDim);
  std::optional<int64_t> kvFeatures = llvm::checkedMul(kvHeads, headDim);
  if (!qFeatures || !kvFeatures)
    return emitOpError("num_heads * head_dim (")
           << heads << " * " << headDim << ") overflows 64 bits";
  RankedTensorType q = getQuery().getType(), k = getKey().getType(),
                   v = getValue().getType(), r = getResult().getType();
  for (auto [t, what] : {std::pair{q, "query"}, std::pair{k, "key"},
                         std::pair{v, "value"}, std::pair{r, "result"}})
    if (t.getRank() != 3)
      return emitOpError() << what << " must be 3-D [batch, seq, features], "
                           << "got " << shapeStr(t.getShape());
  if (!compatible(q.getDimSize(2), *qFeatures))
    return emitOpError("query has ")
           << q.getDimSize(2)
           << " features but num_heads * head_dim = " << *qFeatures;
  for (auto [t, what] : {std::pair{k, "key"}, std::pair{v, "value"}})
    if (!compatible(t.getDimSize(2), *kvFeatures))
      return emitOpError() << what << " has " << t.getDimSize(2)
                           << " features but num_kv_heads * head_dim = "
                           << *kvFeatures;
  if (!compatible(q.getDimSize(0), k.getDimSize(0)) ||
      !compatible(k.getDimSize(0), v.getDimSize(0)))
    return emitOpError("query, key and value must have the same batch size");
  if (!compatibleShapes(k.getShape().drop_back(), v.getShape().drop_back()))
    return emitOpError("key and value must have the same batch and sequence "
                       "sizes");
  if (Value mask = getMask()) {
    RankedTensorType m = rankedType(mask);
    if (!compatibleShapes(m.getShape(), k.getShape().drop_back()))
      return emitOpError("mask shape ")
             << shapeStr(m.getShape()) << " must be [batch, key seq] "
             << shapeStr(k.getShape().drop_back());
  }
  if (!isPositiveFinite(getScale().convertToDouble()))
    return emitOpError("scale must be positive and finite");
  if (k.getElementType() != q.getElementType() ||
      v.getElementType() != q.getElementType() ||
      r.getElementType() != q.getElementType())
    return emitOpError("query, key, value and result must have the same "
                       "element type");
  SmallVector<int64_t> expected = {q.getDimSize(0), q.getDimSize(1),
                                   *qFeatures};
  if (!compatibleShapes(r.getShape(), expected))
    return emitOpError("result shape ")
           << shapeStr(r.getShape()) << " must be " << shapeStr(expected);
  return success();
}

//===----------------------------------------------------------------------===//
// Calibration objectives
//===----------------------------------------------------------------------===//

LogicalResult GatherTokenOp::verify() {
  RankedTensorType input = getInput().getType();
  RankedTensorType index = getIndex().getType();
  RankedTensorType result = getResult().getType();
  if (input.getRank() != 3)
    return emitOpError("input must be 3-D [batch, seq, features], got ")
           << shapeStr(input.getShape());
  if (!compatibleShapes(index.getShape(), {input.getDimSize(0)}))
    return emitOpError("index shape ")
           << shapeStr(index.getShape()) << " must be [batch] "
           << shapeStr({input.getDimSize(0)});
  SmallVector<int64_t> expected = {input.getDimSize(0), input.getDimSize(2)};
  if (!compatibleShapes(result.getShape(), expected) ||
      result.getElementType() != input.getElementType())
    return emitOpError("result must be ")
           << shapeStr(expected) << " of the input's element type";
  return success();
}

/// A loss term's `coefficient`: finite (it may be 0 or negative, which
/// turns a term off or into a reward).
static LogicalResult verifyCoefficient(Operation *op, double c) {
  if (!std::isfinite(c))
    return op->emitOpError("coefficient must be finite");
  return success();
}

LogicalResult SquaredErrorOp::verify() {
  RankedTensorType lhs = getLhs().getType(), rhs = getRhs().getType();
  RankedTensorType weight = getWeight().getType();
  if (lhs.getRank() < 1)
    return emitOpError("operands must have rank >= 1");
  if (!compatibleShapes(rhs.getShape(), lhs.getShape()))
    return emitOpError("operand shapes ")
           << shapeStr(lhs.getShape()) << " and " << shapeStr(rhs.getShape())
           << " differ";
  if (!compatibleShapes(weight.getShape(), lhs.getShape().drop_back()))
    return emitOpError("weight shape ")
           << shapeStr(weight.getShape())
           << " must be the operands' shape without its last dimension "
           << shapeStr(lhs.getShape().drop_back());
  return verifyCoefficient(*this, getCoefficient().convertToDouble());
}

LogicalResult BoundaryLossOp::verify() {
  RankedTensorType input = getInput().getType();
  RankedTensorType probeWeight = getProbeWeight().getType();
  RankedTensorType probeBias = getProbeBias().getType();
  RankedTensorType weight = getWeight().getType();
  if (input.getRank() != 2)
    return emitOpError("input must be 2-D [batch, features], got ")
           << shapeStr(input.getShape());
  if (!compatibleShapes(probeWeight.getShape(), {input.getDimSize(1)}))
    return emitOpError("probe weight ") << shapeStr(probeWeight.getShape())
                                        << " must have one element per feature "
                                        << shapeStr({input.getDimSize(1)});
  if (!compatibleShapes(probeBias.getShape(), {1}))
    return emitOpError("probe bias ")
           << shapeStr(probeBias.getShape()) << " must be [1]";
  if (!compatibleShapes(weight.getShape(), {input.getDimSize(0)}))
    return emitOpError("weight shape ")
           << shapeStr(weight.getShape()) << " must be [batch] "
           << shapeStr({input.getDimSize(0)});
  if (!std::isfinite(getMargin().convertToDouble()))
    return emitOpError("margin must be finite");
  return verifyCoefficient(*this, getCoefficient().convertToDouble());
}

//===----------------------------------------------------------------------===//
// LayerOp
//===----------------------------------------------------------------------===//

LogicalResult LayerOp::verify() {
  if (getIndex() < 0)
    return emitOpError("index must be >= 0, got ") << getIndex();
  if (getInputs().empty())
    return emitOpError("needs at least one input (the residual stream)");
  auto hidden = dyn_cast<RankedTensorType>(getHidden().getType());
  if (!hidden || !isa<FloatType>(hidden.getElementType()) ||
      hidden.getRank() != 3)
    return emitOpError("first input must be the residual stream, a 3-D float "
                       "tensor [batch, seq, hidden], got ")
           << getHidden().getType();
  if (getResult().getType() != hidden)
    return emitOpError("result type ")
           << getResult().getType() << " must equal the residual stream type "
           << hidden;
  if (Block *block = (*this)->getBlock()) {
    for (Operation &op : *block) {
      if (&op == getOperation())
        break;
      auto other = dyn_cast<LayerOp>(op);
      if (other && other.getIndex() == getIndex()) {
        InFlightDiagnostic diag = emitOpError("index ")
                                  << getIndex() << " is used twice";
        diag.attachNote(other.getLoc()) << "first used here";
        return diag;
      }
    }
  }
  return success();
}

LogicalResult LayerOp::verifyRegions() {
  Block &body = getBody().front();
  if (body.getNumArguments() != getInputs().size())
    return emitOpError("region has ")
           << body.getNumArguments() << " arguments but the layer has "
           << getInputs().size() << " inputs";
  for (auto [i, arg, input] : llvm::enumerate(body.getArguments(), getInputs()))
    if (arg.getType() != input.getType())
      return emitOpError("region argument #")
             << i << " has type " << arg.getType() << " but input #" << i
             << " has type " << input.getType();
  auto yield = dyn_cast<YieldOp>(body.getTerminator());
  if (!yield)
    return emitOpError("region must end with qrealign.yield");
  if (yield.getValue().getType() != getResult().getType())
    return yield.emitOpError("yields ")
           << yield.getValue().getType() << " but the layer returns "
           << getResult().getType();
  return success();
}

LogicalResult LayerOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  SafetyBoundaryAttr boundary = getBoundaryAttr();
  if (!boundary)
    return success();
  FailureOr<ParamOp> param = lookupParam(
      *this, symbolTable, boundary.getWeight(), "safety boundary weight");
  if (failed(param))
    return failure();
  RankedTensorType type = param->getTensorType();
  int64_t hidden = getProbedHiddenSize();
  if (type.getRank() != 1 || !isa<FloatType>(type.getElementType()) ||
      !compatible(type.getDimSize(0), hidden))
    return emitOpError("safety boundary weight ")
           << boundary.getWeight() << " must be a 1-D float tensor of the "
           << "hidden size " << hidden << ", got " << type;
  FailureOr<ParamOp> bias = lookupParam(*this, symbolTable, boundary.getBias(),
                                        "safety boundary bias");
  if (failed(bias))
    return failure();
  RankedTensorType biasType = bias->getTensorType();
  if (biasType.getRank() != 1 || !isa<FloatType>(biasType.getElementType()) ||
      biasType.getDimSize(0) != 1)
    return emitOpError("safety boundary bias ")
           << boundary.getBias() << " must be a float tensor<1>, got "
           << biasType;
  return success();
}

SafetyBoundaryAttr LayerOp::getSafetyBoundary() { return getBoundaryAttr(); }

void LayerOp::setSafetyBoundary(SafetyBoundaryAttr boundary) {
  if (boundary)
    setBoundaryAttr(boundary);
  else
    removeBoundaryAttr();
}

int64_t LayerOp::getProbedHiddenSize() {
  return rankedType(getHidden()).getShape().back();
}

//===----------------------------------------------------------------------===//
// TableGen'd op definitions
//===----------------------------------------------------------------------===//

#define GET_OP_CLASSES
#include "qrealign/Dialect/QRealign/IR/QRealignOps.cpp.inc"
