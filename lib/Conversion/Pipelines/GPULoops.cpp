//===- GPULoops.cpp - The ops no GPU schedule took, as GPU threads --------===//
//
// Part of the qrealign project.
//
// The last mapping step of qrealign-lower-to-nvvm, on bufferized IR: every
// linalg op left outside a gpu.launch (quantization of the activations, row
// sums, epilogues, norms, copies: whatever no tensor-core schedule took)
// becomes parallel loops, tiled so that the innermost non-unit dimension
// runs across the threads of a block and the rest across blocks, and then
// one gpu.launch (upstream's parallel-loop-to-GPU conversion). Host buffers
// become device buffers, so the host code left is allocation, index
// arithmetic and launches; a host read or write of a buffer is an error.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Conversion/Passes.h"

#include "mlir/Conversion/SCFToGPU/SCFToGPU.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/ParallelLoopMapper.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

#include "mlir/Transforms/DialectConversion.h"
#include <functional>

namespace mlir::qrealign {
#define GEN_PASS_DEF_QREALIGNGPULOOPSPASS
#include "qrealign/Conversion/Passes.h.inc"
} // namespace mlir::qrealign

using namespace mlir;

namespace {
struct GPULoopsPass
    : mlir::qrealign::impl::QRealignGPULoopsPassBase<GPULoopsPass> {
  using Base::Base;
  void runOnOperation() override;
};
} // namespace

/// Whether `op` runs on the host: outside every launch and GPU module.
static bool onHost(Operation *op) {
  return !op->getParentOfType<gpu::LaunchOp>() &&
         !op->getParentOfType<gpu::GPUModuleOp>();
}

/// The trip count of dimension `d` of `loop`, if static.
static std::optional<int64_t> staticTripCount(scf::ParallelOp loop,
                                              unsigned d) {
  std::optional<int64_t> lb = getConstantIntValue(loop.getLowerBound()[d]);
  std::optional<int64_t> ub = getConstantIntValue(loop.getUpperBound()[d]);
  std::optional<int64_t> st = getConstantIntValue(loop.getStep()[d]);
  if (!lb || !ub || !st || *st <= 0)
    return std::nullopt;
  return std::max<int64_t>(0, (*ub - *lb + *st - 1) / *st);
}

/// The dimension of `loop` that runs across a block's threads: the
/// innermost one not known to be of extent 1.
static unsigned threadDim(scf::ParallelOp loop) {
  unsigned dims = loop.getNumLoops();
  for (unsigned d = dims; d-- > 0;) {
    std::optional<int64_t> trips = staticTripCount(loop, d);
    if (!trips || *trips > 1)
      return d;
  }
  return dims - 1;
}

/// The threads of a block for `extent` iterations (unknown: 0): a multiple
/// of the warp up to `maxThreads`.
static int64_t blockThreads(std::optional<int64_t> extent, int64_t maxThreads) {
  if (!extent)
    return maxThreads;
  int64_t threads = 32;
  while (threads < *extent && threads < maxThreads)
    threads *= 2;
  return std::min(threads, maxThreads);
}

/// Tiles `loop` (a top-level parallel nest) and marks the tile loop for
/// blocks, the intra-tile loop for threads.
static LogicalResult mapToBlocksAndThreads(scf::ParallelOp loop,
                                           int64_t maxThreads) {
  MLIRContext *ctx = loop.getContext();
  unsigned dims = loop.getNumLoops(), t = threadDim(loop);
  SmallVector<int64_t> sizes(dims, 1);
  sizes[t] = blockThreads(staticTripCount(loop, t), maxThreads);
  auto [outer, inner] = scf::tileParallelLoop(loop, sizes,
                                              /*noMinMaxBounds=*/true);
  AffineMap id = AffineMap::getMultiDimIdentityMap(1, ctx);
  auto dim = [&](gpu::Processor p) {
    return gpu::ParallelLoopDimMappingAttr::get(ctx, p, id, id);
  };
  // Blocks: the threaded dimension on x (2^31 - 1 blocks), then the others
  // outermost first on y and z, the rest in sequence inside a thread.
  SmallVector<gpu::ParallelLoopDimMappingAttr> blocks, threads;
  const gpu::Processor more[] = {gpu::Processor::BlockY,
                                 gpu::Processor::BlockZ};
  unsigned next = 0;
  for (unsigned d = 0; d < dims; ++d) {
    if (d == t) {
      blocks.push_back(dim(gpu::Processor::BlockX));
      threads.push_back(dim(gpu::Processor::ThreadX));
      continue;
    }
    blocks.push_back(dim(next < 2 ? more[next++] : gpu::Processor::Sequential));
    threads.push_back(dim(gpu::Processor::Sequential));
  }
  if (failed(gpu::setMappingAttr(outer, blocks)) ||
      failed(gpu::setMappingAttr(inner, threads)))
    return loop.emitError("qrealign-gpu-loops: cannot map the loop nest");
  return success();
}

