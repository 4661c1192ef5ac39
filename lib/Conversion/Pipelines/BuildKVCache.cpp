//===- BuildKVCache.cpp - Prefill and decode with an explicit KV cache ----===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Conversion/Passes.h"
#include "qrealign/Dialect/QRealign/IR/QRealign.h"

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

  // @decode: the cached keys and values come in, concatenated with the new
  // ones before each attention, and go out grown.
  func::FuncOp decode = cloneForward(module, forward, "decode");
  Block &entry = decode.getBody().front();
  SmallVector<Value> grown;
  SmallVector<AttentionOp> attentions;
  decode.walk([&](AttentionOp at) { attentions.push_back(at); });
  for (AttentionOp at : attentions) {
    OpBuilder b(at);
    for (OpOperand *operand : {&at.getKeyMutable(), &at.getValueMutable()}) {
      Value fresh = operand->get();
      Value past = entry.addArgument(fresh.getType(), at.getLoc());
      Value all = tensor::ConcatOp::create(b, at.getLoc(), /*dim=*/1,
                                           ValueRange{past, fresh});
      operand->set(all);
      grown.push_back(all);
    }
  }
  auto decodeReturn = cast<func::ReturnOp>(entry.getTerminator());
  decodeReturn.getOperandsMutable().append(grown);
  decode.setType(FunctionType::get(&getContext(), entry.getArgumentTypes(),
                                   decodeReturn.getOperandTypes()));
}
