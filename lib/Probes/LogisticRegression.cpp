//===- LogisticRegression.cpp - Sparse logistic-regression probes ---------===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Probes/LogisticRegression.h"

#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <cmath>
#include <limits>

using namespace llvm;
using namespace qrealign::probes;

static Error fail(const Twine &msg) {
  return createStringError(inconvertibleErrorCode(), msg);
}

/// log(1 + exp(v)) without overflow.
static double softplus(double v) {
  return v > 0 ? v + std::log1p(std::exp(-v)) : std::log1p(std::exp(v));
}

/// 1 / (1 + exp(-v)) without overflow.
static double sigmoid(double v) {
  if (v >= 0)
    return 1.0 / (1.0 + std::exp(-v));
  double e = std::exp(v);
  return e / (1.0 + e);
}

namespace {
/// The problem on a dense double copy of the (possibly standardised)
/// features; theta = (w[0..d), b).
struct Problem {
  const std::vector<double> &x;
  const std::vector<double> &s; // labels as -1 / +1
  int64_t n, d;
  const LogRegOptions &o;

  /// f(theta) and, when `grad` is set, its gradient.
  double smooth(const std::vector<double> &theta,
                std::vector<double> *grad) const {
    double b = theta[d], value = 0;
    if (grad)
      std::fill(grad->begin(), grad->end(), 0.0);
    for (int64_t i = 0; i < n; ++i) {
      const double *row = &x[i * d];
      double z = b;
      for (int64_t j = 0; j < d; ++j)
        z += row[j] * theta[j];
      double m = -s[i] * z; // the loss is softplus(m)
      value += softplus(m);
      if (grad) {
        double r = -s[i] * sigmoid(m) * o.C;
        for (int64_t j = 0; j < d; ++j)
          (*grad)[j] += r * row[j];
        (*grad)[d] += r;
      }
    }
    value *= o.C;
    if (o.penalty == Penalty::L2) {
      for (int64_t j = 0; j < d; ++j) {
        value += 0.5 * theta[j] * theta[j];
        if (grad)
          (*grad)[j] += theta[j];
      }
    }
    return value;
  }

  double nonSmooth(const std::vector<double> &theta) const {
    if (o.penalty != Penalty::L1)
      return 0;
    double sum = 0;
    for (int64_t j = 0; j < d; ++j)
      sum += std::fabs(theta[j]);
    return sum;
  }

  /// prox of step * g at v (soft thresholding of w; b unchanged).
  void prox(std::vector<double> &v, double step) const {
    if (o.penalty != Penalty::L1)
      return;
    for (int64_t j = 0; j < d; ++j) {
      double a = std::fabs(v[j]) - step;
      v[j] = a > 0 ? std::copysign(a, v[j]) : 0.0;
    }
  }
};
} // namespace

