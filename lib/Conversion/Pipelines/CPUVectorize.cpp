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
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <map>

namespace mlir::qrealign {
#define GEN_PASS_DEF_QREALIGNCPUVECTORIZEPASS
#include "qrealign/Conversion/Passes.h.inc"
} // namespace mlir::qrealign

using namespace mlir;

/// Lanes of the partial sums, and the output tile.
static constexpr int64_t kLanes = 8;

/// The tile sizes of the loops before the reduction is split (the innermost
/// loop, the reduction, is 0), or std::nullopt when `op` is not a
/// contraction this pass schedules.
static std::optional<SmallVector<int64_t>> getTileSizes(linalg::GenericOp op) {
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
  for (int i = int(loops) - 2; i >= 0; --i) {
    if (iterators[i] != utils::IteratorType::parallel || ranges[i] == 1)
      continue;
    if (!ShapedType::isDynamic(ranges[i]) && ranges[i] % kLanes == 0)
      tiles[i] = kLanes;
    break;
  }
  return tiles;
}

/// The script: for each loop structure (tagged `tagN`), tile, split the
/// reduction, vectorize; then the clean-ups for the whole module.
static std::string buildSchedule(
    const std::vector<std::pair<std::string, SmallVector<int64_t>>> &kinds) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << "module attributes {transform.with_named_sequence} {\n"
        "transform.named_sequence @__transform_main(%root: !transform.any_op "
        "{transform.readonly}) {\n";
  int i = 0;
  for (const auto &[tag, tiles] : kinds) {
    size_t loops = llvm::count_if(tiles, [](int64_t t) { return t != 0; });
    SmallVector<int64_t> split(tiles.size(), 0);
    split.back() = kLanes;
    std::string loopTypes;
    for (size_t l = 0; l < loops; ++l)
      loopTypes += ", !transform.any_op";
    os << llvm::formatv(
        "  %m{0} = transform.structured.match attributes{{{1}} in %root : "
        "(!transform.any_op) -> !transform.any_op\n"
        "  %t{0}:{2} = transform.structured.tile_using_for %m{0} tile_sizes "
        "[{3}] : (!transform.any_op) -> (!transform.any_op{4})\n"
        "  %f{0}, %s{0}, %c{0}, %l{0} = "
        "transform.structured.tile_reduction_using_for %t{0}#0 by tile_sizes "
        "= [{5}] : (!transform.any_op) -> (!transform.any_op, "
        "!transform.any_op, !transform.any_op, !transform.any_op)\n"
        "  transform.structured.vectorize %s{0} : !transform.any_op\n"
        "  transform.structured.vectorize %f{0} : !transform.any_op\n"
        "  transform.structured.vectorize %c{0} : !transform.any_op\n",
        i, tag, loops + 1,
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
  std::vector<std::pair<std::string, SmallVector<int64_t>>> kinds;
  std::map<SmallVector<int64_t>, std::string> tagOf;
  module.walk([&](linalg::GenericOp op) {
    std::optional<SmallVector<int64_t>> tiles = getTileSizes(op);
    if (!tiles)
      return;
    auto [it, inserted] = tagOf.try_emplace(
        *tiles, llvm::formatv("__qrealign_cpu_tiles_{0}", tagOf.size()).str());
    if (inserted)
      kinds.push_back({it->second, *tiles});
    op->setAttr(it->second, UnitAttr::get(op->getContext()));
  });
  if (kinds.empty())
    return;
  if (failed(mlir::qrealign::applyTransformScript(module, buildSchedule(kinds),
                                                  "qrealign-cpu-vectorize")))
    return signalPassFailure();
  module.walk([&](Operation *op) {
    for (const auto &[tag, tiles] : kinds)
      op->removeAttr(tag);
  });
}