/// Whether `buffer`, or a view of it, is returned by its function. (A
/// buffer returned through a branch or loop has been copied by then.)
static bool returned(Value buffer) {
  SmallVector<Value> work = {buffer};
  while (!work.empty()) {
    Value v = work.pop_back_val();
    for (Operation *user : v.getUsers()) {
      if (isa<func::ReturnOp>(user))
        return true;
      if (auto view = dyn_cast<ViewLikeOpInterface>(user))
        if (view.getViewSource() == v)
          llvm::append_range(work, user->getResults());
    }
  }
  return false;
}

/// Moves `alloc` out of the host regions that hold it (an scf.if choosing
/// between two forms of a linear) to its function's body, where its end
/// can free it. Fails if a size is computed inside.
static LogicalResult hoistToFunctionBody(gpu::AllocOp alloc, Block &body) {
  Operation *top = body.findAncestorOpInBlock(*alloc);
  if (!top)
    return failure();
  if (top == alloc.getOperation())
    return success();
  // The sizes, and the side-effect-free ops computing them (memref.dim of
  // an operand, index arithmetic), move along.
  SmallVector<Operation *> moves;
  std::function<bool(Value)> available = [&](Value v) {
    if (auto arg = dyn_cast<BlockArgument>(v))
      return arg.getOwner() == &body;
    Operation *def = v.getDefiningOp();
    if (def->getBlock() == &body)
      return def->isBeforeInBlock(top);
    if (!isMemoryEffectFree(def) || def->getNumRegions() != 0 ||
        !llvm::all_of(def->getOperands(), available))
      return false;
    if (!llvm::is_contained(moves, def))
      moves.push_back(def);
    return true;
  };
  if (!llvm::all_of(alloc->getOperands(), available))
    return failure();
  // Operands before users: `moves` lists each op after those it needs.
  for (Operation *op : moves)
    op->moveBefore(top);
  alloc->moveBefore(top);
  return success();
}

