//===- GPUPipeline.cpp - qrealign-lower-to-nvvm ---------------------------===//
//
// Part of the qrealign project.
//
// The integer GEMM of the W8A8 path on NVIDIA tensor cores: a transform
// schedule (tiling to blocks and warps, vectorization to vector.contract),
// then upstream's convert-vector-to-gpu (nvgpu.mma.sync) and the NVVM
// lowering to PTX or a cubin. Measured pitfalls of this path (MLIR 22.1.8):
// ../shared/notes/lowering.md.
//
//===----------------------------------------------------------------------===//

#include "TransformScript.h"
#include "qrealign/Conversion/Passes.h"
#include "qrealign/Conversion/Pipelines/Pipelines.h"

#include "mlir/Conversion/VectorToGPU/VectorToGPU.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/Support/FormatVariadic.h"

namespace mlir::qrealign {
#define GEN_PASS_DEF_QREALIGNGPUINTMATMULSCHEDULEPASS
#include "qrealign/Conversion/Passes.h.inc"
} // namespace mlir::qrealign

using namespace mlir;

static constexpr llvm::StringLiteral kTag = "qrealign.gpu_int_matmul";

/// The tiling schedule of one contraction (the one tagged), on tensors:
/// applied once per contraction (fuse_into_containing_op takes one
/// containing op).
static constexpr llvm::StringLiteral kTileSchedule = R"mlir(
module attributes {transform.with_named_sequence} {
  transform.named_sequence @__transform_main(
      %root: !transform.any_op {transform.readonly}) {
    %mm = transform.structured.match attributes{qrealign.gpu_int_matmul}
        in %root : (!transform.any_op) -> !transform.any_op
    %fill = transform.get_producer_of_operand %mm[2]
        : (!transform.any_op) -> !transform.any_op
    %tb, %fb = transform.structured.tile_using_forall %mm
        tile_sizes [32, 32] (mapping = [#gpu.block<y>, #gpu.block<x>])
        : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
    %fill_b, %fb2 = transform.structured.fuse_into_containing_op %fill
        into %fb : (!transform.any_op, !transform.any_op)
        -> (!transform.any_op, !transform.any_op)
    %tw, %fw = transform.structured.tile_using_forall %tb
        tile_sizes [16, 8] (mapping = [#gpu.warp<y>, #gpu.warp<x>])
        : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
    %fill_w, %fw2 = transform.structured.fuse_into_containing_op %fill_b
        into %fw : (!transform.any_op, !transform.any_op)
        -> (!transform.any_op, !transform.any_op)
    %tk, %loop = transform.structured.tile_using_for %tw
        tile_sizes [0, 0, 32]
        : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
    transform.structured.vectorize %tk : !transform.any_op
    transform.structured.vectorize %fill_w : !transform.any_op
    %func = transform.structured.match ops{["func.func"]} in %root
        : (!transform.any_op) -> !transform.any_op
    transform.apply_patterns to %func {
      transform.apply_patterns.vector.transfer_permutation_patterns
    } : !transform.any_op
    transform.apply_patterns to %func {
      transform.apply_patterns.vector.reduction_to_contract
      transform.apply_patterns.vector.fold_arith_extension
      transform.apply_patterns.canonicalization
    } : !transform.any_op
    transform.apply_cse to %func : !transform.any_op
    transform.loop.hoist_loop_invariant_subsets %loop : !transform.any_op
    transform.yield
  }
}
)mlir";

/// Bufferization and the mapping of every tiled contraction to blocks and
/// warps, once for the module.
static constexpr llvm::StringLiteral kMapSchedule = R"mlir(
module attributes {transform.with_named_sequence} {
  transform.named_sequence @__transform_main(
      %root: !transform.any_op {transform.consumed}) {
    %buffers = transform.bufferization.one_shot_bufferize %root {
        bufferize_function_boundaries = true,
        function_boundary_type_conversion = 1 : i32}
        : (!transform.any_op) -> !transform.any_op
    %f = transform.structured.match ops{["func.func"]} in %buffers
        : (!transform.any_op) -> !transform.any_op
    transform.apply_cse to %f : !transform.any_op
    transform.apply_patterns to %f {
      transform.apply_patterns.canonicalization
    } : !transform.any_op
    transform.apply_cse to %f : !transform.any_op
    // The functions holding tiled contractions (the others hold none).
    %foralls = transform.structured.match ops{["scf.forall"]} in %buffers
        : (!transform.any_op) -> !transform.any_op
    %tiled = transform.get_parent_op %foralls
        {op_name = "func.func", deduplicate}
        : (!transform.any_op) -> !transform.any_op
    transform.foreach %tiled : !transform.any_op {
    ^bb0(%one: !transform.any_op):
      %launch = transform.gpu.map_forall_to_blocks %one generate_gpu_launch
          : (!transform.any_op) -> !transform.any_op
      transform.gpu.map_nested_forall_to_threads %launch
          block_dims = [128, 2, 1] warp_size = 32
          : (!transform.any_op) -> !transform.any_op
    }
    transform.yield
  }
}
)mlir";

namespace {
struct GPUIntMatmulSchedulePass
    : mlir::qrealign::impl::QRealignGPUIntMatmulSchedulePassBase<
          GPUIntMatmulSchedulePass> {
  void runOnOperation() override;
};
} // namespace

/// Why `op`, an integer contraction (isIntContraction), is not the one the
/// schedule handles, or "".
static std::string whyNotIntMatmul(linalg::GenericOp op) {
  if (op.getNumLoops() < 3)
    return llvm::formatv("{0} loops, not (m, n, k): one row (a matrix-vector "
                         "product)",
                         op.getNumLoops())
        .str();
  if (op.getNumLoops() != 3)
    return llvm::formatv("{0} loops, not (m, n, k): groups or a batch",
                         op.getNumLoops())
        .str();
  MLIRContext *ctx = op.getContext();
  auto d = [&](unsigned i) { return getAffineDimExpr(i, ctx); };
  SmallVector<AffineMap> want = {AffineMap::get(3, 0, {d(0), d(2)}, ctx),
                                 AffineMap::get(3, 0, {d(1), d(2)}, ctx),
                                 AffineMap::get(3, 0, {d(0), d(1)}, ctx)};
  if (op.getIndexingMapsArray() != ArrayRef(want))
    return "not a[m, k] · w[n, k] -> acc[m, n]";
  // The operand types are isIntContraction's (i8 x i8 -> i32).
  auto typeOf = [&](Value v) { return cast<RankedTensorType>(v.getType()); };
  RankedTensorType a = typeOf(op.getDpsInputs()[0]),
                   w = typeOf(op.getDpsInputs()[1]);
  if (!a.hasStaticShape() || !w.hasStaticShape())
    return "dynamic sizes";
  if (a.getDimSize(0) % 32 || w.getDimSize(0) % 32 || a.getDimSize(1) % 32)
    return llvm::formatv("sizes M = {0}, N = {1}, K = {2} are not multiples "
                         "of 32",
                         a.getDimSize(0), w.getDimSize(0), a.getDimSize(1))
        .str();
  if (!op.getDpsInits()[0].getDefiningOp<linalg::FillOp>())
    return "the accumulator is not a linalg.fill";
  // The body: acc + extsi(a) * extsi(w).
  Block &body = op.getRegion().front();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  auto add = yield.getValues()[0].getDefiningOp<arith::AddIOp>();
  auto mul = add ? add.getRhs().getDefiningOp<arith::MulIOp>() : nullptr;
  if (!mul || add.getLhs() != body.getArgument(2) ||
      !mul.getLhs().getDefiningOp<arith::ExtSIOp>() ||
      !mul.getRhs().getDefiningOp<arith::ExtSIOp>())
    return "the body is not acc + extsi(a) * extsi(w)";
  return "";
}

/// Whether `op` contracts two i8 tensors into an i32 one over one
/// reduction: the integer contraction of a W8A8 linear, in whatever form.
static bool isIntContraction(linalg::GenericOp op) {
  if (op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1 ||
      op.getNumReductionLoops() != 1 || !op.hasPureTensorSemantics())
    return false;
  auto elementOf = [](Value v) { return getElementTypeOrSelf(v.getType()); };
  return elementOf(op.getDpsInputs()[0]).isInteger(8) &&
         elementOf(op.getDpsInputs()[1]).isInteger(8) &&
         elementOf(op.getDpsInits()[0]).isInteger(32);
}

void GPUIntMatmulSchedulePass::runOnOperation() {
  ModuleOp module = getOperation();
  MLIRContext *ctx = &getContext();
  // convert-qrealign-to-linalg contracts [.., rows, groups, width] operands;
  // per channel (one group) and with one leading row axis of extent 1 that
  // is the plain a[m, k] · w[n, k] once the unit loops are dropped. Only
  // the integer contractions are touched (the W4A16 pass matches its own
  // form, unit loops included).
  {
    RewritePatternSet patterns(ctx);
    linalg::ControlDropUnitDims control;
    control.controlFn = [](Operation *op) -> SmallVector<unsigned> {
      auto generic = dyn_cast<linalg::GenericOp>(op);
      if (!generic || !isIntContraction(generic))
        return {};
      return llvm::to_vector(llvm::seq<unsigned>(0, generic.getNumLoops()));
    };
    linalg::populateFoldUnitExtentDimsPatterns(patterns, control);
    linalg::FillOp::getCanonicalizationPatterns(patterns, ctx);
    tensor::CollapseShapeOp::getCanonicalizationPatterns(patterns, ctx);
    tensor::ExpandShapeOp::getCanonicalizationPatterns(patterns, ctx);
    if (failed(applyPatternsGreedily(module, std::move(patterns))))
      return signalPassFailure();
  }
  // The integer contractions the schedule takes; another one is left to
  // qrealign-gpu-loops (one thread per output), with a remark saying why.
  SmallVector<linalg::GenericOp> matmuls;
  module.walk([&](linalg::GenericOp op) {
    if (!isIntContraction(op))
      return;
    std::string why = whyNotIntMatmul(op);
    if (!why.empty()) {
      op->emitRemark() << "qrealign-gpu-int-matmul-schedule: not on tensor "
                          "cores ("
                       << why
                       << "); qrealign-gpu-loops maps it, one thread "
                          "per output";
      return;
    }
    matmuls.push_back(op);
  });
  if (matmuls.empty())
    return;
  for (linalg::GenericOp op : matmuls) {
    op->setAttr(kTag, UnitAttr::get(op->getContext()));
    if (failed(mlir::qrealign::applyTransformScript(
            module, kTileSchedule, "qrealign-gpu-int-matmul-schedule")))
      return signalPassFailure();
    module.walk([](Operation *tagged) { tagged->removeAttr(kTag); });
  }
  if (failed(mlir::qrealign::applyTransformScript(
          module, kMapSchedule, "qrealign-gpu-int-matmul-schedule")))
    return signalPassFailure();
  // The warp-level vector.contracts to nvgpu.mma.sync, inside the launches
  // built here only: upstream's convert-vector-to-gpu{use-nvgpu} (MLIR
  // 22.1.8) fails on any scalar arith op it walks over (a linalg body, the
  // W4A16 kernel's index arithmetic), so it cannot run on the whole module.
  SmallVector<gpu::LaunchOp> launches;
  module.walk([&](gpu::LaunchOp launch) { launches.push_back(launch); });
  IRRewriter rewriter(&getContext());
  for (gpu::LaunchOp launch : launches) {
    RewritePatternSet patterns(&getContext());
    populatePrepareVectorToMMAPatterns(patterns, /*useNvGpu=*/true);
    if (failed(applyPatternsGreedily(launch, std::move(patterns))) ||
        failed(convertVectorToNVVMCompatibleMMASync(rewriter, launch)))
      return signalPassFailure();
  }
}

void mlir::qrealign::buildLowerToNVVMPipeline(
    OpPassManager &pm, const LowerToNVVMOptions &options) {
  std::string text = llvm::formatv(
      "func.func(convert-qrealign-to-linalg,linalg-fuse-elementwise-ops),"
      "canonicalize,cse,eliminate-empty-tensors,"
      "qrealign-gpu-int-matmul-schedule,"
      "one-shot-bufferize{{bufferize-function-boundaries "
      "function-boundary-type-conversion=identity-layout-map},"
      "qrealign-gpu-w4a16-mma,qrealign-gpu-loops,canonicalize,cse,"
      "gpu-launch-sink-index-computations,convert-nvgpu-to-nvvm,"
      "gpu-kernel-outlining,func.func(gpu-async-region),convert-vector-to-scf,"
      "convert-scf-to-cf,"
      "convert-nvvm-to-llvm,expand-strided-metadata,"
      "nvvm-attach-target{{chip={0} features=+ptx80 O=3},lower-affine,"
      "convert-arith-to-llvm,convert-index-to-llvm,canonicalize,cse,"
      "gpu.module(convert-gpu-to-nvvm,convert-vector-to-llvm,canonicalize,"
      "cse,reconcile-unrealized-casts),gpu-to-llvm,canonicalize,cse,"
      "reconcile-unrealized-casts,"
      "gpu-module-to-binary{{format={1} toolkit={2}}",
      options.chip, options.format, options.toolkit);
  if (failed(parsePassPipeline(text, pm, llvm::errs())))
    llvm::report_fatal_error("qrealign-lower-to-nvvm: the pipeline does not "
                             "parse (a pass is not registered)");
}
