//===- CPUVectorize.cpp - qrealign-cpu-vectorize --------------------------===//
//
// Part of the qrealign project.
//
// Tiles and vectorizes the contractions of a linalg-level module for the
// host: a transform-dialect script, built for the loop structures present
// and applied here (the pass's documentation in Passes.td says what it
// does).
//
//===----------------------------------------------------------------------===//

#include "TransformScript.h"
#include "qrealign/Conversion/Passes.h"
#include "qrealign/Conversion/Pipelines/Pipelines.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/SmallBitVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/TargetParser/Host.h"

#include <map>
#include <tuple>

namespace mlir::qrealign {
#define GEN_PASS_DEF_QREALIGNCPUVECTORIZEPASS
#include "qrealign/Conversion/Passes.h.inc"
} // namespace mlir::qrealign

using namespace mlir;

/// Lanes of the partial sums, and the output tile.
static constexpr int64_t kLanes = 8;

/// How one loop structure is scheduled: the loop order (`interchange[i]`
/// is the original loop that becomes loop i; the identity is empty) and
/// the tile sizes in that order (the innermost loop, the reduction, is 0).
///
/// `fused` >= 0: the producer of that input (an elementwise generic, such as
/// a W4A16 weight's dequantization) is computed inside the loop over the
/// 8-wide tiles, a tile's slice at a time, before the loops the operand does
/// not read (a linear's tokens); `producerTiles` tile it for vectorization.
///
/// `elementwise`: an elementwise op that reads i4 levels (a W4A8 weight
/// unpacked to i8 for prefill), tiled by `tiles` and vectorized, without a
/// reduction.
struct Schedule {
  SmallVector<int64_t> interchange, tiles;
  bool elementwise = false;
  int64_t fused = -1;
  /// The producer's result reaches the operand through a
  /// tensor.collapse_shape (a dequantized weight `[N, G, K / G]` read as
  /// `[N, K]`).
  bool throughReshape = false;
  SmallVector<int64_t> producerTiles;
  /// The token loop tiled by more than one (register blocking: each weight
  /// vector loaded once for `tiles[rowsLoop]` tokens), its position in
  /// `tiles`; -1 for none. `peel`: its extent may not be a multiple of its
  /// tile (a dynamic one), so the last partial tile is peeled off and runs
  /// a token at a time.
  int64_t rowsLoop = -1;
  bool peel = false;
  /// Partial sums per output: the reduction's step.
  int64_t lanes = kLanes;
  bool operator<(const Schedule &o) const {
    return std::tie(interchange, tiles, elementwise, fused, throughReshape,
                    producerTiles, rowsLoop, peel, lanes) <
           std::tie(o.interchange, o.tiles, o.elementwise, o.fused,
                    o.throughReshape, o.producerTiles, o.rowsLoop, o.peel,
                    o.lanes);
  }
};

/// The loops the fused schedule tiles first (see buildSchedule): the 8-wide
/// loop `t` and the loops the interchange puts before it (all loops up to
/// `t` without one).
static llvm::SmallBitVector getOuterLoops(unsigned loops, unsigned t,
                                          ArrayRef<int64_t> interchange) {
  llvm::SmallBitVector outer(loops);
  if (interchange.empty()) {
    outer.set(0, t + 1);
    return outer;
  }
  for (int64_t d : interchange) {
    outer.set(d);
    if (d == int64_t(t))
      break;
  }
  return outer;
}