void GPULoopsPass::runOnOperation() {
  ModuleOp module = getOperation();
  IRRewriter rewriter(&getContext());

  // A buffer a function returns through the result of a branch or loop
  // (the value cache of a packed linear, whose few-row and many-row forms
  // each allocate it) is copied into a buffer of its own, so that the
  // caller frees one buffer and the function end frees the others.
  SmallVector<func::ReturnOp> returns;
  module.walk([&](func::ReturnOp ret) { returns.push_back(ret); });
  for (func::ReturnOp ret : returns) {
    for (OpOperand &operand : ret->getOpOperands()) {
      Value v = operand.get();
      auto type = dyn_cast<MemRefType>(v.getType());
      if (!type)
        continue;
      Value root = v;
      while (auto view = root.getDefiningOp<ViewLikeOpInterface>())
        root = view.getViewSource();
      if (!root.getDefiningOp<scf::IfOp>() && !root.getDefiningOp<scf::ForOp>())
        continue;
      if (!type.getLayout().isIdentity()) {
        ret.emitError("qrealign-gpu-loops: a buffer with a layout returned "
                      "through a branch or loop");
        return signalPassFailure();
      }
      Location loc = ret.getLoc();
      rewriter.setInsertionPoint(ret);
      SmallVector<Value> sizes;
      for (int64_t d = 0; d < type.getRank(); ++d)
        if (type.isDynamicDim(d))
          sizes.push_back(memref::DimOp::create(rewriter, loc, v, d));
      Value own = memref::AllocOp::create(rewriter, loc, type, sizes);
      linalg::CopyOp::create(rewriter, loc, v, own);
      operand.set(own);
    }
  }

  // Host copies become copy kernels (their operands may be strided views).
  SmallVector<memref::CopyOp> copies;
  module.walk([&](memref::CopyOp copy) {
    if (onHost(copy))
      copies.push_back(copy);
  });
  for (memref::CopyOp copy : copies) {
    rewriter.setInsertionPoint(copy);
    rewriter.replaceOpWithNewOp<linalg::CopyOp>(copy, copy.getSource(),
                                                copy.getTarget());
  }

  // Every linalg op on the host to parallel loops.
  SmallVector<linalg::LinalgOp> ops;
  bool ok = true;
  module.walk([&](linalg::LinalgOp op) {
    if (!onHost(op))
      return;
    if (!op.hasPureBufferSemantics()) {
      op->emitError("qrealign-gpu-loops: expects bufferized IR (this op "
                    "still works on tensors)");
      ok = false;
      return;
    }
    if (op.getNumParallelLoops() == 0) {
      op->emitError("qrealign-gpu-loops: no parallel dimension to map to "
                    "GPU threads (a reduction to one value)");
      ok = false;
      return;
    }
    ops.push_back(op);
  });
  if (!ok)
    return signalPassFailure();
  SmallVector<scf::ParallelOp> nests;
  for (linalg::LinalgOp op : ops) {
    Location loc = op.getLoc();
    rewriter.setInsertionPoint(op);
    FailureOr<linalg::LinalgLoops> loops =
        linalg::linalgOpToParallelLoops(rewriter, op);
    if (failed(loops)) {
      emitError(loc, "qrealign-gpu-loops: cannot lower this op to loops");
      return signalPassFailure();
    }
    rewriter.eraseOp(op);
    // The outermost loop is parallel: the op has parallel dimensions and
    // the loops follow its iterators, parallel ones first in every op the
    // converter emits (else the outer loop is sequential and holds them).
    auto nest = dyn_cast<scf::ParallelOp>(loops->front());
    if (!nest) {
      emitError(loc, "qrealign-gpu-loops: the outermost loop is a "
                     "reduction; no parallel nest to map");
      return signalPassFailure();
    }
    nests.push_back(nest);
  }
  for (scf::ParallelOp nest : nests)
    if (failed(mapToBlocksAndThreads(nest, maxThreads)))
      return signalPassFailure();

  // The mapped nests to gpu.launch (upstream's convert-parallel-loops-to-gpu).
  {
    RewritePatternSet patterns(&getContext());
    populateParallelLoopToGPUPatterns(patterns);
    ConversionTarget target(getContext());
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
    configureParallelLoopToGPULegality(target);
    if (failed(applyPartialConversion(module, target, std::move(patterns))))
      return signalPassFailure();
    finalizeParallelLoopToGPUConversion(module);
    // The conversion's bookkeeping mark stays on the launches it built
    // (MLIR 22.1.8); it means nothing downstream.
    module.walk(
        [](gpu::LaunchOp launch) { launch->removeAttr("SCFToGPU_visited"); });
  }

  // Host buffers are device buffers: whatever reads or writes them runs in
  // a launch now.
  SmallVector<Operation *> hostMemory;
  module.walk([&](Operation *op) {
    if (onHost(op) && isa<memref::AllocOp, memref::DeallocOp>(op))
      hostMemory.push_back(op);
  });
  for (Operation *op : hostMemory) {
    rewriter.setInsertionPoint(op);
    if (auto alloc = dyn_cast<memref::AllocOp>(op)) {
      auto device = gpu::AllocOp::create(
          rewriter, alloc.getLoc(), alloc.getType(), /*asyncToken=*/Type(),
          ValueRange(), alloc.getDynamicSizes(), alloc.getSymbolOperands());
      rewriter.replaceOp(alloc, device.getMemref());
      continue;
    }
    // One-shot bufferization frees nothing: a free here was written by
    // hand, and stays where it is.
    rewriter.replaceOpWithNewOp<gpu::DeallocOp>(
        op, /*asyncToken=*/Type(), ValueRange(),
        cast<memref::DeallocOp>(op).getMemref());
  }
  // Each device buffer the function neither returns nor frees is freed at
  // its end (upstream's ownership-based deallocation cannot see through a
  // gpu.launch body).
  SmallVector<gpu::AllocOp> deviceBuffers;
  module.walk([&](gpu::AllocOp alloc) {
    if (onHost(alloc) &&
        llvm::none_of(alloc->getUsers(), llvm::IsaPred<gpu::DeallocOp>))
      deviceBuffers.push_back(alloc);
  });
  for (gpu::AllocOp alloc : deviceBuffers) {
    auto fn = alloc->getParentOfType<func::FuncOp>();
    if (!fn || !fn.getBody().hasOneBlock()) {
      alloc.emitError("qrealign-gpu-loops: host code with several blocks "
                      "(no single place to free this buffer)");
      ok = false;
      continue;
    }
    Block &body = fn.getBody().front();
    if (failed(hoistToFunctionBody(alloc, body))) {
      alloc.emitError("qrealign-gpu-loops: a device buffer allocated in a "
                      "nested region of host code, its size computed there "
                      "(no place to free it)");
      ok = false;
      continue;
    }
    if (returned(alloc.getMemref()))
      continue;
    rewriter.setInsertionPoint(body.getTerminator());
    gpu::DeallocOp::create(rewriter, alloc.getLoc(), /*asyncToken=*/Type(),
                           ValueRange(), alloc.getMemref());
  }
  module.walk([&](Operation *op) {
    if (!onHost(op))
      return;
    if (isa<memref::LoadOp, memref::StoreOp, memref::AllocaOp,
            vector::TransferReadOp, vector::TransferWriteOp, vector::LoadOp,
            vector::StoreOp>(op)) {
      op->emitError("qrealign-gpu-loops: the host would access device "
                    "memory here");
      ok = false;
    }
  });
  if (!ok)
    signalPassFailure();
}

