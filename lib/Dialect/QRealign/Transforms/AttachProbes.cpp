//===- AttachProbes.cpp - Attach safety boundaries from a probes file -----===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Dialect/QRealign/IR/QRealign.h"
#include "qrealign/Dialect/QRealign/Transforms/ParamData.h"
#include "qrealign/Dialect/QRealign/Transforms/Passes.h"
#include "qrealign/Probes/ProbesFile.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

namespace mlir::qrealign {
#define GEN_PASS_DEF_QREALIGNATTACHPROBESPASS
#include "qrealign/Dialect/QRealign/Transforms/Passes.h.inc"
} // namespace mlir::qrealign

using namespace mlir;
using namespace mlir::qrealign;

namespace {
constexpr StringLiteral kPass = "qrealign-attach-probes";

struct AttachProbesPass
    : public mlir::qrealign::impl::QRealignAttachProbesPassBase<
          AttachProbesPass> {
  using QRealignAttachProbesPassBase::QRealignAttachProbesPassBase;
  void runOnOperation() override;
};
} // namespace

void AttachProbesPass::runOnOperation() {
  ModuleOp module = getOperation();
  MLIRContext *ctx = &getContext();
  auto fail = [&](Operation *at) {
    InFlightDiagnostic diag = at->emitError(kPass);
    diag << ": ";
    return diag;
  };
  if (file.empty()) {
    fail(module) << "set file=PATH, the probes file (qrealign-probe fit)";
    return signalPassFailure();
  }
  if (failed(checkNewScope(module, kPass, scope)))
    return signalPassFailure();
  llvm::Expected<::qrealign::probes::ProbesFile> read =
      ::qrealign::probes::readProbesFile(file);
  if (!read) {
    fail(module) << llvm::toString(read.takeError());
    return signalPassFailure();
  }
  const ::qrealign::probes::ProbesFile &probes = *read;
  int64_t hidden = probes.hiddenSize;
  int64_t numLayers = probes.numLayers;

  SmallVector<LayerOp> layers;
  module.walk([&](LayerOp layer) { layers.push_back(layer); });
  if (int64_t(layers.size()) != numLayers) {
    fail(module) << "the probes in " << file << " were fitted on a model with "
                 << numLayers << " layers; this module has " << layers.size();
    return signalPassFailure();
  }

  // Check everything before changing anything.
  struct Plan {
    LayerOp layer;
    std::string name;
    double accuracy;
  };
  SmallVector<Plan> plans;
  bool ok = true;
  for (LayerOp layer : layers) {
    std::string name = ::qrealign::probes::getLayerProbeName(layer.getIndex());
    const ::qrealign::probes::ProbeRecord *entry = probes.lookup(name);
    int64_t width = layer.getProbedHiddenSize();
    std::string expectedTensor =
        ::qrealign::probes::getLayerProbeTensor(layer.getIndex());
    if (layer.getSafetyBoundary()) {
      fail(layer) << "the layer already has a safety boundary";
      ok = false;
    } else if (!entry) {
      fail(layer) << file << " has no probe '" << name << "'";
      ok = false;
    } else if (!entry->isFittedOn(expectedTensor)) {
      fail(layer) << "probe '" << name << "' in " << file << " was fitted on '"
                  << entry->tensor << "' at position " << entry->position
                  << ", not on this layer's output at the last prompt token";
      ok = false;
    } else if (hidden != width && !ShapedType::isDynamic(width)) {
      fail(layer) << "probe '" << name << "' in " << file
                  << " was fitted on hidden size " << hidden
                  << "; this layer's residual stream has " << width;
      ok = false;
    } else if (!entry->hasData()) {
      fail(layer) << file << ": tensors '" << name << ".weight' (F32 ["
                  << hidden << "]) and '" << name
                  << ".bias' (F32 [1]) are missing or of another shape";
      ok = false;
    } else {
      std::optional<double> accuracy = entry->getHeldoutAccuracy();
      if (!accuracy || !(*accuracy >= 0 && *accuracy <= 1)) {
        fail(layer) << "probe '" << name << "' in " << file
                    << " has no held-out accuracy in [0, 1]";
        ok = false;
      } else {
        plans.push_back({layer, name, *accuracy});
      }
    }
  }
  if (!ok)
    return signalPassFailure();

  // The scope maps to the probes file as it is.
  mapScope(module, scope, file);

  SymbolTable symbols(module);
  // The probes' parameters follow the module's last parameter.
  Operation *lastParam = nullptr;
  for (Operation &op : module.getBody()->getOperations())
    if (isa<ParamOp>(op))
      lastParam = &op;
  ExternalParamDeclarer declarer(symbols, scope);
  Type f32 = Float32Type::get(ctx);
  for (Plan &p : plans) {
    // @SCOPE.layers.N.weight = #qrealign.external<"SCOPE"::"layers.N.weight">
    auto declare = [&](StringRef suffix, int64_t size) {
      std::string key = p.name + suffix.str();
      ParamOp param = declarer.declare(lastParam, scope + "." + key,
                                       RankedTensorType::get({size}, f32), key);
      return FlatSymbolRefAttr::get(param.getSymNameAttr());
    };
    FlatSymbolRefAttr weight = declare(".weight", hidden);
    FlatSymbolRefAttr bias = declare(".bias", 1);
    p.layer.setSafetyBoundary(SafetyBoundaryAttr::get(
        ctx, weight, bias, /*position=*/-1, llvm::APFloat(p.accuracy)));
    ++numAttached;
  }
}
