//===- GPUW4A16MMA.cpp - qrealign-gpu-w4a16-mma ---------------------------===//
//
// Part of the qrealign project.
//
// W4A16 linears on NVIDIA tensor cores: the packed weight-only contraction
// of convert-qrealign-to-linalg (bufferized) becomes warp-level code that
// loads each lane's fragment of the packed weight, dequantizes it in
// registers to f16 and issues nvgpu.mma.sync m16n8k16. Upstream's
// convert-vector-to-gpu refuses a contraction fed by dequantization
// arithmetic (../shared/notes/lowering.md), hence this pass.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Conversion/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/NVGPU/Utils/MMAUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Matchers.h"
#include "llvm/Support/FormatVariadic.h"

namespace mlir::qrealign {
#define GEN_PASS_DEF_QREALIGNGPUW4A16MMAPASS
#include "qrealign/Conversion/Passes.h.inc"
} // namespace mlir::qrealign

using namespace mlir;

//===----------------------------------------------------------------------===//
// Recognizing the contraction
//===----------------------------------------------------------------------===//

/// Whether `op` has the loops and maps of the packed weight-only
/// contraction convert-qrealign-to-linalg emits for few rows: loops
/// (m, n, g, j, b), operands x[m, g, b, j], unit[n, g, b], scale[n, g],
/// optionally zero[n, g], and y[m, n]. This pass lowers it (and says why
/// not when its types or body differ).
static bool isPackedWeightOnlyContraction(linalg::GenericOp op) {
  if (op.getNumLoops() != 5 || op.getNumDpsInits() != 1 ||
      op.getNumDpsInputs() < 3 || op.getNumDpsInputs() > 4)
    return false;
  MLIRContext *ctx = op.getContext();
  auto map = [&](ArrayRef<unsigned> dims) {
    SmallVector<AffineExpr> exprs;
    for (unsigned d : dims)
      exprs.push_back(getAffineDimExpr(d, ctx));
    return AffineMap::get(5, 0, exprs, ctx);
  };
  SmallVector<AffineMap> want = {map({0, 2, 4, 3}), map({1, 2, 4}),
                                 map({1, 2})};
  if (op.getNumDpsInputs() == 4)
    want.push_back(map({1, 2}));
  want.push_back(map({0, 1}));
  using utils::IteratorType;
  return op.getIndexingMapsArray() == ArrayRef(want) &&
         op.getIteratorTypesArray() ==
             ArrayRef<IteratorType>{
                 IteratorType::parallel, IteratorType::parallel,
                 IteratorType::reduction, IteratorType::reduction,
                 IteratorType::reduction};
}

namespace {
/// What the pass needs to know about one W4A16 contraction.
struct W4A16Contraction {
  Value x, units, scale, zero, out; // zero may be null
  int64_t m, n, groups, unitsPerGroup, levelsPerUnit;
  Type scaleType, outType;
  linalg::FillOp fill;
};
} // namespace

template <typename OpTy>
static OpTy def(Value v) {
  return v ? v.getDefiningOp<OpTy>() : OpTy();
}

static bool isConstant(Value v, int64_t c) {
  APInt value;
  return v && matchPattern(v, m_ConstantInt(&value)) && value == c;
}