/// The producer `op` would compute per tile of its input `in`, with
/// whether it reaches `in` through a tensor.collapse_shape. Through one,
/// every merged axis must be read in full by a tile (through no loop in
/// `outer`): a slice of a merged axis is not a slice of the producer's
/// axes in general (8 rows of a collapsed [4, 8] at an offset that is not
/// a multiple of 8).
static std::pair<linalg::GenericOp, bool>
getProducer(linalg::GenericOp op, OpOperand *in,
            const llvm::SmallBitVector &outer) {
  Value v = in->get();
  auto reshape = v.getDefiningOp<tensor::CollapseShapeOp>();
  if (reshape) {
    if (!reshape->hasOneUse())
      return {};
    AffineMap map = op.getMatchingIndexingMap(in);
    for (auto [axis, group] :
         llvm::enumerate(reshape.getReassociationIndices())) {
      if (group.size() == 1)
        continue;
      for (int d : outer.set_bits())
        if (map.getResult(axis).isFunctionOfDim(d))
          return {};
    }
    v = reshape.getSrc();
  }
  return {v.getDefiningOp<linalg::GenericOp>(), bool(reshape)};
}

/// Lanes for an innermost loop of `extent` (a static multiple of 8): vectors
/// of at most 64 lanes (a per-channel weight's innermost extent is all of
/// K).
static int64_t getInnerLanes(int64_t extent) {
  for (int64_t lanes : {64, 32, 16})
    if (extent % lanes == 0)
      return lanes;
  return kLanes;
}

/// Sets `schedule`'s fused producer (see Schedule::fused), if `op` has
/// one: an input read through the 8-wide loop `t`, produced (directly or
/// through a collapse_shape) by an elementwise generic with no other use
/// whose innermost extent is a static multiple of 8. Returns that producer
/// (null for none).
static linalg::GenericOp setFusedProducer(Schedule &schedule,
                                          linalg::GenericOp op, unsigned t,
                                          const llvm::SmallBitVector &outer) {
  for (OpOperand *in : op.getDpsInputOperands()) {
    AffineMap map = op.getMatchingIndexingMap(in);
    if (!map.isFunctionOfDim(t))
      continue;
    auto [producer, throughReshape] = getProducer(op, in, outer);
    if (!producer || !producer->hasOneUse() ||
        producer.getNumParallelLoops() != producer.getNumLoops() ||
        !producer.hasPureTensorSemantics() || producer.getNumDpsInits() != 1)
      continue;
    SmallVector<int64_t> ranges = producer.getStaticLoopRanges();
    if (ranges.empty() || ShapedType::isDynamic(ranges.back()) ||
        ranges.back() % kLanes)
      continue;
    schedule.fused = in->getOperandNumber();
    schedule.throughReshape = throughReshape;
    schedule.producerTiles.assign(producer.getNumLoops(), 1);
    schedule.producerTiles.back() = getInnerLanes(ranges.back());
    return producer;
  }
  return {};
}

/// The loop order that keeps the operand tile of the 8-wide loop `t` (a
/// linear's [8, K] weight rows) in cache while the loops it does not read
/// run: the parallel loops before `t` that the operands indexed by `t` also
/// read (attention's batch and head), then `t`, then the other loops before
/// `t` (a linear's tokens), then the rest as they were. The identity (empty)
/// when nothing moves. Parallel loops only move, so every output's sum is
/// the same.
static SmallVector<int64_t> getInterchange(linalg::GenericOp op, unsigned t) {
  unsigned loops = op.getNumLoops();
  llvm::SmallBitVector shared(loops);
  for (OpOperand *in : op.getDpsInputOperands()) {
    AffineMap map = op.getMatchingIndexingMap(in);
    if (!map.isFunctionOfDim(t))
      continue;
    for (unsigned d = 0; d < loops; ++d)
      if (map.isFunctionOfDim(d))
        shared.set(d);
  }
  SmallVector<int64_t> order;
  for (unsigned d = 0; d < t; ++d)
    if (shared.test(d))
      order.push_back(d);
  order.push_back(t);
  for (unsigned d = 0; d < t; ++d)
    if (!shared.test(d))
      order.push_back(d);
  for (unsigned d = t + 1; d < loops; ++d)
    order.push_back(d);
  for (unsigned d = 0; d < loops; ++d)
    if (order[d] != int64_t(d))
      return order;
  return {};
}

