//===- probes.cpp - Fuzz the probe inputs ---------------------------------===//
//
// Input: one selector byte, then a file's text. Even selectors: the feature
// CSV of qrealign-probe solve (parseFeatureCSV); accepted data has n * d
// finite features and 0/1 labels, and small accepted problems go through
// the solver and the separability measures, whose results must be finite
// (or NaN where documented). Odd selectors: the `probes` metadata JSON of
// a probes file (parseProbesMetadata); accepted files have sizes within
// the model limits and named records.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Checkpoint/ModelConfig.h"
#include "qrealign/Probes/LogisticRegression.h"
#include "qrealign/Probes/ProbesFile.h"
#include "qrealign/Probes/Separability.h"

#include <cmath>
#include <cstdlib>

using namespace qrealign;
using namespace qrealign::probes;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return -1;
  llvm::StringRef text(reinterpret_cast<const char *>(data) + 1, size - 1);
  if (data[0] % 2) {
    auto file = parseProbesMetadata(text, "fuzz");
    if (!file) {
      llvm::consumeError(file.takeError());
      return 0;
    }
    if (file->hiddenSize <= 0 || file->numLayers <= 0 ||
        file->hiddenSize > ModelLimits::kMaxHiddenSize ||
        file->numLayers > ModelLimits::kMaxLayers)
      abort();
    for (const ProbeRecord &r : file->probes)
      if (r.hasData())
        abort(); // metadata alone carries no tensors
    return 0;
  }
  std::vector<float> x;
  std::vector<int8_t> y;
  int64_t d = 0;
  if (llvm::Error err = parseFeatureCSV("fuzz.csv", text, x, y, d)) {
    llvm::consumeError(std::move(err));
    return 0;
  }
  int64_t n = y.size();
  if (d < 1 || int64_t(x.size()) != n * d)
    abort();
  for (float v : x)
    if (!std::isfinite(v))
      abort();
  for (int8_t v : y)
    if (v != 0 && v != 1)
      abort();
  if (n * d > 4096)
    return 0;
  LogRegOptions options;
  options.maxIterations = 50;
  options.standardize = data[0] & 2;
  auto fit = fitLogisticRegression(x, y, n, d, options);
  if (!fit) {
    llvm::consumeError(fit.takeError()); // one class, for instance
    return 0;
  }
  LinearProbe probe{fit->weights, fit->bias};
  std::vector<double> z;
  for (int64_t i = 0; i < n; ++i)
    z.push_back(probe.logit(llvm::ArrayRef(x).slice(i * d, d)));
  double auc = rocAuc(z, y), ratio = fisherRatio(x, y, n, d);
  if (!(auc >= 0 && auc <= 1) || ratio < 0)
    abort();
  PrincipalAxes axes = principalAxes(x, n, d, 2);
  for (const std::vector<double> &a : axes.axes)
    for (double v : a)
      if (!std::isfinite(v))
        abort();
  return 0;
}