/// Why the body of `op` is not `out + x · w(unit, j)` with the weight
/// dequantized as convert-qrealign-to-linalg writes it, or "".
static std::string whyNotW4A16Body(linalg::GenericOp op, bool hasZero) {
  Block &body = op.getRegion().front();
  Value x = body.getArgument(0), unit = body.getArgument(1),
        scale = body.getArgument(2),
        zero = hasZero ? body.getArgument(3) : Value(),
        acc = body.getArguments().back();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  auto add = def<arith::AddFOp>(yield.getValues()[0]);
  auto mul = add && add.getLhs() == acc ? def<arith::MulFOp>(add.getRhs())
                                        : arith::MulFOp();
  if (!mul)
    return "the body is not acc + x * w";
  // x and w, widened to the accumulator's type where it is f32.
  Value xv = mul.getLhs(), wv = mul.getRhs();
  if (auto ext = def<arith::ExtFOp>(xv))
    xv = ext.getIn();
  if (auto ext = def<arith::ExtFOp>(wv))
    wv = ext.getIn();
  if (xv != x)
    return "the body does not multiply the activation";
  auto round = def<arith::TruncFOp>(wv);
  if (!round || !round.getType().isF16())
    return "the dequantized weight is not rounded to f16";
  auto scaled = def<arith::MulFOp>(round.getIn());
  Value s = scaled ? scaled.getRhs() : Value();
  if (auto ext = def<arith::ExtFOp>(s))
    s = ext.getIn();
  auto toFloat =
      scaled ? def<arith::SIToFPOp>(scaled.getLhs()) : arith::SIToFPOp();
  if (s != scale || !toFloat || !toFloat.getType().isF32())
    return "the weight is not f32(level) * scale";
  Value level = toFloat.getIn();
  if (hasZero) {
    auto sub = def<arith::SubIOp>(level);
    auto z = sub ? def<arith::ExtSIOp>(sub.getRhs()) : arith::ExtSIOp();
    if (!z || z.getIn() != zero)
      return "the level is not q - zero point";
    level = sub.getLhs();
  }
  auto offset = def<arith::SubIOp>(level);
  auto mask = offset ? def<arith::AndIOp>(offset.getLhs()) : arith::AndIOp();
  auto shift = mask ? def<arith::ShRUIOp>(mask.getLhs()) : arith::ShRUIOp();
  if (!offset || !isConstant(offset.getRhs(), 8) || !mask ||
      !isConstant(mask.getRhs(), 15) || !shift)
    return "the level is not (unit >> 4j & 15) - 8 (4-bit, offset-binary)";
  auto times = def<arith::MulIOp>(shift.getRhs());
  auto cast =
      times ? def<arith::IndexCastOp>(times.getLhs()) : arith::IndexCastOp();
  auto index = cast ? def<linalg::IndexOp>(cast.getIn()) : linalg::IndexOp();
  if (!times || !isConstant(times.getRhs(), 4) || !index || index.getDim() != 3)
    return "the nibble shift is not 4 * j (loop 3)";
  Value u = shift.getLhs();
  if (auto ext = def<arith::ExtUIOp>(u))
    u = ext.getIn();
  if (u != unit)
    return "the nibble is not read from the storage unit";
  return "";
}

/// The contraction `op` (on memrefs) as a W4A16 tensor-core job, or an
/// error at `op` saying why it is not one.
static FailureOr<W4A16Contraction> matchW4A16(linalg::GenericOp op) {
  auto fail = [&](const Twine &why) {
    op->emitError() << "qrealign-gpu-w4a16-mma: no tensor-core lowering for "
                       "this W4A16 contraction: "
                    << why;
    return failure();
  };
  if (!op.hasPureBufferSemantics())
    return fail("not bufferized (run one-shot-bufferize first)");
  W4A16Contraction c;
  c.x = op.getDpsInputs()[0];
  c.units = op.getDpsInputs()[1];
  c.scale = op.getDpsInputs()[2];
  c.zero = op.getNumDpsInputs() == 4 ? op.getDpsInputs()[3] : Value();
  c.out = op.getDpsInits()[0];
  auto typeOf = [](Value v) { return cast<MemRefType>(v.getType()); };
  for (Value v : op->getOperands())
    if (!typeOf(v).hasStaticShape())
      return fail("dynamic sizes");
  MemRefType x = typeOf(c.x), units = typeOf(c.units), out = typeOf(c.out);
  if (!x.getElementType().isF16())
    return fail(
        llvm::formatv("activations of type {0}, not f16", x.getElementType()));
  // The lanes load pairs of activations with one vector.load.
  if (x.getStridesAndOffset().first.back() != 1)
    return fail("activations are not contiguous along K");
  c.levelsPerUnit = units.getElementType().isInteger(8)    ? 2
                    : units.getElementType().isInteger(32) ? 8
                                                           : 0;
  if (!c.levelsPerUnit || x.getDimSize(3) != c.levelsPerUnit)
    return fail("storage units are neither bytes of 2 nor words of 8 levels");
  c.outType = out.getElementType();
  if (!c.outType.isF16() && !c.outType.isF32())
    return fail("the output is neither f16 nor f32");
  c.scaleType = typeOf(c.scale).getElementType();
  if (c.zero && !typeOf(c.zero).getElementType().isInteger(8))
    return fail("zero points are not i8");
  c.m = out.getDimSize(0);
  c.n = out.getDimSize(1);
  c.groups = x.getDimSize(1);
  c.unitsPerGroup = x.getDimSize(2);
  int64_t groupWidth = c.unitsPerGroup * c.levelsPerUnit;
  if (c.n % 8 || groupWidth % 16)
    return fail(llvm::formatv("N = {0} is not a multiple of 8 or the group "
                              "width {1} not a multiple of 16",
                              c.n, groupWidth));
  std::string why = whyNotW4A16Body(op, bool(c.zero));
  if (!why.empty())
    return fail(why);
  // The accumulator's fill: the nearest write before the contraction, with
  // only side-effect-free ops (views, constants) in between.
  for (Operation *prev = op->getPrevNode(); prev; prev = prev->getPrevNode()) {
    if (auto fill = dyn_cast<linalg::FillOp>(prev)) {
      if (fill.getDpsInits()[0] == c.out)
        c.fill = fill;
      break;
    }
    if (!isPure(prev))
      break;
  }
  if (!c.fill || !matchPattern(c.fill.getInputs()[0], m_Constant()))
    return fail("the accumulator is not filled with a constant just before");
  return c;
}