/// Whether `op` (all loops parallel) reads i4 levels along its innermost
/// loop, of a static extent that is a multiple of 8: read element by
/// element, each level would be a load, a shift and a mask of its byte
/// (qrealign-emulate-narrow-types).
static bool readsLevels(linalg::GenericOp op, ArrayRef<int64_t> ranges) {
  unsigned inner = op.getNumLoops() - 1;
  if (op.getNumReductionLoops() != 0 || ShapedType::isDynamic(ranges.back()) ||
      ranges.back() % kLanes)
    return false;
  return llvm::any_of(op.getDpsInputOperands(), [&](OpOperand *in) {
    return getElementTypeOrSelf(in->get().getType()).isInteger(4) &&
           op.getMatchingIndexingMap(in).isFunctionOfDim(inner);
  });
}

/// Whether this pass can tile `op`: one result, its own init, projected
/// permutation maps.
static bool isSchedulable(linalg::GenericOp op) {
  return op.getNumDpsInits() == 1 && op->getNumResults() == 1 &&
         op.hasPureTensorSemantics() &&
         llvm::all_of(op.getIndexingMapsArray(),
                      [](AffineMap m) { return m.isProjectedPermutation(); });
}

/// The schedule of an elementwise `op` that reads i4 levels (and is not
/// fused into a contraction's tiles), or std::nullopt.
static std::optional<Schedule> getElementwiseSchedule(linalg::GenericOp op) {
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  if (!isSchedulable(op) || !readsLevels(op, ranges))
    return std::nullopt;
  Schedule schedule;
  schedule.elementwise = true;
  schedule.tiles.assign(ranges.size(), 1);
  schedule.tiles.back() = getInnerLanes(ranges.back());
  return schedule;
}

/// The schedule of `op`, or std::nullopt when `op` is not a contraction this
/// pass schedules; `fusedProducer` is set to the producer it computes per
/// tile, if any (see Schedule::fused).
static std::optional<Schedule> getSchedule(linalg::GenericOp op,
                                           linalg::GenericOp &fusedProducer,
                                           int64_t rows, int64_t lanes) {
  if (!isSchedulable(op))
    return std::nullopt;
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  unsigned loops = iterators.size();
  if (loops < 2 || iterators.back() != utils::IteratorType::reduction)
    return std::nullopt;
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  if (ShapedType::isDynamic(ranges.back()) || ranges.back() % kLanes)
    return std::nullopt;
  if (ranges.back() % lanes)
    lanes = kLanes;
  // The body accumulates into the output: yield(add(out, x)).
  Block &body = op.getRegion().front();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  Operation *add = yield.getValues()[0].getDefiningOp();
  BlockArgument out = body.getArguments().back();
  if (!isa_and_nonnull<arith::AddFOp, arith::AddIOp>(add) ||
      !llvm::is_contained(add->getOperands(), Value(out)))
    return std::nullopt;
  Type element = out.getType();
  if (!element.isF32() && !element.isInteger(32))
    return std::nullopt;
  SmallVector<int64_t> tiles(loops, 1);
  tiles.back() = 0;
  // The innermost parallel loop (passing over loops of extent 1, such as
  // the one scale group of a per-channel i8 contraction) gets 8 outputs per
  // tile when its extent allows.
  // Loops move only where the reductions come after every parallel loop
  // (a linear's [m, n, k], or [m, n, g, j] over scale groups): the loops
  // that move are then all parallel.
  bool reductionsLast = llvm::is_sorted(
      iterators, [](utils::IteratorType a, utils::IteratorType b) {
        return a == utils::IteratorType::parallel &&
               b == utils::IteratorType::reduction;
      });
  Schedule schedule;
  for (int i = int(loops) - 2; i >= 0; --i) {
    if (iterators[i] != utils::IteratorType::parallel || ranges[i] == 1)
      continue;
    if (!ShapedType::isDynamic(ranges[i]) && ranges[i] % kLanes == 0) {
      tiles[i] = kLanes;
      if (reductionsLast) {
        schedule.interchange = getInterchange(op, unsigned(i));
        fusedProducer = setFusedProducer(
            schedule, op, unsigned(i),
            getOuterLoops(loops, unsigned(i), schedule.interchange));
      }
    }
    break;
  }
  schedule.lanes = lanes;
  schedule.tiles = tiles;
  if (schedule.interchange.empty())
    return schedule;
  for (auto [i, from] : llvm::enumerate(schedule.interchange))
    schedule.tiles[i] = tiles[from];
  // The last of the loops moved inside the 8-wide one `t` (a linear's
  // tokens) is tiled by `rows`.
  auto wide = llvm::find(schedule.tiles, kLanes);
  if (rows <= 1 || wide == schedule.tiles.end())
    return schedule;
  int64_t t = schedule.interchange[wide - schedule.tiles.begin()];
  for (int64_t q = int64_t(loops) - 1; q > wide - schedule.tiles.begin(); --q) {
    int64_t d = schedule.interchange[q];
    if (d > t)
      continue;
    bool dynamic = ShapedType::isDynamic(ranges[d]);
    if (!dynamic && ranges[d] < rows)
      break;
    schedule.rowsLoop = q;
    schedule.tiles[q] = rows;
    schedule.peel = dynamic || ranges[d] % rows != 0;
    break;
  }
  return schedule;
}

