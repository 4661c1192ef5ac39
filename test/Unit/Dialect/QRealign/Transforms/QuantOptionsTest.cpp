//===- QuantOptionsTest.cpp - selector and override parsing tests ---------===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Dialect/QRealign/Transforms/QuantOptions.h"

#include "gtest/gtest.h"

using namespace mlir::qrealign;

namespace {
LinearSelector parseOk(llvm::StringRef text) {
  llvm::Expected<LinearSelector> sel = parseLinearSelector(text);
  EXPECT_TRUE(bool(sel)) << (sel ? "" : llvm::toString(sel.takeError()));
  return sel ? *sel : LinearSelector();
}

std::string parseErr(llvm::StringRef text) {
  llvm::Expected<LinearSelector> sel = parseLinearSelector(text);
  if (sel)
    return "<parsed>";
  return llvm::toString(sel.takeError());
}

TEST(LinearSelector, NameMatchesEveryLayerAndOutside) {
  LinearSelector s = parseOk("down_proj");
  EXPECT_TRUE(s.matches(0, "down_proj"));
  EXPECT_TRUE(s.matches(31, "down_proj"));
  EXPECT_FALSE(s.matches(0, "up_proj"));
  LinearSelector head = parseOk("lm_head");
  EXPECT_TRUE(head.matches(std::nullopt, "lm_head"));
}

TEST(LinearSelector, LayerRanges) {
  LinearSelector one = parseOk("L3");
  EXPECT_TRUE(one.matches(3, "q_proj"));
  EXPECT_FALSE(one.matches(2, "q_proj"));
  EXPECT_FALSE(one.matches(std::nullopt, "lm_head"));
  LinearSelector range = parseOk("L2-4.v_proj");
  EXPECT_FALSE(range.matches(1, "v_proj"));
  EXPECT_TRUE(range.matches(2, "v_proj"));
  EXPECT_TRUE(range.matches(4, "v_proj"));
  EXPECT_FALSE(range.matches(5, "v_proj"));
  EXPECT_FALSE(range.matches(3, "k_proj"));
  LinearSelector all = parseOk("*");
  EXPECT_TRUE(all.matches(std::nullopt, "anything"));
  EXPECT_TRUE(all.matches(7, "q_proj"));
}

TEST(LinearSelector, Errors) {
  EXPECT_NE(parseErr("").find("empty"), std::string::npos);
  EXPECT_NE(parseErr("L4-2").find("layer range is empty (4 > 2)"),
            std::string::npos);
  EXPECT_NE(parseErr("L1-").find("decimal indices"), std::string::npos);
  EXPECT_NE(parseErr("L1.").find("is not a linear name"), std::string::npos);
  EXPECT_NE(parseErr("q-proj").find("is not a linear name"), std::string::npos);
  EXPECT_NE(parseErr("L99999999999999999999").find("decimal indices"),
            std::string::npos);
}

TEST(QuantOverride, ParsesSettings) {
  llvm::Expected<QuantOverride> ov =
      parseQuantOverride("L0-1:w-bits=8:group-size=64:symmetric=true");
  ASSERT_TRUE(bool(ov)) << llvm::toString(ov.takeError());
  EXPECT_TRUE(ov->selector.matches(1, "x"));
  EXPECT_EQ(ov->settings.wBits, 8u);
  EXPECT_EQ(ov->settings.groupSize, 64);
  EXPECT_EQ(ov->settings.symmetric, true);
  EXPECT_FALSE(ov->settings.aBits.has_value());
}

TEST(QuantOverride, Errors) {
  auto err = [](llvm::StringRef t) {
    llvm::Expected<QuantOverride> ov = parseQuantOverride(t);
    return ov ? std::string("<parsed>") : llvm::toString(ov.takeError());
  };
  EXPECT_NE(err("down_proj").find("SELECTOR:KEY=VALUE"), std::string::npos);
  EXPECT_NE(err("down_proj:bits=4").find("unknown key 'bits'"),
            std::string::npos);
  EXPECT_NE(err("down_proj:w-bits=four").find("must be an integer"),
            std::string::npos);
  EXPECT_NE(err("down_proj:w-bits=").find("KEY=VALUE"), std::string::npos);
  EXPECT_NE(err("down_proj:granularity=rows").find("per-tensor"),
            std::string::npos);
  EXPECT_NE(err("down_proj:symmetric=maybe").find("true or false"),
            std::string::npos);
  EXPECT_NE(err("down_proj:act=lazy").find("dynamic or static"),
            std::string::npos);
  EXPECT_NE(err("down_proj:group-size=-8").find("non-negative"),
            std::string::npos);
}

TEST(SchemeSettings, GroupSizeImpliesPerGroupAndBack) {
  SchemeFields f;
  SchemeSettings s;
  s.groupSize = 128;
  s.applyTo(f);
  EXPECT_EQ(f.granularity, Granularity::PerGroup);
  EXPECT_EQ(f.groupSize, 128);

  SchemeSettings toChannel;
  toChannel.granularity = Granularity::PerChannel;
  toChannel.applyTo(f);
  EXPECT_EQ(f.granularity, Granularity::PerChannel);
  EXPECT_EQ(f.groupSize, 0);

  SchemeSettings zero;
  zero.groupSize = 0;
  f.granularity = Granularity::PerGroup;
  f.groupSize = 64;
  zero.applyTo(f);
  EXPECT_EQ(f.granularity, Granularity::PerChannel);
}

TEST(SchemeSettings, SixteenBitWeightsResetWeightFields) {
  SchemeFields f;
  f.wBits = 4;
  f.granularity = Granularity::PerGroup;
  f.groupSize = 128;
  f.symmetric = true;
  SchemeSettings s;
  s.wBits = 16;
  s.applyTo(f);
  EXPECT_EQ(f.wBits, 16u);
  EXPECT_EQ(f.granularity, Granularity::PerChannel);
  EXPECT_EQ(f.groupSize, 0);
  EXPECT_FALSE(f.symmetric);
}

TEST(Options, GranularityAndAct) {
  EXPECT_EQ(parseGranularityOption("per-group"), Granularity::PerGroup);
  EXPECT_EQ(parseGranularityOption("per_tensor"), Granularity::PerTensor);
  EXPECT_FALSE(parseGranularityOption("group").has_value());
  EXPECT_EQ(parseActOption("static"), ActQuantMode::Static);
  EXPECT_FALSE(parseActOption("Static").has_value());
}
} // namespace