//===----------------------------------------------------------------------===//
// Building the kernel
//===----------------------------------------------------------------------===//

namespace {
/// Builds the warp-level code of one W4A16 contraction.
class W4A16KernelBuilder {
public:
  W4A16KernelBuilder(OpBuilder &b, Location loc, const W4A16Contraction &c)
      : b(b), loc(loc), c(c) {}

  void build(Value init);

private:
  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value i32(int64_t v) {
    return arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(v));
  }
  /// The (row, column) of value `valueId` of `lane`'s fragment of `type`.
  std::pair<Value, Value> coord(VectorType type, nvgpu::MatMulOperandRole role,
                                Value lane, int64_t valueId);
  /// (group, unit in the group, level in the unit) of column `k` of x.
  std::array<Value, 3> split(Value k);
  Value loadActivations(Value lane, Value m0, Value k0);
  Value loadWeight(Value lane, Value n0, Value k0);

  OpBuilder &b;
  Location loc;
  const W4A16Contraction &c;
};
} // namespace

std::pair<Value, Value> W4A16KernelBuilder::coord(VectorType type,
                                                  nvgpu::MatMulOperandRole role,
                                                  Value lane, int64_t valueId) {
  AffineMap map = *nvgpu::getLaneIdAndValueIdToOperandCoord(
      b, loc, nvgpu::WarpMatrixInfo{type, role});
  SmallVector<Value> operands = {lane, idx(valueId)};
  return {affine::AffineApplyOp::create(b, loc, map.getSubMap({0}), operands),
          affine::AffineApplyOp::create(b, loc, map.getSubMap({1}), operands)};
}

std::array<Value, 3> W4A16KernelBuilder::split(Value k) {
  AffineExpr d = b.getAffineDimExpr(0);
  int64_t u = c.levelsPerUnit, width = c.unitsPerGroup * u;
  auto apply = [&](AffineExpr e) -> Value {
    return affine::AffineApplyOp::create(b, loc, AffineMap::get(1, 0, e), k);
  };
  return {apply(d.floorDiv(width)), apply((d % width).floorDiv(u)),
          apply(d % u)};
}