Expected<LogRegResult>
qrealign::probes::fitLogisticRegression(ArrayRef<float> xs, ArrayRef<int8_t> y,
                                        int64_t n, int64_t d,
                                        const LogRegOptions &o) {
  if (n <= 0 || d <= 0)
    return fail("a probe needs at least one example and one feature");
  if (int64_t(xs.size()) != n * d || int64_t(y.size()) != n)
    return fail(formatv("{0} features and {1} labels for {2} examples of "
                        "{3} features",
                        xs.size(), y.size(), n, d));
  if (!(o.C > 0) || !std::isfinite(o.C))
    return fail("C must be positive and finite");
  if (!(o.tol > 0) || o.maxIterations <= 0)
    return fail("the tolerance and the iteration limit must be positive");
  int64_t positives = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (y[i] != 0 && y[i] != 1)
      return fail(
          formatv("label {0} of example {1} is not 0 or 1", int(y[i]), i + 1));
    positives += y[i];
  }
  if (positives == 0 || positives == n)
    return fail("a probe needs examples of both classes (got " +
                Twine(positives) + " malicious of " + Twine(n) + ")");
  for (int64_t i = 0; i < n * d; ++i)
    if (!std::isfinite(xs[i]))
      return fail(formatv("feature {0} of example {1} is not finite", i % d + 1,
                          i / d + 1));

  LogRegResult result;
  std::vector<double> x(xs.begin(), xs.end());
  if (o.standardize) {
    result.mean.assign(d, 0.0);
    result.scale.assign(d, 0.0);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < d; ++j)
        result.mean[j] += x[i * d + j];
    for (double &m : result.mean)
      m /= double(n);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < d; ++j) {
        double c = x[i * d + j] - result.mean[j];
        result.scale[j] += c * c;
      }
    for (double &s : result.scale) {
      s = std::sqrt(s / double(n));
      if (!(s > 1e-12))
        s = 1.0; // a constant feature, as scikit-learn's StandardScaler
    }
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < d; ++j)
        x[i * d + j] = (x[i * d + j] - result.mean[j]) / result.scale[j];
  }
  std::vector<double> s(n);
  for (int64_t i = 0; i < n; ++i)
    s[i] = y[i] ? 1.0 : -1.0;
  Problem p{x, s, n, d, o};

  // Start from the intercept of the class prior, all weights zero.
  std::vector<double> theta(d + 1, 0.0), prev = theta, point = theta;
  theta[d] = prev[d] = point[d] =
      std::log(double(positives) / double(n - positives));
  std::vector<double> grad(d + 1), next(d + 1);
  double lipschitz = 1.0, t = 1.0;
  double gmap = std::numeric_limits<double>::infinity();
  int it = 0;
  for (; it < o.maxIterations; ++it) {
    double fPoint = p.smooth(point, &grad);
    // Backtracking: the quadratic model at `point` must bound f at `next`.
    double fNext = 0;
    for (int tries = 0; tries < 60; ++tries) {
      double step = 1.0 / lipschitz;
      for (int64_t j = 0; j <= d; ++j)
        next[j] = point[j] - step * grad[j];
      p.prox(next, step);
      fNext = p.smooth(next, nullptr);
      double model = fPoint, dist = 0;
      for (int64_t j = 0; j <= d; ++j) {
        double delta = next[j] - point[j];
        model += grad[j] * delta;
        dist += delta * delta;
      }
      if (fNext <= model + 0.5 * lipschitz * dist + 1e-12 * std::fabs(fPoint))
        break;
      lipschitz *= 2;
    }
    // The gradient mapping at `point`: zero exactly at a minimum.
    gmap = 0;
    for (int64_t j = 0; j <= d; ++j)
      gmap = std::max(gmap, lipschitz * std::fabs(point[j] - next[j]));
    // Momentum, restarted when it points uphill (O'Donoghue and Candes).
    double restartTest = 0;
    for (int64_t j = 0; j <= d; ++j)
      restartTest += (point[j] - next[j]) * (next[j] - theta[j]);
    double tNext = 0.5 * (1 + std::sqrt(1 + 4 * t * t));
    double beta = restartTest > 0 ? 0.0 : (t - 1) / tNext;
    if (restartTest > 0)
      tNext = 1;
    prev = theta;
    theta = next;
    for (int64_t j = 0; j <= d; ++j)
      point[j] = theta[j] + beta * (theta[j] - prev[j]);
    t = tNext;
    lipschitz *= 0.9; // let the step grow again where the curvature allows
    if (gmap <= o.tol) {
      ++it;
      result.converged = true;
      break;
    }
  }
  result.iterations = it;
  result.gradientMapping = gmap;
  result.objective = p.smooth(theta, nullptr) + p.nonSmooth(theta);
  std::vector<double> w(theta.begin(), theta.begin() + d);
  double b = theta[d];
  for (double v : w)
    result.nonZeros += v != 0;
  if (o.standardize) {
    result.fittedWeights = w;
    result.fittedBias = b;
    for (int64_t j = 0; j < d; ++j) {
      w[j] /= result.scale[j];
      b -= w[j] * result.mean[j];
    }
  }
  result.weights = std::move(w);
  result.bias = b;
  return result;
}

double qrealign::probes::logRegObjective(ArrayRef<float> xs, ArrayRef<int8_t> y,
                                         int64_t n, int64_t d,
                                         ArrayRef<double> w, double b,
                                         const LogRegOptions &o) {
  std::vector<double> x(xs.begin(), xs.end()), s(n);
  for (int64_t i = 0; i < n; ++i)
    s[i] = y[i] ? 1.0 : -1.0;
  Problem p{x, s, n, d, o};
  std::vector<double> theta(w.begin(), w.end());
  theta.push_back(b);
  return p.smooth(theta, nullptr) + p.nonSmooth(theta);
}