static std::string join(ArrayRef<int64_t> values) {
  return llvm::join(
      llvm::map_range(values, [](int64_t v) { return std::to_string(v); }),
      ", ");
}

/// The loops tile_using_for builds for `tiles` (a 0 builds none).
static size_t countLoops(ArrayRef<int64_t> tiles) {
  return llvm::count_if(tiles, [](int64_t t) { return t != 0; });
}

/// ", !transform.any_op" once per loop handle.
static std::string handleTypes(size_t loops) {
  std::string types;
  for (size_t l = 0; l < loops; ++l)
    types += ", !transform.any_op";
  return types;
}

/// The script: for each loop structure (tagged `tagN`), tile, split the
/// reduction, vectorize; then the clean-ups for the whole module.
static std::string
buildSchedule(const std::vector<std::pair<std::string, Schedule>> &kinds) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << "module attributes {transform.with_named_sequence} {\n"
        "transform.named_sequence @__transform_main(%root: !transform.any_op "
        "{transform.readonly}) {\n";
  int i = 0;
  for (const auto &[tag, schedule] : kinds) {
    os << llvm::formatv("  %m{0} = transform.structured.match "
                        "attributes{{{1}} in %root : "
                        "(!transform.any_op) -> !transform.any_op\n",
                        i, tag);
    std::string op = llvm::formatv("%m{0}", i).str();
    if (schedule.elementwise) {
      size_t loops = countLoops(schedule.tiles);
      os << llvm::formatv(
          "  %t{0}:{1} = transform.structured.tile_using_for {2} tile_sizes "
          "[{3}] : (!transform.any_op) -> (!transform.any_op{4})\n"
          "  transform.structured.vectorize %t{0}#0 : !transform.any_op\n",
          i, loops + 1, op, join(schedule.tiles), handleTypes(loops));
      ++i;
      continue;
    }
    // A fused producer needs one containing loop per handle, and a peeled
    // loop is searched for its ops one at a time: the schedule then runs op
    // by op.
    bool oneByOne = schedule.fused >= 0 || schedule.peel;
    if (oneByOne) {
      os << llvm::formatv("  transform.foreach %m{0} : !transform.any_op {{\n"
                          "  ^bb0(%e{0}: !transform.any_op):\n",
                          i);
      op = llvm::formatv("%e{0}", i).str();
    }
    if (schedule.fused >= 0) {
      os << llvm::formatv("  %p{0} = transform.get_producer_of_operand "
                          "%e{0}[{1}] : (!transform.any_op) -> "
                          "!transform.any_op\n",
                          i, schedule.fused);
      if (schedule.throughReshape)
        os << llvm::formatv("  %pp{0} = transform.get_producer_of_operand "
                            "%p{0}[0] : (!transform.any_op) -> "
                            "!transform.any_op\n",
                            i);
    }
    // The op to tile: %m, or %n, %m with its loops interchanged.
    if (!schedule.interchange.empty()) {
      os << llvm::formatv("  %n{0} = transform.structured.interchange {1} "
                          "iterator_interchange = [{2}] : (!transform.any_op) "
                          "-> !transform.any_op\n",
                          i, op, join(schedule.interchange));
      op = llvm::formatv("%n{0}", i).str();
    }
    SmallVector<int64_t> tiles = schedule.tiles;
    if (schedule.fused >= 0) {
      // The loops up to the 8-wide one first; the producer's slice computed
      // in the innermost of them; then the rest of the consumer's loops.
      size_t wide = llvm::find(tiles, kLanes) - tiles.begin();
      SmallVector<int64_t> outer(tiles.size(), 0);
      for (size_t l = 0; l <= wide; ++l)
        std::swap(outer[l], tiles[l]);
      size_t outerLoops = countLoops(outer);
      const SmallVector<int64_t> &ptiles = schedule.producerTiles;
      os << llvm::formatv(
          "  %o{0}:{1} = transform.structured.tile_using_for {2} tile_sizes "
          "[{3}] : (!transform.any_op) -> (!transform.any_op{4})\n"
          "{9}"
          "  %q{0}, %w{0} = transform.structured.fuse_into_containing_op "
          "{10} into %o{0}#{5} : (!transform.any_op, !transform.any_op) -> "
          "(!transform.any_op, !transform.any_op)\n"
          // The producer writes a tile's own empty tensor, not a slice of
          // one of the whole result's size, created once outside the loop
          // (one buffer that every tile reuses).
          "  transform.apply_patterns to %w{0} {{\n"
          "    transform.apply_patterns.tensor.fold_tensor_empty\n"
          "  } : !transform.any_op\n"
          "  transform.apply_licm to %w{0} : !transform.any_op\n"
          "  %r{0}:{6} = transform.structured.tile_using_for %q{0} tile_sizes "
          "[{7}] : (!transform.any_op) -> (!transform.any_op{8})\n"
          "  transform.structured.vectorize %r{0}#0 : !transform.any_op\n",
          i, outerLoops + 1, op, join(outer), handleTypes(outerLoops),
          outerLoops, countLoops(ptiles) + 1, join(ptiles),
          handleTypes(countLoops(ptiles)),
          // The tile's slice of the reshaped result becomes a reshape of a
          // slice of the producer's, which fusion can compute.
          schedule.throughReshape
              ? llvm::formatv(
                    "  transform.apply_patterns to %o{0}#{1} {{\n"
                    "    "
                    "transform.apply_patterns.tensor.bubble_up_extract_slice\n"
                    "  } : !transform.any_op\n",
                    i, outerLoops)
                    .str()
              : std::string(),
          llvm::formatv(schedule.throughReshape ? "%pp{0}" : "%p{0}", i).str());
      op = llvm::formatv("%o{0}#0", i).str();
    }
    size_t loops = countLoops(tiles);
    os << llvm::formatv(
        "  %t{0}:{2} = transform.structured.tile_using_for {1} tile_sizes "
        "[{3}] : (!transform.any_op) -> (!transform.any_op{4})\n",
        i, op, loops + 1, join(tiles), handleTypes(loops));
    // The tiles to reduce: the op tiled, or with the token loop peeled,
    // the op of its full tiles and the remainder's op tiled by 1.
    SmallVector<std::string, 2> tiled = {llvm::formatv("%t{0}#0", i).str()};
    if (schedule.peel) {
      int64_t rowsHandle =
          1 + countLoops(ArrayRef(tiles).take_front(schedule.rowsLoop));
      SmallVector<int64_t> ones(tiles.size(), 0);
      ones[schedule.rowsLoop] = 1;
      os << llvm::formatv(
          "  %pc{0} = transform.cast %t{0}#{1} : !transform.any_op to "
          "!transform.op<\"scf.for\">\n"
          "  %pm{0}, %pr{0} = transform.loop.peel %pc{0} : "
          "(!transform.op<\"scf.for\">) -> (!transform.any_op, "
          "!transform.any_op)\n"
          // The full tiles' sizes become static.
          "  transform.apply_patterns to %pm{0} {{\n"
          "    transform.apply_patterns.canonicalization\n"
          "  } : !transform.any_op\n"
          "  %pa{0} = transform.structured.match attributes{{{2}} in %pm{0} "
          ": (!transform.any_op) -> !transform.any_op\n"
          "  %pb{0} = transform.structured.match attributes{{{2}} in %pr{0} "
          ": (!transform.any_op) -> !transform.any_op\n"
          "  %pt{0}:2 = transform.structured.tile_using_for %pb{0} tile_sizes "
          "[{3}] : (!transform.any_op) -> (!transform.any_op, "
          "!transform.any_op)\n",
          i, rowsHandle, tag, join(ones));
      tiled = {llvm::formatv("%pa{0}", i).str(),
               llvm::formatv("%pt{0}#0", i).str()};
    }
    SmallVector<int64_t> split(tiles.size(), 0);
    split.back() = schedule.lanes;
    for (auto [j, target] : llvm::enumerate(tiled))
      os << llvm::formatv(
          "  %f{0}_{1}, %s{0}_{1}, %c{0}_{1}, %l{0}_{1} = "
          "transform.structured.tile_reduction_using_for {2} by tile_sizes "
          "= [{3}] : (!transform.any_op) -> (!transform.any_op, "
          "!transform.any_op, !transform.any_op, !transform.any_op)\n"
          "  transform.structured.vectorize %s{0}_{1} : !transform.any_op\n"
          "  transform.structured.vectorize %f{0}_{1} : !transform.any_op\n"
          "  transform.structured.vectorize %c{0}_{1} : !transform.any_op\n",
          i, j, target, join(split));
    if (oneByOne)
      os << "  transform.yield\n  }\n";
    ++i;
  }
  os << R"mlir(
  %func = transform.structured.match ops{["func.func"]} in %root
      : (!transform.any_op) -> !transform.any_op
  transform.apply_patterns to %func {
    transform.apply_patterns.canonicalization
  } : !transform.any_op
  transform.apply_cse to %func : !transform.any_op
  %loops = transform.structured.match ops{["scf.for"]} in %root
      : (!transform.any_op) -> !transform.any_op
  transform.loop.hoist_loop_invariant_subsets %loops : !transform.any_op
  transform.apply_patterns to %func {
    transform.apply_patterns.vector.lower_multi_reduction lowering_strategy = "innerreduction"
    transform.apply_patterns.vector.transfer_permutation_patterns
    transform.apply_patterns.canonicalization
  } : !transform.any_op
  transform.apply_cse to %func : !transform.any_op
  transform.yield
}
}
)mlir";
  return s;
}