Value W4A16KernelBuilder::loadActivations(Value lane, Value m0, Value k0) {
  Type f16 = b.getF16Type();
  auto type = VectorType::get({16, 16}, f16);
  auto pair = VectorType::get({2}, f16);
  bool masked = c.m % 16 != 0;
  Value frag = arith::ConstantOp::create(
      b, loc,
      DenseElementsAttr::get(VectorType::get({4, 2}, f16),
                             b.getF16FloatAttr(0)));
  for (int64_t r = 0; r < 4; ++r) {
    auto [row, col] = coord(type, nvgpu::MatMulOperandRole::A, lane, 2 * r);
    Value m = arith::AddIOp::create(b, loc, m0, row);
    Value inside;
    if (masked) {
      inside =
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, m, idx(c.m));
      m = arith::MinSIOp::create(b, loc, m, idx(c.m - 1));
    }
    auto [g, unit, level] = split(arith::AddIOp::create(b, loc, k0, col));
    Value v = vector::LoadOp::create(b, loc, pair, c.x,
                                     ValueRange{m, g, unit, level});
    if (masked)
      v = arith::SelectOp::create(
          b, loc, inside, v,
          arith::ConstantOp::create(
              b, loc, DenseElementsAttr::get(pair, b.getF16FloatAttr(0))));
    frag = vector::InsertOp::create(b, loc, v, frag, ArrayRef<int64_t>{r});
  }
  return frag;
}

Value W4A16KernelBuilder::loadWeight(Value lane, Value n0, Value k0) {
  Type f16 = b.getF16Type(), f32 = b.getF32Type(), i32t = b.getI32Type();
  auto type = VectorType::get({8, 16}, f16);
  Value frag = arith::ConstantOp::create(
      b, loc,
      DenseElementsAttr::get(VectorType::get({2, 2}, f16),
                             b.getF16FloatAttr(0)));
  // A lane's 4 levels: columns k, k + 1 (one register) and k + 8, k + 9
  // (the other) of one row n, with k even: two units (levels per unit are
  // even) and one group (groups are a multiple of 16 wide), so one scale
  // and zero point.
  Value scale, zero;
  for (int64_t r = 0; r < 2; ++r) {
    auto [row, col] = coord(type, nvgpu::MatMulOperandRole::B, lane, 2 * r);
    Value n = arith::AddIOp::create(b, loc, n0, row);
    auto [g, unit, level] = split(arith::AddIOp::create(b, loc, k0, col));
    if (!scale) {
      scale = memref::LoadOp::create(b, loc, c.scale, ValueRange{n, g});
      if (!c.scaleType.isF32())
        scale = arith::ExtFOp::create(b, loc, f32, scale);
      if (c.zero)
        zero = arith::ExtSIOp::create(
            b, loc, i32t,
            memref::LoadOp::create(b, loc, c.zero, ValueRange{n, g}));
    }
    Value u = memref::LoadOp::create(b, loc, c.units, ValueRange{n, g, unit});
    if (c.levelsPerUnit == 2)
      u = arith::ExtUIOp::create(b, loc, i32t, u);
    Value j = arith::IndexCastOp::create(b, loc, i32t, level);
    for (int64_t half = 0; half < 2; ++half) {
      // The linalg body's operations, in its order: the same value.
      Value shift = arith::MulIOp::create(
          b, loc, arith::AddIOp::create(b, loc, j, i32(half)), i32(4));
      Value q = arith::SubIOp::create(
          b, loc,
          arith::AndIOp::create(
              b, loc, arith::ShRUIOp::create(b, loc, u, shift), i32(15)),
          i32(8));
      if (zero)
        q = arith::SubIOp::create(b, loc, q, zero);
      Value w = arith::TruncFOp::create(
          b, loc, f16,
          arith::MulFOp::create(b, loc, arith::SIToFPOp::create(b, loc, f32, q),
                                scale));
      frag =
          vector::InsertOp::create(b, loc, w, frag, ArrayRef<int64_t>{r, half});
    }
  }
  return frag;
}