//===----------------------------------------------------------------------===//
// qrealign-gpu-launch-to-loops: the mapping run on the host
//===----------------------------------------------------------------------===//

namespace mlir::qrealign {
#define GEN_PASS_DEF_QREALIGNGPULAUNCHTOLOOPSPASS
#include "qrealign/Conversion/Passes.h.inc"
} // namespace mlir::qrealign

namespace {
struct GPULaunchToLoopsPass
    : mlir::qrealign::impl::QRealignGPULaunchToLoopsPassBase<
          GPULaunchToLoopsPass> {
  void runOnOperation() override;
};
} // namespace

/// Why `launch` cannot run as host loops (threads that communicate, an
/// asynchronous launch), or "".
static std::string whyNotOnHost(gpu::LaunchOp launch) {
  if (launch.getAsyncToken() || !launch.getAsyncDependencies().empty())
    return "an asynchronous launch";
  if (!launch.getBody().hasOneBlock())
    return "a kernel body of several blocks";
  std::string why;
  launch.getBody().walk([&](Operation *op) {
    if (isa<gpu::TerminatorOp>(op))
      return WalkResult::advance();
    StringRef dialect = op->getDialect()->getNamespace();
    if (dialect == "gpu" || dialect == "nvgpu" || dialect == "nvvm") {
      why = ("'" + op->getName().getStringRef() +
             "' (threads that cooperate, or the hardware's own operations)")
                .str();
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return why;
}

void GPULaunchToLoopsPass::runOnOperation() {
  ModuleOp module = getOperation();
  IRRewriter rewriter(&getContext());
  SmallVector<gpu::LaunchOp> launches;
  module.walk([&](gpu::LaunchOp launch) { launches.push_back(launch); });
  for (gpu::LaunchOp launch : launches) {
    std::string why = whyNotOnHost(launch);
    if (!why.empty()) {
      launch.emitError("qrealign-gpu-launch-to-loops: cannot run this launch "
                       "on the host: ")
          << why;
      return signalPassFailure();
    }
    // Blocks, then threads (z outermost): each thread's work in sequence.
    // Without barriers or shuffles no thread observes another's order.
    Location loc = launch.getLoc();
    rewriter.setInsertionPoint(launch);
    Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
    Value one = arith::ConstantIndexOp::create(rewriter, loc, 1);
    gpu::KernelDim3 grid = launch.getGridSizeOperandValues(),
                    block = launch.getBlockSizeOperandValues();
    gpu::KernelDim3 blockIds = launch.getBlockIds(),
                    threadIds = launch.getThreadIds();
    IRMapping map;
    map.map(launch.getGridSize().x, grid.x);
    map.map(launch.getGridSize().y, grid.y);
    map.map(launch.getGridSize().z, grid.z);
    map.map(launch.getBlockSize().x, block.x);
    map.map(launch.getBlockSize().y, block.y);
    map.map(launch.getBlockSize().z, block.z);
    std::pair<Value, Value> dims[] = {
        {grid.z, blockIds.z},   {grid.y, blockIds.y},   {grid.x, blockIds.x},
        {block.z, threadIds.z}, {block.y, threadIds.y}, {block.x, threadIds.x}};
    for (auto [bound, id] : dims) {
      auto loop = scf::ForOp::create(rewriter, loc, zero, bound, one);
      map.map(id, loop.getInductionVar());
      rewriter.setInsertionPoint(loop.getBody()->getTerminator());
    }
    for (Operation &op : launch.getBody().front().without_terminator())
      rewriter.clone(op, map);
    rewriter.eraseOp(launch);
  }
  // Device buffers are host buffers.
  SmallVector<Operation *> buffers;
  module.walk([&](Operation *op) {
    if (isa<gpu::AllocOp, gpu::DeallocOp>(op))
      buffers.push_back(op);
  });
  for (Operation *op : buffers) {
    rewriter.setInsertionPoint(op);
    if (auto alloc = dyn_cast<gpu::AllocOp>(op)) {
      if (alloc.getAsyncToken()) {
        alloc.emitError("qrealign-gpu-launch-to-loops: an asynchronous "
                        "allocation");
        return signalPassFailure();
      }
      rewriter.replaceOpWithNewOp<memref::AllocOp>(alloc, alloc.getType(),
                                                   alloc.getDynamicSizes(),
                                                   alloc.getSymbolOperands());
      continue;
    }
    auto dealloc = cast<gpu::DeallocOp>(op);
    if (dealloc.getAsyncToken()) {
      dealloc.emitError("qrealign-gpu-launch-to-loops: an asynchronous free");
      return signalPassFailure();
    }
    rewriter.replaceOpWithNewOp<memref::DeallocOp>(dealloc,
                                                   dealloc.getMemref());
  }
}
