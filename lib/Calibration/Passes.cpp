//===- Passes.cpp - Calibration passes ------------------------------------===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Calibration/Passes.h"
#include "qrealign/Calibration/Calibrate.h"
#include "qrealign/Calibration/CalibrationGraph.h"

#include "llvm/Support/FileSystem.h"

namespace mlir::qrealign {
#define GEN_PASS_DEF_QREALIGNBUILDCALIBRATIONPASS
#define GEN_PASS_DEF_QREALIGNCALIBRATEPASS
#include "qrealign/Calibration/Passes.h.inc"
} // namespace mlir::qrealign

using namespace mlir;
using namespace ::qrealign::calibration;

namespace {
/// The objective and its terms, from pass options; errors on the module.
FailureOr<GraphOptions> getGraphOptions(ModuleOp module, StringRef pass,
                                        StringRef objective, double margin,
                                        double probeCoefficient,
                                        double anchor) {
  std::optional<Objective> o = parseObjective(objective);
  if (!o)
    return module.emitError(pass)
           << ": objective must be one of " << getObjectiveNames() << ", got '"
           << objective << "'";
  GraphOptions g;
  g.objective = *o;
  g.margin = margin;
  g.probeCoefficient = probeCoefficient;
  g.anchorCoefficient = anchor;
  return g;
}

struct BuildCalibrationPass
    : public mlir::qrealign::impl::QRealignBuildCalibrationPassBase<
          BuildCalibrationPass> {
  using QRealignBuildCalibrationPassBase::QRealignBuildCalibrationPassBase;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    StringRef pass = "qrealign-build-calibration";
    FailureOr<GraphOptions> g = getGraphOptions(module, pass, objective, margin,
                                                probeCoefficient, anchor);
    if (failed(g) || failed(buildCalibrationGraph(module, *g, pass)))
      return signalPassFailure();
  }
};

struct CalibratePass
    : public mlir::qrealign::impl::QRealignCalibratePassBase<CalibratePass> {
  using QRealignCalibratePassBase::QRealignCalibratePassBase;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    StringRef pass = "qrealign-calibrate";
    FailureOr<GraphOptions> g = getGraphOptions(module, pass, objective, margin,
                                                probeCoefficient, anchor);
    if (failed(g))
      return signalPassFailure();
    CalibrationOptions o;
    o.graph = *g;
    o.dataPath = data;
    o.chatTemplate = chatTemplate;
    o.system = system;
    o.maxTokens = maxTokens;
    o.device = device;
    o.numThreads = threads;
    o.executablePath = getExecutablePath();
    o.seed = seed;
    o.batchSize = batchSize;
    if (!epochs.empty())
      o.epochs.assign(epochs.begin(), epochs.end());
    o.clipLr = clipLr;
    o.smoothLr = smoothLr;
    if (smoothInit != "smoothquant" && smoothInit != "module") {
      module.emitError(pass) << ": smooth-init must be smoothquant or "
                                "module, not '"
                             << smoothInit << "'";
      return signalPassFailure();
    }
    o.smoothQuantInit = smoothInit == "smoothquant";
    o.smoothAlpha = smoothAlpha;
    o.basePath = base;
    o.file = file;
    o.scope = scope;
    o.checkpointDir = checkpoint;
    o.stopAfter = stopAfter;
    o.progress = !quiet;
    std::vector<LayerResult> results;
    if (failed(calibrate(module, o, pass, &results)))
      return signalPassFailure();
    numLayers += results.size();
    for (const LayerResult &r : results)
      numRolledBack += r.rolledBack;
  }
  /// Where the engine library is looked for beside the tool.
  static std::string getExecutablePath() {
    return llvm::sys::fs::getMainExecutable(
        nullptr, reinterpret_cast<void *>(&getExecutablePath));
  }
};
} // namespace
