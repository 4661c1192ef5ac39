//===- SeparabilityTest.cpp - Separability measures and the probes file ---===//

#include "qrealign/Probes/Separability.h"
#include "qrealign/Checkpoint/Checkpoint.h"
#include "qrealign/Probes/ProbesFile.h"
#include "qrealign/Support/Statistics.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace qrealign::probes;

// Values from scikit-learn's roc_auc_score and numpy.quantile on the same
// inputs (computed once, by hand in a Python shell).
TEST(SeparabilityTest, AucAndQuantilesMatchTheReferences) {
  EXPECT_NEAR(
      rocAuc({0.9, 0.3, 0.3, 0.8, 0.1, 0.5, 0.2}, {1, 0, 1, 1, 0, 0, 1}),
      0.7083333333333334, 1e-12);
  EXPECT_TRUE(std::isnan(rocAuc({1, 2}, {1, 1})));
  std::vector<double> v = {3.0, -1.0, 7.5, 2.0, 0.5, 10.0, 4.0};
  EXPECT_NEAR(qrealign::quantile(v, 0.1), -0.1, 1e-12);
  EXPECT_NEAR(qrealign::quantile(v, 0.5), 3.0, 1e-12);
  EXPECT_NEAR(qrealign::quantile(v, 0.9), 8.5, 1e-12);
  EXPECT_TRUE(std::isnan(qrealign::quantile({}, 0.5)));
  EXPECT_DOUBLE_EQ(signAccuracy({1.0, -2.0, 0.0, 3.0}, {1, 0, 1, 0}), 0.5);
}

// Two classes at (+-a, 0) with spread +-s along y: centroid distance 2a,
// within-class RMS spread s, ratio 2a / s. The mean-difference probe is
// the x axis through the origin.
TEST(SeparabilityTest, FisherRatioAndMeanDifference) {
  double a = 3, s = 0.5;
  std::vector<float> x = {float(a),  float(s), float(a),  float(-s),
                          float(-a), float(s), float(-a), float(-s)};
  std::vector<int8_t> y = {1, 1, 0, 0};
  EXPECT_NEAR(fisherRatio(x, y, 4, 2), 2 * a / s, 1e-9);
  auto p = meanDifferenceProbe(x, y, 4, 2);
  ASSERT_TRUE(bool(p));
  EXPECT_NEAR(p->weights[0], 2 * a, 1e-9);
  EXPECT_NEAR(p->weights[1], 0, 1e-9);
  EXPECT_NEAR(p->bias, 0, 1e-9);
  EXPECT_GT(p->logit({1.0f, 5.0f}), 0);
  EXPECT_LT(p->logit({-1.0f, 5.0f}), 0);
  EXPECT_TRUE(std::isnan(fisherRatio(x, {1, 1, 1, 1}, 4, 2)));
  auto bad = meanDifferenceProbe(x, {0, 0, 0, 0}, 4, 2);
  ASSERT_FALSE(bool(bad));
  EXPECT_NE(llvm::toString(bad.takeError()).find("both classes"),
            std::string::npos);
}

// Points along (3, 4) / 5 with a small orthogonal spread: the first axis
// is that direction (sign: largest component positive; t and e are
// uncorrelated), the second the
// orthogonal one, and the variances those of the two spreads.
TEST(SeparabilityTest, PrincipalAxesOfALine) {
  std::vector<float> x;
  double t[] = {-2, -1, 0, 1, 2}, e[] = {0.1, -0.2, 0.2, -0.2, 0.1};
  for (int i = 0; i < 5; ++i) {
    x.push_back(float(10 + t[i] * 0.6 * -1 + e[i] * 0.8));
    x.push_back(float(-5 + t[i] * 0.8 * -1 - e[i] * 0.6));
  }
  PrincipalAxes p = principalAxes(x, 5, 2, 2);
  ASSERT_EQ(p.axes.size(), 2u);
  EXPECT_NEAR(p.mean[0], 10, 1e-6);
  EXPECT_NEAR(p.mean[1], -5, 1e-6);
  EXPECT_NEAR(p.axes[0][0], 0.6, 1e-6);
  EXPECT_NEAR(p.axes[0][1], 0.8, 1e-6);
  EXPECT_NEAR(std::abs(p.axes[1][0]), 0.8, 1e-6);
  EXPECT_NEAR(std::abs(p.axes[1][1]), 0.6, 1e-6);
  EXPECT_NEAR(p.variances[0], 2.0, 1e-6);   // mean of t^2
  EXPECT_NEAR(p.variances[1], 0.028, 1e-6); // mean of e^2
  std::vector<double> z = p.project({float(10 + 0.6), float(-5 + 0.8)});
  EXPECT_NEAR(z[0], 1.0, 1e-6);
  EXPECT_NEAR(z[1], 0.0, 1e-6);
}

