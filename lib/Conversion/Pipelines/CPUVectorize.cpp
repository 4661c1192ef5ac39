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

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/SmallBitVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

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
struct Schedule {
  SmallVector<int64_t> interchange, tiles;
  bool operator<(const Schedule &o) const {
    return std::tie(interchange, tiles) < std::tie(o.interchange, o.tiles);
  }
};

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

/// The schedule of `op`, or std::nullopt when `op` is not a contraction this
/// pass schedules.
static std::optional<Schedule> getSchedule(linalg::GenericOp op) {
  if (op.getNumDpsInits() != 1 || op->getNumResults() != 1 ||
      !op.hasPureTensorSemantics() ||
      !llvm::all_of(op.getIndexingMapsArray(),
                    [](AffineMap m) { return m.isProjectedPermutation(); }))
    return std::nullopt;
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  unsigned loops = iterators.size();
  if (loops < 2 || iterators.back() != utils::IteratorType::reduction)
    return std::nullopt;
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  if (ShapedType::isDynamic(ranges.back()) || ranges.back() % kLanes)
    return std::nullopt;
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
  // Loops move only where the reduction is the only one (every loop before
  // it is parallel).
  bool oneReduction =
      llvm::count(iterators, utils::IteratorType::reduction) == 1;
  Schedule schedule;
  for (int i = int(loops) - 2; i >= 0; --i) {
    if (iterators[i] != utils::IteratorType::parallel || ranges[i] == 1)
      continue;
    if (!ShapedType::isDynamic(ranges[i]) && ranges[i] % kLanes == 0) {
      tiles[i] = kLanes;
      if (oneReduction)
        schedule.interchange = getInterchange(op, unsigned(i));
    }
    break;
  }
  schedule.tiles = tiles;
  if (!schedule.interchange.empty())
    for (auto [i, from] : llvm::enumerate(schedule.interchange))
      schedule.tiles[i] = tiles[from];
  return schedule;
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
    const SmallVector<int64_t> &tiles = schedule.tiles;
    size_t loops = llvm::count_if(tiles, [](int64_t t) { return t != 0; });
    SmallVector<int64_t> split(tiles.size(), 0);
    split.back() = kLanes;
    std::string loopTypes;
    for (size_t l = 0; l < loops; ++l)
      loopTypes += ", !transform.any_op";
    os << llvm::formatv("  %m{0} = transform.structured.match "
                        "attributes{{{1}} in %root : "
                        "(!transform.any_op) -> !transform.any_op\n",
                        i, tag);
    // The op to tile: %m, or %n, %m with its loops interchanged.
    std::string op = llvm::formatv("%m{0}", i).str();
    if (!schedule.interchange.empty()) {
      os << llvm::formatv(
          "  %n{0} = transform.structured.interchange %m{0} "
          "iterator_interchange = [{1}] : (!transform.any_op) -> "
          "!transform.any_op\n",
          i,
          llvm::join(
              llvm::map_range(schedule.interchange,
                              [](int64_t d) { return std::to_string(d); }),
              ", "));
      op = llvm::formatv("%n{0}", i).str();
    }
    os << llvm::formatv(
        "  %t{0}:{2} = transform.structured.tile_using_for {1} tile_sizes "
        "[{3}] : (!transform.any_op) -> (!transform.any_op{4})\n"
        "  %f{0}, %s{0}, %c{0}, %l{0} = "
        "transform.structured.tile_reduction_using_for %t{0}#0 by tile_sizes "
        "= [{5}] : (!transform.any_op) -> (!transform.any_op, "
        "!transform.any_op, !transform.any_op, !transform.any_op)\n"
        "  transform.structured.vectorize %s{0} : !transform.any_op\n"
        "  transform.structured.vectorize %f{0} : !transform.any_op\n"
        "  transform.structured.vectorize %c{0} : !transform.any_op\n",
        i, op, loops + 1,
        llvm::join(
            llvm::map_range(tiles, [](int64_t t) { return std::to_string(t); }),
            ", "),
        loopTypes,
        llvm::join(
            llvm::map_range(split, [](int64_t t) { return std::to_string(t); }),
            ", "));
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

namespace {
struct CPUVectorizePass
    : mlir::qrealign::impl::QRealignCPUVectorizePassBase<CPUVectorizePass> {
  void runOnOperation() override;
};
} // namespace

void CPUVectorizePass::runOnOperation() {
  ModuleOp module = getOperation();
  // One tag per distinct tiling; the tags are names no dialect owns.
  std::vector<std::pair<std::string, Schedule>> kinds;
  std::map<Schedule, std::string> tagOf;
  module.walk([&](linalg::GenericOp op) {
    std::optional<Schedule> schedule = getSchedule(op);
    if (!schedule)
      return;
    auto [it, inserted] = tagOf.try_emplace(
        *schedule,
        llvm::formatv("__qrealign_cpu_tiles_{0}", tagOf.size()).str());
    if (inserted)
      kinds.push_back({it->second, *schedule});
    op->setAttr(it->second, UnitAttr::get(op->getContext()));
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
}