/// Whether `op`'s fast-math flags allow contraction.
static bool allowsContraction(arith::ArithFastMathInterface op) {
  return arith::bitEnumContainsAll(op.getFastMathFlagsAttr().getValue(),
                                   arith::FastMathFlags::contract);
}

/// Marks the products and sums of a float contraction's body `contract`:
/// the vectorized step may fuse them (fuseMultiplyAdds).
static void allowContraction(linalg::GenericOp op) {
  op.getRegion().walk([](Operation *inner) {
    if (!isa<arith::MulFOp, arith::AddFOp>(inner))
      return;
    auto fmf = cast<arith::ArithFastMathInterface>(inner);
    inner->setAttr(
        fmf.getFastMathAttrName(),
        arith::FastMathFlagsAttr::get(inner->getContext(),
                                      fmf.getFastMathFlagsAttr().getValue() |
                                          arith::FastMathFlags::contract));
  });
}

/// Rewrites each vector `addf(acc, mulf(a, b))` that allows contraction
/// (the step of a contraction this pass scheduled, once vectorized) and
/// whose product has no other use as one `vector.fma(a, b, acc)`: one
/// instruction and one rounding instead of two, and no register for the
/// product.
static void fuseMultiplyAdds(ModuleOp module) {
  module.walk([](arith::AddFOp add) {
    if (!isa<VectorType>(add.getType()) || !allowsContraction(add))
      return;
    for (unsigned i = 0; i < 2; ++i) {
      auto mul = add->getOperand(i).getDefiningOp<arith::MulFOp>();
      if (!mul || !mul->hasOneUse() || !allowsContraction(mul))
        continue;
      OpBuilder b(add);
      Value fma = vector::FMAOp::create(b, add.getLoc(), mul.getLhs(),
                                        mul.getRhs(), add->getOperand(1 - i));
      add.replaceAllUsesWith(fma);
      add.erase();
      mul.erase();
      return;
    }
  });
}

