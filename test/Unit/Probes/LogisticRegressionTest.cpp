//===- LogisticRegressionTest.cpp - The probe solver ----------------------===//
//
// Optimality (the KKT conditions of the L1 problem hold at the returned
// point), the standardisation bookkeeping, and bad input. Agreement with
// scikit-learn is test/tools/qrealign-probe/sklearn.test.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Probes/LogisticRegression.h"

#include "gtest/gtest.h"

#include <cmath>
#include <random>

using namespace qrealign::probes;

namespace {
struct Data {
  std::vector<float> x;
  std::vector<int8_t> y;
  int64_t n, d;
};

Data makeData(int64_t n, int64_t d, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::uniform_real_distribution<float> uniform(0.f, 1.f);
  Data data{{}, {}, n, d};
  for (int64_t i = 0; i < n; ++i) {
    double z = 0.2;
    for (int64_t j = 0; j < d; ++j) {
      float v = normal(rng) * float(1 + j % 3); // features on three scales
      data.x.push_back(v);
      if (j < 3)
        z += (j == 1 ? -1.5 : 1.0) * v;
    }
    data.y.push_back(uniform(rng) < 1 / (1 + std::exp(-z)) ? 1 : 0);
  }
  return data;
}

/// The gradient of C * sum softplus(-s z) at (w, b).
std::vector<double> lossGradient(const Data &data, const LogRegResult &r,
                                 double C) {
  std::vector<double> g(data.d + 1, 0.0);
  for (int64_t i = 0; i < data.n; ++i) {
    double z = r.bias, s = data.y[i] ? 1 : -1;
    for (int64_t j = 0; j < data.d; ++j)
      z += r.weights[j] * data.x[i * data.d + j];
    double coef = -s * C / (1 + std::exp(s * z));
    for (int64_t j = 0; j < data.d; ++j)
      g[j] += coef * data.x[i * data.d + j];
    g[data.d] += coef;
  }
  return g;
}

TEST(LogisticRegressionTest, L1SolutionSatisfiesKKT) {
  Data data = makeData(300, 12, 1);
  LogRegOptions o;
  o.tol = 1e-9;
  auto r = fitLogisticRegression(data.x, data.y, data.n, data.d, o);
  ASSERT_TRUE(bool(r)) << llvm::toString(r.takeError());
  EXPECT_TRUE(r->converged);
  std::vector<double> g = lossGradient(data, *r, o.C);
  EXPECT_NEAR(g[data.d], 0.0, 1e-5); // the intercept is not penalised
  int zeros = 0;
  for (int64_t j = 0; j < data.d; ++j) {
    if (r->weights[j] != 0) {
      EXPECT_NEAR(g[j], -std::copysign(1.0, r->weights[j]), 1e-5) << j;
    } else {
      EXPECT_LE(std::fabs(g[j]), 1 + 1e-5) << j;
      ++zeros;
    }
  }
  EXPECT_EQ(zeros, data.d - r->nonZeros);
  // The three informative features carry the signs of the model.
  EXPECT_GT(r->weights[0], 0);
  EXPECT_LT(r->weights[1], 0);
  EXPECT_GT(r->weights[2], 0);
  // A stronger penalty (smaller C) zeroes more weights.
  o.C = 0.01;
  auto sparse = fitLogisticRegression(data.x, data.y, data.n, data.d, o);
  ASSERT_TRUE(bool(sparse));
  EXPECT_LT(sparse->nonZeros, r->nonZeros);
}

TEST(LogisticRegressionTest, StandardizedWeightsMapToRawFeatures) {
  Data data = makeData(200, 6, 2);
  LogRegOptions o;
  o.standardize = true;
  o.tol = 1e-9;
  auto r = fitLogisticRegression(data.x, data.y, data.n, data.d, o);
  ASSERT_TRUE(bool(r));
  ASSERT_EQ(r->mean.size(), 6u);
  // The same logits from the raw weights on raw features as from the
  // fitted weights on standardised ones.
  for (int64_t i = 0; i < data.n; ++i) {
    double raw = r->bias, fitted = r->fittedBias;
    for (int64_t j = 0; j < data.d; ++j) {
      float v = data.x[i * data.d + j];
      raw += r->weights[j] * v;
      fitted += r->fittedWeights[j] * (v - r->mean[j]) / r->scale[j];
    }
    EXPECT_NEAR(raw, fitted, 1e-9 * (1 + std::fabs(raw))) << i;
  }
  // Standardising changes the problem (the penalty sees scaled weights).
  LogRegOptions plain = o;
  plain.standardize = false;
  auto p = fitLogisticRegression(data.x, data.y, data.n, data.d, plain);
  ASSERT_TRUE(bool(p));
  EXPECT_NE(p->weights, r->weights);
}

TEST(LogisticRegressionTest, BadInputIsAnError) {
  std::vector<float> x = {1, 2, 3, 4};
  auto message = [&](std::vector<int8_t> y, std::vector<float> xs,
                     LogRegOptions o = {}) {
    auto r = fitLogisticRegression(xs, y, int64_t(y.size()), 2, o);
    return r ? std::string() : llvm::toString(r.takeError());
  };
  EXPECT_EQ(message({1, 1}, x),
            "a probe needs examples of both classes (got 2 malicious of 2)");
  EXPECT_EQ(message({0, 2}, x), "label 2 of example 2 is not 0 or 1");
  EXPECT_EQ(message({0, 1}, {1, NAN, 3, 4}),
            "feature 2 of example 1 is not finite");
  EXPECT_EQ(message({0, 1, 1}, x),
            "4 features and 3 labels for 3 examples of 2 features");
  LogRegOptions bad;
  bad.C = 0;
  EXPECT_EQ(message({0, 1}, x, bad), "C must be positive and finite");
  EXPECT_EQ(message({0, 1}, x), "");
}
} // namespace