void W4A16KernelBuilder::build(Value init) {
  constexpr int64_t warps = 4;
  Value gridX = idx(llvm::divideCeil(c.n, 8 * warps));
  Value gridY = idx(llvm::divideCeil(c.m, 16));
  auto launch = gpu::LaunchOp::create(b, loc, gridX, gridY, idx(1), idx(32),
                                      idx(warps), idx(1));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&launch.getBody().front());
  gpu::TerminatorOp::create(b, loc);
  b.setInsertionPointToStart(&launch.getBody().front());

  Value lane = launch.getThreadIds().x, warp = launch.getThreadIds().y;
  AffineExpr bx = b.getAffineDimExpr(0), w = b.getAffineDimExpr(1),
             by = b.getAffineDimExpr(0);
  Value n0 = affine::AffineApplyOp::create(
      b, loc, AffineMap::get(2, 0, (bx * warps + w) * 8),
      ValueRange{launch.getBlockIds().x, warp});
  Value m0 = affine::AffineApplyOp::create(
      b, loc, AffineMap::get(1, 0, by * 16), launch.getBlockIds().y);
  // Warps past N (N not a multiple of 32) do nothing: a warp-uniform branch.
  Value active =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, n0, idx(c.n));
  auto ifActive = scf::IfOp::create(b, loc, active, /*withElse=*/false);
  b.setInsertionPointToStart(ifActive.thenBlock());

  Type f32 = b.getF32Type();
  auto accType = VectorType::get({2, 2}, f32);
  Value start = init;
  if (!start.getType().isF32())
    start = arith::ExtFOp::create(b, loc, f32, start);
  Value acc0 = vector::BroadcastOp::create(b, loc, accType, start);
  int64_t k = c.groups * c.unitsPerGroup * c.levelsPerUnit;
  auto loop =
      scf::ForOp::create(b, loc, idx(0), idx(k), idx(16), ValueRange{acc0});
  {
    OpBuilder::InsertionGuard inLoop(b);
    b.setInsertionPointToStart(loop.getBody());
    Value k0 = loop.getInductionVar();
    Value a = loadActivations(lane, m0, k0);
    Value wf = loadWeight(lane, n0, k0);
    Value next =
        nvgpu::MmaSyncOp::create(b, loc, a, wf, loop.getRegionIterArgs()[0],
                                 ArrayRef<int64_t>{16, 8, 16});
    scf::YieldOp::create(b, loc, next);
  }

  auto cType = VectorType::get({16, 8}, f32);
  for (int64_t v = 0; v < 4; ++v) {
    auto [row, col] = coord(cType, nvgpu::MatMulOperandRole::C, lane, v);
    Value m = arith::AddIOp::create(b, loc, m0, row);
    Value n = arith::AddIOp::create(b, loc, n0, col);
    Value value = vector::ExtractOp::create(b, loc, loop.getResult(0),
                                            ArrayRef<int64_t>{v / 2, v % 2});
    if (!c.outType.isF32())
      value = arith::TruncFOp::create(b, loc, c.outType, value);
    if (c.m % 16 == 0) {
      memref::StoreOp::create(b, loc, value, c.out, ValueRange{m, n});
      continue;
    }
    Value inside =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, m, idx(c.m));
    auto store = scf::IfOp::create(b, loc, inside, /*withElse=*/false);
    OpBuilder::InsertionGuard inner(b);
    b.setInsertionPointToStart(store.thenBlock());
    memref::StoreOp::create(b, loc, value, c.out, ValueRange{m, n});
  }
}

//===----------------------------------------------------------------------===//
// The pass
//===----------------------------------------------------------------------===//

namespace {
struct GPUW4A16MMAPass
    : mlir::qrealign::impl::QRealignGPUW4A16MMAPassBase<GPUW4A16MMAPass> {
  void runOnOperation() override {
    SmallVector<linalg::GenericOp> ops;
    getOperation().walk([&](linalg::GenericOp op) {
      if (isPackedWeightOnlyContraction(op))
        ops.push_back(op);
    });
    bool ok = true;
    for (linalg::GenericOp op : ops) {
      FailureOr<W4A16Contraction> c = matchW4A16(op);
      if (failed(c)) {
        ok = false;
        continue;
      }
      OpBuilder b(op);
      Value init = c->fill.getInputs()[0];
      W4A16KernelBuilder(b, op.getLoc(), *c).build(init);
      op.erase();
      c->fill.erase();
    }
    if (!ok)
      signalPassFailure();
  }
};
} // namespace
