//===- BuildKVCache.cpp - Prefill and decode with an explicit KV cache ----===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Conversion/Passes.h"
#include "qrealign/Dialect/QRealign/IR/QRealign.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/IRMapping.h"

namespace mlir::qrealign {
#define GEN_PASS_DEF_QREALIGNBUILDKVCACHEPASS
#include "qrealign/Conversion/Passes.h.inc"
} // namespace mlir::qrealign

using namespace mlir;
using namespace mlir::qrealign;

namespace {
struct BuildKVCachePass
    : qrealign::impl::QRealignBuildKVCachePassBase<BuildKVCachePass> {
  using QRealignBuildKVCachePassBase::QRealignBuildKVCachePassBase;
  void runOnOperation() override;
};
} // namespace

/// Inlines every qrealign.layer of `fn` into its parent block.
static void inlineLayers(func::FuncOp fn) {
  SmallVector<LayerOp> layers;
  fn.walk([&](LayerOp layer) { layers.push_back(layer); });
  for (LayerOp layer : layers) {
    Block &body = layer.getBody().front();
    auto yield = cast<YieldOp>(body.getTerminator());
    Value out = yield.getValue();
    for (auto [arg, input] : llvm::zip(body.getArguments(), layer.getInputs()))
      arg.replaceAllUsesWith(input);
    Block *parent = layer->getBlock();
    parent->getOperations().splice(layer->getIterator(), body.getOperations(),
                                   body.begin(), std::prev(body.end()));
    layer.getResult().replaceAllUsesWith(out);
    layer.erase();
  }
}

/// A copy of `forward` named `name`, layers inlined, inserted after
/// `forward`; an existing `name` is replaced.
static func::FuncOp cloneForward(ModuleOp module, func::FuncOp forward,
                                 StringRef name) {
  if (Operation *old = SymbolTable::lookupSymbolIn(module, name))
    old->erase();
  auto fn = cast<func::FuncOp>(forward->clone());
  fn.setSymName(name);
  module.getBody()->getOperations().insertAfter(forward->getIterator(), fn);
  inlineLayers(fn);
  return fn;
}

