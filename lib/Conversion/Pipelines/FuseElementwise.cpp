//===- FuseElementwise.cpp - qrealign-fuse-elementwise --------------------===//
//
// Part of the qrealign project.
//
// Upstream's elementwise fusion, reshape propagation and clean-ups, with a
// control that refuses a fusion which would compute a producer element
// more than once (the pass's documentation in Passes.td says why).
//
//===----------------------------------------------------------------------===//

#include "qrealign/Conversion/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tensor/Transforms/Transforms.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::qrealign {
#define GEN_PASS_DEF_QREALIGNFUSEELEMENTWISEPASS
#include "qrealign/Conversion/Passes.h.inc"
} // namespace mlir::qrealign

using namespace mlir;

/// Upstream's rule: the producer has no other use.
static bool isOnlyUse(OpOperand *operand) {
  Operation *producer = operand->get().getDefiningOp();
  return producer && producer->hasOneUse();
}

/// Upstream's rule, and the consumer reads one producer element per
/// iteration: its map for `operand` is a permutation of all its loops.
static bool isFusedOnce(OpOperand *operand) {
  if (!isOnlyUse(operand))
    return false;
  auto consumer = dyn_cast<linalg::LinalgOp>(operand->getOwner());
  return consumer && consumer.getMatchingIndexingMap(operand).isPermutation();
}

/// Upstream's rule, and the generic whose loops a reshape would expand
/// has no reduction: a contraction keeps the loops the lowering built
/// (qrealign-cpu-vectorize schedules a linear's `[m, n, k]`; expanded by
/// a reshape of its weight it would end in a loop over two nibbles). A
/// reshaped input must moreover be read through a permutation: a small
/// operand (a weight's zero points, [N, G] unpacked from words as [N / 8,
/// 8, G]) does not split the loops of the op it feeds (the weight's rows,
/// which qrealign-cpu-vectorize then could not slice 8 at a time).
static bool isReshapeFolded(OpOperand *operand) {
  if (!isOnlyUse(operand))
    return false;
  if (auto consumer = dyn_cast<linalg::GenericOp>(operand->getOwner()))
    return consumer.getNumReductionLoops() == 0 &&
           consumer.getMatchingIndexingMap(operand).isPermutation();
  auto producer = operand->get().getDefiningOp<linalg::GenericOp>();
  return producer && producer.getNumReductionLoops() == 0;
}

namespace {
struct FuseElementwisePass
    : mlir::qrealign::impl::QRealignFuseElementwisePassBase<
          FuseElementwisePass> {
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    RewritePatternSet patterns(ctx);
    linalg::populateElementwiseOpsFusionPatterns(patterns, isFusedOnce);
    linalg::populateFoldReshapeOpsByExpansionPatterns(patterns,
                                                      isReshapeFolded);
    tensor::populateBubbleUpExpandShapePatterns(patterns);
    affine::AffineApplyOp::getCanonicalizationPatterns(patterns, ctx);
    linalg::GenericOp::getCanonicalizationPatterns(patterns, ctx);
    tensor::ExpandShapeOp::getCanonicalizationPatterns(patterns, ctx);
    tensor::CollapseShapeOp::getCanonicalizationPatterns(patterns, ctx);
    ctx->getLoadedDialect<linalg::LinalgDialect>()->getCanonicalizationPatterns(
        patterns);
    linalg::populateConstantFoldLinalgOperations(patterns, isOnlyUse);
    GreedyRewriteConfig config;
    config.setUseTopDownTraversal(true);
    // As upstream: a rewrite that has not converged within the limit
    // leaves valid IR, only less fused.
    (void)applyPatternsGreedily(getOperation(), std::move(patterns), config);
  }
};
} // namespace
