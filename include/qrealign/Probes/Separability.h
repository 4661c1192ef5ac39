//===- Separability.h - How well a linear boundary separates classes -*- C++
//-*-===//
//
// Part of the qrealign project.
//
// The measures of qrealign-probe report (docs/probes.md), on activations
// `x` ([n, d], row-major) with labels `y` (1 malicious, 0 benign):
//
//   - rocAuc: the area under the ROC curve of scores for the labels;
//   - fisherRatio: the distance between the class centroids divided by the
//     within-class spread, ||mu_1 - mu_0|| / sqrt((s_0^2 + s_1^2) / 2) with
//     s_k^2 the mean squared distance of class k's points to mu_k;
//   - meanDifferenceProbe: the difference-of-class-means boundary, w =
//     mu_1 - mu_0 through the midpoint of the centroids;
//   - principalAxes: the top principal axes of x (for the PCA scatter).
//
// No MLIR, no libtorch.
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_PROBES_SEPARABILITY_H
#define QREALIGN_PROBES_SEPARABILITY_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <vector>

namespace qrealign::probes {
/// AUC of `scores` for `labels` (ties count half); NaN without both classes.
double rocAuc(llvm::ArrayRef<double> scores, llvm::ArrayRef<int8_t> labels);

/// Share of `scores` on the right side of 0 (> 0 for label 1, <= 0 for 0).
double signAccuracy(llvm::ArrayRef<double> scores,
                    llvm::ArrayRef<int8_t> labels);

/// The Fisher-style ratio above; NaN without both classes, +inf when both
/// classes are single points apart.
double fisherRatio(llvm::ArrayRef<float> x, llvm::ArrayRef<int8_t> y, int64_t n,
                   int64_t d);

/// A linear boundary: p(malicious | h) = sigmoid(weights . h + bias).
struct LinearProbe {
  std::vector<double> weights;
  double bias = 0;
  double logit(llvm::ArrayRef<float> h) const;
};

/// w = mu_1 - mu_0, b = -w . (mu_0 + mu_1) / 2. Errors: a missing class,
/// mismatched sizes.
llvm::Expected<LinearProbe> meanDifferenceProbe(llvm::ArrayRef<float> x,
                                                llvm::ArrayRef<int8_t> y,
                                                int64_t n, int64_t d);

/// The mean of x and its top `k` principal axes (unit vectors, the sign
/// chosen so the largest-magnitude component is positive), by power
/// iteration on the centred data without forming the covariance, in
/// double precision; deterministic.
struct PrincipalAxes {
  std::vector<double> mean;
  std::vector<std::vector<double>> axes;
  std::vector<double> variances; // of the projections, per axis
  /// The coordinates of `h` on the axes.
  std::vector<double> project(llvm::ArrayRef<float> h) const;
};
PrincipalAxes principalAxes(llvm::ArrayRef<float> x, int64_t n, int64_t d,
                            int k = 2);
} // namespace qrealign::probes

#endif // QREALIGN_PROBES_SEPARABILITY_H