TEST(ProbesFileTest, RoundTripAndErrors) {
  llvm::SmallString<128> dir;
  ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("probes-file", dir));
  std::string path = (dir + "/p.safetensors").str();
  ProbesFile f;
  f.hiddenSize = 3;
  f.numLayers = 2;
  f.info["penalty"] = "l1";
  ProbeRecord r;
  r.name = getLayerProbeName(1);
  r.tensor = getLayerProbeTensor(1);
  r.weight = {1, -2, 0.5};
  r.bias = 0.25;
  r.info["heldout_accuracy"] = 0.875;
  f.probes.push_back(r);
  ASSERT_FALSE(bool(writeProbesFile(path, f)));
  auto back = readProbesFile(path);
  ASSERT_TRUE(bool(back)) << llvm::toString(back.takeError());
  EXPECT_EQ(back->hiddenSize, 3);
  EXPECT_EQ(back->numLayers, 2);
  EXPECT_EQ(back->info.getString("penalty"), llvm::StringRef("l1"));
  const ProbeRecord *p = back->lookup("layers.1");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->tensor, "output of qrealign.layer 1");
  EXPECT_EQ(p->position, -1);
  EXPECT_EQ(p->weight, r.weight);
  EXPECT_EQ(p->bias, 0.25f);
  EXPECT_EQ(p->getHeldoutAccuracy(), 0.875);
  EXPECT_NEAR(p->getLinearProbe().logit({1.0f, 1.0f, 2.0f}), 0.25, 1e-12);
  EXPECT_FALSE(back->lookup("layers.0"));

  // Weights of the wrong width are refused on writing.
  f.probes[0].weight.push_back(1);
  llvm::Error err = writeProbesFile(path, f);
  ASSERT_TRUE(bool(err));
  EXPECT_NE(llvm::toString(std::move(err)).find("4 weights, not 3"),
            std::string::npos);
  // A safetensors file that is not a probes file.
  std::string other = (dir + "/other.safetensors").str();
  float one = 1;
  ASSERT_FALSE(bool(qrealign::writeSafeTensors(
      other, {{"x",
               qrealign::DType::F32,
               {1},
               llvm::ArrayRef(reinterpret_cast<const uint8_t *>(&one), 4)}})));
  auto notProbes = readProbesFile(other);
  ASSERT_FALSE(bool(notProbes));
  EXPECT_NE(llvm::toString(notProbes.takeError()).find("is not a probes file"),
            std::string::npos);
  llvm::sys::fs::remove_directories(dir);
}

// The metadata alone: every error names the file and what is wrong.
TEST(ProbesFileTest, MetadataErrors) {
  auto ok = parseProbesMetadata(
      R"({"hidden_size": 4, "num_layers": 2, "penalty": "l2", "probes":
          [{"name": "layers.1", "tensor": "t", "position": -1, "x": 1}]})",
      "m.json");
  ASSERT_TRUE(bool(ok)) << llvm::toString(ok.takeError());
  EXPECT_EQ(ok->probes.size(), 1u);
  EXPECT_FALSE(ok->probes[0].hasData());
  EXPECT_EQ(ok->probes[0].info.getInteger("x"), 1);
  EXPECT_EQ(ok->info.getString("penalty"), llvm::StringRef("l2"));
  auto expectError = [](llvm::StringRef json, llvm::StringRef what) {
    auto r = parseProbesMetadata(json, "m.json");
    ASSERT_FALSE(bool(r)) << json.str();
    std::string msg = llvm::toString(r.takeError());
    EXPECT_NE(msg.find("m.json: "), std::string::npos) << msg;
    EXPECT_NE(msg.find(what.str()), std::string::npos) << msg;
  };
  expectError("{", "is not JSON");
  expectError("[]", "lacks hidden_size, num_layers or probes");
  expectError(R"({"hidden_size": 0, "num_layers": 2, "probes": []})",
              "lacks hidden_size");
  expectError(R"({"hidden_size": 4, "num_layers": 99999, "probes": []})",
              "at most");
  expectError(R"({"hidden_size": 4, "num_layers": 2, "probes": [3]})",
              "probe record 0 lacks name, tensor or position");
  expectError(R"({"hidden_size": 4, "num_layers": 2, "probes":
                  [{"name": "a", "tensor": "t"}]})",
              "probe record 0 lacks");
}
