//===- LogisticRegression.h - Sparse logistic-regression probes -*- C++ -*-===//
//
// Part of the qrealign project.
//
// The safety boundaries are linear probes: L1-regularised logistic
// regression with an intercept, the objective of scikit-learn's
// LogisticRegression(penalty='l1', C=1.0, solver='saga') that Q-realign
// fits (../shared/notes/method.md). Labels y in {0, 1} (1 = malicious),
// mapped to s = 2y - 1; with z_i = w . x_i + b the objective is
//
//   L1: C * sum_i log(1 + exp(-s_i z_i)) + ||w||_1
//   L2: C * sum_i log(1 + exp(-s_i z_i)) + ||w||_2^2 / 2
//
// with the intercept b not penalised, as in scikit-learn. It is minimised
// by accelerated proximal gradient (FISTA with backtracking and adaptive
// restart) in double precision, to a stated tolerance on the proximal
// gradient mapping: max |G(w, b)| <= tol * max(1, C * n) where
// G = (theta - prox(theta - t grad f(theta))) / t, the optimality measure of
// composite problems (0 exactly at the minimum).
//
// With `standardize`, features are centred and divided by their standard
// deviation before fitting (the probe then penalises standardised
// weights); the result holds both the fitted (standardised) weights and
// the equivalent weights on the raw features, and the statistics used.
//
// No MLIR, no libtorch.
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_PROBES_LOGISTICREGRESSION_H
#define QREALIGN_PROBES_LOGISTICREGRESSION_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <vector>

namespace qrealign::probes {
enum class Penalty { L1, L2 };

struct LogRegOptions {
  Penalty penalty = Penalty::L1;
  double C = 1.0;
  double tol = 1e-6;
  int maxIterations = 20000;
  bool standardize = false;
};

struct LogRegResult {
  /// Weights and intercept on the raw features: p(malicious | x) =
  /// sigmoid(weights . x + bias).
  std::vector<double> weights;
  double bias = 0;
  /// With standardize: the fitted weights on standardised features, and
  /// the feature means and standard deviations (1 where a feature is
  /// constant). Empty otherwise.
  std::vector<double> fittedWeights, mean, scale;
  double fittedBias = 0;
  /// The objective at the solution (on the features it was fitted on).
  double objective = 0;
  /// The optimality measure reached, and iterations taken.
  double gradientMapping = 0;
  int iterations = 0;
  bool converged = false;
  int64_t nonZeros = 0;
};

/// Fits a probe on `x` ([n, d], row-major) with labels `y` (0 or 1).
/// Errors: empty data, mismatched sizes, labels outside {0, 1}, a single
/// class, non-finite features or options out of range.
llvm::Expected<LogRegResult>
fitLogisticRegression(llvm::ArrayRef<float> x, llvm::ArrayRef<int8_t> y,
                      int64_t n, int64_t d, const LogRegOptions &options);

/// The objective of `options` at (w, b) on raw features `x` (for tests and
/// reports).
double logRegObjective(llvm::ArrayRef<float> x, llvm::ArrayRef<int8_t> y,
                       int64_t n, int64_t d, llvm::ArrayRef<double> w, double b,
                       const LogRegOptions &options);
} // namespace qrealign::probes

#endif // QREALIGN_PROBES_LOGISTICREGRESSION_H
