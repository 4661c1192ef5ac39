//===- QuantSchemeAttrTest.cpp - #qrealign.quant unit tests ---------------===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Dialect/QRealign/IR/QRealign.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"

#include "gtest/gtest.h"

using namespace mlir;
using namespace mlir::qrealign;

namespace {
class QuantSchemeAttrTest : public ::testing::Test {
protected:
  QuantSchemeAttrTest() { ctx.loadDialect<QRealignDialect>(); }

  /// getChecked, capturing the verifier's message.
  QuantSchemeAttr check(unsigned w, unsigned a, Granularity g, int64_t gs,
                        bool sym, ActQuantMode act, std::string &message) {
    ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &diag) {
      message = diag.str();
      return success();
    });
    return QuantSchemeAttr::getChecked(
        [&] { return emitError(UnknownLoc::get(&ctx)); }, &ctx, w, a, g, gs,
        sym, act);
  }

  MLIRContext ctx;
};

TEST_F(QuantSchemeAttrTest, BitsPerWeightCountsScalesAndZeroPoints) {
  // W4 g128 asymmetric: 4 bits + (16-bit scale + 4-bit zero point) / 128.
  auto g128 = QuantSchemeAttr::get(&ctx, 4, 16, Granularity::PerGroup, 128,
                                   false, ActQuantMode::Dynamic);
  EXPECT_DOUBLE_EQ(g128.getBitsPerWeight(4096), 4.0 + 20.0 / 128.0);
  // Symmetric: no zero point.
  auto g128s = QuantSchemeAttr::get(&ctx, 4, 16, Granularity::PerGroup, 128,
                                    true, ActQuantMode::Dynamic);
  EXPECT_DOUBLE_EQ(g128s.getBitsPerWeight(4096), 4.0 + 16.0 / 128.0);
  // Per channel: one scale per row of K = 4096 weights.
  auto ch8 = QuantSchemeAttr::get(&ctx, 8, 8, Granularity::PerChannel, 0, false,
                                  ActQuantMode::Dynamic);
  EXPECT_DOUBLE_EQ(ch8.getBitsPerWeight(4096), 8.0 + 24.0 / 4096.0);
  auto t3 = QuantSchemeAttr::get(&ctx, 3, 16, Granularity::PerTensor, 0, true,
                                 ActQuantMode::Dynamic);
  EXPECT_DOUBLE_EQ(t3.getBitsPerWeight(11008), 3.0);
  auto fp = QuantSchemeAttr::get(&ctx, 16, 8, Granularity::PerChannel, 0, false,
                                 ActQuantMode::Dynamic);
  EXPECT_DOUBLE_EQ(fp.getBitsPerWeight(4096), 16.0);
  EXPECT_FALSE(fp.quantizesWeights());
  EXPECT_TRUE(fp.quantizesActivations());
}

TEST_F(QuantSchemeAttrTest, NumGroups) {
  auto g128 = QuantSchemeAttr::get(&ctx, 4, 16, Granularity::PerGroup, 128,
                                   false, ActQuantMode::Dynamic);
  EXPECT_EQ(g128.getNumGroups(11008), 86);
  auto ch = QuantSchemeAttr::get(&ctx, 4, 16, Granularity::PerChannel, 0, false,
                                 ActQuantMode::Dynamic);
  EXPECT_EQ(ch.getNumGroups(11008), 1);
}

TEST_F(QuantSchemeAttrTest, ShortNames) {
  EXPECT_EQ(QuantSchemeAttr::get(&ctx, 4, 16, Granularity::PerGroup, 128, false,
                                 ActQuantMode::Dynamic)
                .getShortName(),
            "W4A16 g128 asym");
  EXPECT_EQ(QuantSchemeAttr::get(&ctx, 8, 8, Granularity::PerChannel, 0, true,
                                 ActQuantMode::Static)
                .getShortName(),
            "W8A8 per-channel sym static-act");
  EXPECT_EQ(QuantSchemeAttr::get(&ctx, 16, 8, Granularity::PerChannel, 0, false,
                                 ActQuantMode::Dynamic)
                .getShortName(),
            "W16A8 dyn-act");
}

TEST_F(QuantSchemeAttrTest, VerifierRejectsInvalidSchemes) {
  std::string msg;
  EXPECT_FALSE(check(5, 16, Granularity::PerChannel, 0, false,
                     ActQuantMode::Dynamic, msg));
  EXPECT_NE(msg.find("w_bits must be one of 2, 3, 4, 8 or 16, got 5"),
            std::string::npos)
      << msg;
  EXPECT_FALSE(check(4, 6, Granularity::PerChannel, 0, false,
                     ActQuantMode::Dynamic, msg));
  EXPECT_NE(msg.find("a_bits must be one of 4, 8 or 16"), std::string::npos);
  EXPECT_FALSE(check(4, 16, Granularity::PerGroup, 0, false,
                     ActQuantMode::Dynamic, msg));
  EXPECT_NE(msg.find("needs a group_size"), std::string::npos);
  EXPECT_FALSE(check(4, 16, Granularity::PerGroup, 96, false,
                     ActQuantMode::Dynamic, msg));
  EXPECT_NE(msg.find("power of two >= 8, got 96"), std::string::npos);
  EXPECT_FALSE(check(4, 16, Granularity::PerGroup, 4, false,
                     ActQuantMode::Dynamic, msg));
  EXPECT_FALSE(check(4, 16, Granularity::PerChannel, 128, false,
                     ActQuantMode::Dynamic, msg));
  EXPECT_NE(msg.find("only valid with per_group"), std::string::npos);
  EXPECT_FALSE(check(4, 16, Granularity::PerChannel, 0, false,
                     ActQuantMode::Static, msg));
  EXPECT_NE(msg.find("act = static needs quantized activations"),
            std::string::npos);
  EXPECT_FALSE(check(16, 16, Granularity::PerGroup, 128, false,
                     ActQuantMode::Dynamic, msg));
  EXPECT_NE(msg.find("w_bits = 16 leaves weights unquantized"),
            std::string::npos);
  // And valid ones pass.
  for (unsigned w : kValidWeightBits)
    for (unsigned a : kValidActBits)
      EXPECT_TRUE(check(w, a, Granularity::PerChannel, 0, false,
                        ActQuantMode::Dynamic, msg))
          << "w" << w << "a" << a << ": " << msg;
  EXPECT_TRUE(
      check(3, 8, Granularity::PerGroup, 64, true, ActQuantMode::Static, msg))
      << msg;
}
} // namespace
