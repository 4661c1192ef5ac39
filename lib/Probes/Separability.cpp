//===- Separability.cpp - How well a linear boundary separates classes ----===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Probes/Separability.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

using namespace llvm;
using namespace qrealign::probes;

double qrealign::probes::rocAuc(ArrayRef<double> scores,
                                ArrayRef<int8_t> labels) {
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  double rankSum = 0, positives = 0;
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j < order.size() && scores[order[j]] == scores[order[i]])
      ++j;
    double rank = (i + j + 1) / 2.0; // average 1-based rank of the tie
    for (size_t k = i; k < j; ++k)
      if (labels[order[k]]) {
        rankSum += rank;
        ++positives;
      }
    i = j;
  }
  double negatives = double(scores.size()) - positives;
  if (positives == 0 || negatives == 0)
    return NAN;
  return (rankSum - positives * (positives + 1) / 2) / (positives * negatives);
}

double qrealign::probes::signAccuracy(ArrayRef<double> scores,
                                      ArrayRef<int8_t> labels) {
  if (scores.empty())
    return NAN;
  size_t right = 0;
  for (size_t i = 0; i < scores.size(); ++i)
    right += (scores[i] > 0) == (labels[i] == 1);
  return double(right) / double(scores.size());
}

/// Class centroids of x; counts in `count`.
static void centroids(ArrayRef<float> x, ArrayRef<int8_t> y, int64_t n,
                      int64_t d, std::vector<double> (&mu)[2],
                      int64_t (&count)[2]) {
  for (int k = 0; k < 2; ++k) {
    mu[k].assign(d, 0);
    count[k] = 0;
  }
  for (int64_t i = 0; i < n; ++i) {
    int k = y[i] ? 1 : 0;
    ++count[k];
    for (int64_t j = 0; j < d; ++j)
      mu[k][j] += x[i * d + j];
  }
  for (int k = 0; k < 2; ++k)
    if (count[k])
      for (double &v : mu[k])
        v /= double(count[k]);
}

double qrealign::probes::fisherRatio(ArrayRef<float> x, ArrayRef<int8_t> y,
                                     int64_t n, int64_t d) {
  std::vector<double> mu[2];
  int64_t count[2];
  centroids(x, y, n, d, mu, count);
  if (!count[0] || !count[1])
    return NAN;
  double spread[2] = {0, 0};
  for (int64_t i = 0; i < n; ++i) {
    int k = y[i] ? 1 : 0;
    for (int64_t j = 0; j < d; ++j) {
      double e = x[i * d + j] - mu[k][j];
      spread[k] += e * e;
    }
  }
  double between = 0;
  for (int64_t j = 0; j < d; ++j)
    between += (mu[1][j] - mu[0][j]) * (mu[1][j] - mu[0][j]);
  double within =
      (spread[0] / double(count[0]) + spread[1] / double(count[1])) / 2;
  if (within == 0)
    return between == 0 ? NAN : std::numeric_limits<double>::infinity();
  return std::sqrt(between / within);
}

double LinearProbe::logit(ArrayRef<float> h) const {
  double z = bias;
  for (size_t k = 0; k < weights.size(); ++k)
    z += weights[k] * h[k];
  return z;
}

Expected<LinearProbe> qrealign::probes::meanDifferenceProbe(ArrayRef<float> x,
                                                            ArrayRef<int8_t> y,
                                                            int64_t n,
                                                            int64_t d) {
  if (n <= 0 || d <= 0 || int64_t(x.size()) != n * d || int64_t(y.size()) != n)
    return createStringError(inconvertibleErrorCode(),
                             "mean-difference probe: the data is empty or "
                             "its sizes do not match");
  std::vector<double> mu[2];
  int64_t count[2];
  centroids(x, y, n, d, mu, count);
  if (!count[0] || !count[1])
    return createStringError(inconvertibleErrorCode(),
                             "mean-difference probe: needs both classes");
  LinearProbe p;
  p.weights.resize(d);
  for (int64_t j = 0; j < d; ++j) {
    p.weights[j] = mu[1][j] - mu[0][j];
    p.bias -= p.weights[j] * (mu[0][j] + mu[1][j]) / 2;
  }
  return p;
}

std::vector<double> PrincipalAxes::project(ArrayRef<float> h) const {
  std::vector<double> out;
  for (const std::vector<double> &a : axes) {
    double z = 0;
    for (size_t j = 0; j < a.size(); ++j)
      z += a[j] * (h[j] - mean[j]);
    out.push_back(z);
  }
  return out;
}

PrincipalAxes qrealign::probes::principalAxes(ArrayRef<float> x, int64_t n,
                                              int64_t d, int k) {
  PrincipalAxes p;
  p.mean.assign(d, 0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j)
      p.mean[j] += x[i * d + j];
  for (double &m : p.mean)
    m /= double(std::max<int64_t>(n, 1));
  auto centred = [&](int64_t i, int64_t j) { return x[i * d + j] - p.mean[j]; };
  // C v = X_c^T (X_c v) / n, with earlier axes deflated.
  auto apply = [&](const std::vector<double> &v) {
    std::vector<double> out(d, 0);
    for (int64_t i = 0; i < n; ++i) {
      double z = 0;
      for (int64_t j = 0; j < d; ++j)
        z += centred(i, j) * v[j];
      for (int64_t j = 0; j < d; ++j)
        out[j] += centred(i, j) * z;
    }
    for (double &o : out)
      o /= double(std::max<int64_t>(n, 1));
    for (size_t a = 0; a < p.axes.size(); ++a) {
      double dot = 0;
      for (int64_t j = 0; j < d; ++j)
        dot += p.axes[a][j] * v[j];
      for (int64_t j = 0; j < d; ++j)
        out[j] -= p.variances[a] * dot * p.axes[a][j];
    }
    return out;
  };
  auto normalize = [](std::vector<double> &v) {
    double norm = 0;
    for (double e : v)
      norm += e * e;
    norm = std::sqrt(norm);
    if (norm > 0)
      for (double &e : v)
        e /= norm;
    return norm;
  };
  for (int a = 0; a < std::min<int64_t>(k, d); ++a) {
    // A fixed start that is not orthogonal to any axis in general.
    std::vector<double> v(d);
    for (int64_t j = 0; j < d; ++j)
      v[j] = 1.0 + 0.01 * double((j * 7919 + a * 104729) % 97);
    normalize(v);
    double lambda = 0;
    for (int it = 0; it < 1000; ++it) {
      std::vector<double> w = apply(v);
      lambda = normalize(w);
      double change = 0;
      for (int64_t j = 0; j < d; ++j)
        change = std::max(change, std::abs(w[j] - v[j]));
      v = std::move(w);
      if (lambda == 0 || change < 1e-12)
        break;
    }
    size_t big = 0;
    for (int64_t j = 0; j < d; ++j)
      if (std::abs(v[j]) > std::abs(v[big]))
        big = j;
    if (v[big] < 0)
      for (double &e : v)
        e = -e;
    p.axes.push_back(std::move(v));
    p.variances.push_back(lambda);
  }
  return p;
}