// With AVX-512 (32 registers of 16 floats) 3 tokens x 8 outputs x 16 lanes,
// 24 accumulators (measured against 2 x 16, 4 x 16 and 4 x 8 in
// docs/benchmarks.md); otherwise 1 x 8 x 8 (AVX2 has 16 registers of 8
// floats).
std::pair<int64_t, int64_t>
mlir::qrealign::getCPUVectorizeTiles(const llvm::StringMap<bool> &features) {
  if (features.lookup("avx512f"))
    return {3, 16};
  return {1, kLanes};
}

namespace {
struct CPUVectorizePass
    : mlir::qrealign::impl::QRealignCPUVectorizePassBase<CPUVectorizePass> {
  using QRealignCPUVectorizePassBase::QRealignCPUVectorizePassBase;
  void runOnOperation() override;
};
} // namespace

void CPUVectorizePass::runOnOperation() {
  ModuleOp module = getOperation();
  if (tileRows < 0 || lanes < 0) {
    module.emitError() << "qrealign-cpu-vectorize: tile-rows ("
                       << int64_t(tileRows) << ") and lanes (" << int64_t(lanes)
                       << ") must be positive, or 0 for the host's";
    return signalPassFailure();
  }
  auto [hostRows, hostLanes] =
      mlir::qrealign::getCPUVectorizeTiles(llvm::sys::getHostCPUFeatures());
  int64_t rows = tileRows ? int64_t(tileRows) : hostRows;
  int64_t sums = lanes ? int64_t(lanes) : hostLanes;
  // One tag per distinct tiling; the tags are names no dialect owns.
  std::vector<std::pair<std::string, Schedule>> kinds;
  std::map<Schedule, std::string> tagOf;
  auto tag = [&](linalg::GenericOp op, const Schedule &schedule) {
    auto [it, inserted] = tagOf.try_emplace(
        schedule,
        llvm::formatv("__qrealign_cpu_tiles_{0}", tagOf.size()).str());
    if (inserted)
      kinds.push_back({it->second, schedule});
    op->setAttr(it->second, UnitAttr::get(op->getContext()));
  };
  // The contractions first: the producers they compute a tile at a time
  // are not scheduled on their own.
  llvm::SmallPtrSet<Operation *, 8> fused;
  module.walk([&](linalg::GenericOp op) {
    linalg::GenericOp producer;
    std::optional<Schedule> schedule = getSchedule(op, producer, rows, sums);
    if (!schedule)
      return;
    tag(op, *schedule);
    allowContraction(op);
    if (producer)
      fused.insert(producer);
  });
  module.walk([&](linalg::GenericOp op) {
    if (fused.contains(op))
      return;
    if (std::optional<Schedule> schedule = getElementwiseSchedule(op))
      tag(op, *schedule);
  });
  if (kinds.empty())
    return;
  if (failed(mlir::qrealign::applyTransformScript(module, buildSchedule(kinds),
                                                  "qrealign-cpu-vectorize")))
    return signalPassFailure();
  module.walk([&](Operation *op) {
    for (const auto &kind : kinds)
      op->removeAttr(kind.first);
  });
  fuseMultiplyAdds(module);
}