void BuildKVCachePass::runOnOperation() {
  ModuleOp module = getOperation();
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  if (!forward || forward.isExternal() || forward.getNumArguments() != 3 ||
      forward.getNumResults() != 1) {
    module.emitError("qrealign-build-kv-cache: the module has no "
                     "@forward(ids, positions, mask) -> logits");
    return signalPassFailure();
  }
  bool hasAttention = false;
  forward.walk([&](AttentionOp) { hasAttention = true; });
  if (!hasAttention) {
    forward.emitError("qrealign-build-kv-cache: @forward has no attention, "
                      "so nothing to cache");
    return signalPassFailure();
  }

  // The static types of @decode's ids, positions and mask, checked before
  // anything is built.
  SmallVector<RankedTensorType> decodeTypes;
  if (decodeTokens < 0) {
    module.emitError() << "qrealign-build-kv-cache: decode-tokens must be 0 "
                          "(dynamic) or a number of tokens, got "
                       << int64_t(decodeTokens);
    return signalPassFailure();
  }
  if (decodeTokens > 0) {
    const int64_t lengths[] = {decodeTokens, decodeTokens,
                               ShapedType::kDynamic};
    for (auto [i, tokens] : llvm::enumerate(lengths)) {
      auto type = dyn_cast<RankedTensorType>(forward.getArgumentTypes()[i]);
      auto fixed =
          type ? RankedTensorType::get({1, tokens}, type.getElementType())
               : RankedTensorType();
      if (!type || type.getRank() != 2 ||
          failed(verifyCompatibleShape(type, fixed))) {
        forward.emitError()
            << "qrealign-build-kv-cache: @forward's argument " << i << " ("
            << forward.getArgumentTypes()[i]
            << ") cannot take the static decode shape [1, "
            << (ShapedType::isDynamic(tokens) ? std::string("?")
                                              : std::to_string(tokens))
            << "]";
        return signalPassFailure();
      }
      decodeTypes.push_back(fixed);
    }
  }

  // @prefill: the keys and values each attention reads become results.
  func::FuncOp prefill = cloneForward(module, forward, "prefill");
  SmallVector<Value> cache;
  prefill.walk(
      [&](AttentionOp at) { cache.append({at.getKey(), at.getValue()}); });
  auto prefillReturn =
      cast<func::ReturnOp>(prefill.getBody().front().getTerminator());
  prefillReturn.getOperandsMutable().append(cache);
  prefill.setType(FunctionType::get(&getContext(), prefill.getArgumentTypes(),
                                    prefillReturn.getOperandTypes()));

  // @decode: the caches come in with room for the new positions; the new
  // keys and values are written after the cached ones, each attention
  // reads the first `total` positions, and the caches go out updated.
  func::FuncOp decode = cloneForward(module, forward, "decode");
  Block &entry = decode.getBody().front();
  Value mask = entry.getArgument(2);
  SmallVector<Value> updated;
  SmallVector<AttentionOp> attentions;
  decode.walk([&](AttentionOp at) { attentions.push_back(at); });
  // The caches come as arguments after ids, positions and mask.
  for (AttentionOp at : attentions)
    for (Value fresh : {at.getKey(), at.getValue()})
      entry.addArgument(fresh.getType(), at.getLoc());
  // One check at the entry, before any work: every cache has room for the
  // total (the mask's length), which covers the new tokens. (Host code
  // that branches or has side effects between GPU launches makes
  // gpu-async-region synchronize there; here nothing is queued yet.)
  {
    OpBuilder b = OpBuilder::atBlockBegin(&entry);
    Location loc = decode.getLoc();
    Value one = arith::ConstantIndexOp::create(b, loc, 1);
    Value total = tensor::DimOp::create(b, loc, mask, one);
    Value count = tensor::DimOp::create(b, loc, entry.getArgument(0), one);
    Value fits =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ule, count, total);
    for (BlockArgument past : entry.getArguments().drop_front(3))
      fits = arith::AndIOp::create(
          b, loc, fits,
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ule, total,
                                tensor::DimOp::create(b, loc, past, one)));
    cf::AssertOp::create(b, loc, fits,
                         "qrealign @decode: a KV cache has no room for the "
                         "new positions (its capacity is below the mask's "
                         "length)");
  }
  unsigned next = 3;
  for (AttentionOp at : attentions) {
    OpBuilder b(at);
    Location loc = at.getLoc();
    auto dim = [&](Value v, int64_t d) -> OpFoldResult {
      return tensor::getMixedSize(b, loc, v, d);
    };
    auto index = [&](OpFoldResult r) {
      return getValueOrCreateConstantIndexOp(b, loc, r);
    };
    for (OpOperand *operand : {&at.getKeyMutable(), &at.getValueMutable()}) {
      Value fresh = operand->get();
      Value past = entry.getArgument(next++);
      Value total = index(dim(mask, 1));
      Value count = index(dim(fresh, 1));
      Value start = arith::SubIOp::create(b, loc, total, count);
      OpFoldResult zero = b.getIndexAttr(0), one = b.getIndexAttr(1);
      Value written = tensor::InsertSliceOp::create(
          b, loc, fresh, past, {zero, start, zero},
          {dim(fresh, 0), count, dim(fresh, 2)}, {one, one, one});
      Value view = tensor::ExtractSliceOp::create(
          b, loc, cast<RankedTensorType>(fresh.getType()), written,
          {zero, zero, zero}, {dim(fresh, 0), total, dim(fresh, 2)},
          {one, one, one});
      operand->set(view);
      updated.push_back(written);
    }
  }
  // One sequence of `decodeTokens` new tokens per step, static: the
  // arguments take the static types, cast back at the entry to the types
  // the body was built for.
  OpBuilder b = OpBuilder::atBlockBegin(&entry);
  for (auto [i, fixed] : llvm::enumerate(decodeTypes)) {
    BlockArgument arg = entry.getArgument(i);
    auto type = cast<RankedTensorType>(arg.getType());
    if (type == fixed)
      continue;
    arg.setType(fixed);
    auto cast = tensor::CastOp::create(b, arg.getLoc(), type, arg);
    arg.replaceAllUsesExcept(cast, cast);
  }
  auto decodeReturn = cast<func::ReturnOp>(entry.getTerminator());
  decodeReturn.getOperandsMutable().append(updated);
  decode.setType(FunctionType::get(&getContext(), entry.getArgumentTypes(),
                                   decodeReturn.getOperandTypes()));
}
