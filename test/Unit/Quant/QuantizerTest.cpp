//===- QuantizerTest.cpp - known answers for weight quantization ----------===//
//
// Part of the qrealign project.
//
// A 2x8 weight under every granularity, symmetric and asymmetric, at 8 and 4
// bits. The expected levels were computed by hand from the formulas in
// Quantizer.h (and cross-checked with a float32 numpy transcription); no
// input lies within 0.01 of a rounding tie, so f32 rounding cannot move a
// level. Groups run along the input dimension: quantizing with groups along
// the output dimension gives other levels and scales (GroupsRunAlongK).
//
//===----------------------------------------------------------------------===//

#include "qrealign/Quant/Quantizer.h"

#include "gtest/gtest.h"

#include <cstring>

#include <cmath>
#include <vector>

using namespace qrealign;

namespace {
const std::vector<float> kW = {-1.5f,  0.75f, 0.45f, -2.2f, -0.65f, 2.85f,
                               0.85f,  0.0f,  1.0f,  0.7f,  -2.6f,  0.85f,
                               -2.95f, 2.8f,  2.35f, 0.0f};

struct Case {
  int bits;
  int64_t groupSize; // -1 per tensor, 0 per channel
  bool symmetric;
  std::vector<int8_t> q;
  std::vector<float> scale;
  std::vector<int8_t> zeroPoint;
};

// Hand-computed: e.g. 4-bit symmetric per channel, row 0: s = 2.85 / 7 =
// 0.40714; -1.5 / s = -3.68 -> -4; 0.75 / s = 1.84 -> 2; -2.2 / s = -5.40
// -> -5. 4-bit asymmetric per channel, row 0: range [-2.2, 2.85],
// s = 5.05 / 15 = 0.33667, unsigned zero 2.2 / s = 6.53 -> 7, stored
// signed as 7 - 8 = -1; -1.5 / s = -4.46 -> -4, +7 = 3, stored 3 - 8 = -5.
const Case kCases[] = {
    {4,
     -1,
     true,
     {-4, 2, 1, -5, -2, 7, 2, 0, 2, 2, -6, 2, -7, 7, 6, 0},
     {2.95f / 7},
     {}},
    {4,
     -1,
     false,
     {-4, 2, 1, -6, -2, 7, 2, 0, 3, 2, -7, 2, -8, 7, 6, 0},
     {5.8f / 15},
     {0}},
    {4,
     0,
     true,
     {-4, 2, 1, -5, -2, 7, 2, 0, 2, 2, -6, 2, -7, 7, 6, 0},
     {2.85f / 7, 2.95f / 7},
     {}},
    {4,
     0,
     false,
     {-5, 1, 0, -8, -3, 7, 2, -1, 3, 2, -7, 2, -8, 7, 6, 0},
     {5.05f / 15, 5.75f / 15},
     {-1, 0}},
    {4,
     4,
     true,
     {-5, 2, 1, -7, -2, 7, 2, 0, 3, 2, -7, 2, -7, 7, 6, 0},
     {2.2f / 7, 2.85f / 7, 2.6f / 7, 2.95f / 7},
     {}},
    {4,
     4,
     false,
     {-5, 7, 5, -8, -8, 7, -1, -5, 7, 6, -8, 7, -8, 7, 6, 0},
     {2.95f / 15, 3.5f / 15, 3.6f / 15, 5.75f / 15},
     {3, -5, 3, 0}},
    {8,
     -1,
     true,
     {-65, 32, 19, -95, -28, 123, 37, 0, 43, 30, -112, 37, -127, 121, 101, 0},
     {2.95f / 127},
     {}},
    {8,
     -1,
     false,
     {-64, 35, 22, -95, -27, 127, 39, 2, 46, 33, -112, 39, -128, 125, 105, 2},
     {5.8f / 255},
     {2}},
    {8,
     0,
     true,
     {-67, 33, 20, -98, -29, 127, 38, 0, 43, 30, -112, 37, -127, 121, 101, 0},
     {2.85f / 127, 2.95f / 127},
     {}},
    {8,
     0,
     false,
     {-93, 21, 6, -128, -50, 127, 26, -17, 47, 34, -112, 41, -128, 127, 107, 3},
     {5.05f / 255, 5.75f / 255},
     {-17, 3}},
    {8,
     4,
     true,
     {-87, 43, 26, -127, -29, 127, 38, 0, 49, 34, -127, 42, -127, 121, 101, 0},
     {2.2f / 127, 2.85f / 127, 2.6f / 127, 2.95f / 127},
     {}},
    {8,
     4,
     false,
     {-68, 127, 101, -128, -128, 127, -19, -81, 127, 106, -128, 116, -128, 127,
      107, 3},
     {2.95f / 255, 3.5f / 255, 3.6f / 255, 5.75f / 255},
     {62, -81, 56, 3}},
};

TEST(QuantizerTest, KnownAnswers) {
  for (const Case &c : kCases) {
    SCOPED_TRACE(testing::Message()
                 << c.bits << " bits, group " << c.groupSize
                 << (c.symmetric ? " symmetric" : " asymmetric"));
    QuantizedWeight qw =
        quantizeWeight(kW, 2, 8, {c.bits, c.groupSize, c.symmetric});
    EXPECT_EQ(qw.q, c.q);
    ASSERT_EQ(qw.scale.size(), c.scale.size());
    for (size_t i = 0; i < c.scale.size(); ++i)
      EXPECT_NEAR(qw.scale[i], c.scale[i], 1e-6f * c.scale[i]) << i;
    EXPECT_EQ(qw.zeroPoint, c.zeroPoint);
    EXPECT_EQ(qw.scaleRows, c.groupSize < 0 ? 1 : 2);
    EXPECT_EQ(qw.groups, c.groupSize > 0 ? 8 / c.groupSize : 1);
    // Dequantized values are (q - z) * s and lie within half a step of w
    // (the range always holds every w, so nothing is clipped).
    std::vector<float> w = dequantizeWeight(qw.q, 2, 8, qw.scale, qw.zeroPoint,
                                            qw.scaleRows, qw.groups);
    for (int64_t i = 0; i < 16; ++i) {
      int64_t s = (qw.scaleRows == 1 ? 0 : i / 8) * qw.groups +
                  (i % 8) / (8 / qw.groups);
      float z = qw.zeroPoint.empty() ? 0.0f : qw.zeroPoint[s];
      EXPECT_FLOAT_EQ(w[i], (c.q[i] - z) * qw.scale[s]) << i;
      EXPECT_LE(std::fabs(w[i] - kW[i]), 0.5f * qw.scale[s] * 1.0001f) << i;
    }
  }
}

TEST(QuantizerTest, NibbleOrder) {
  // 4-bit symmetric per channel, row 0: q = -4 2 1 -5 -2 7 2 0, stored
  // q + 8 = 4 10 9 3 6 15 10 8, element 2j in the low nibble of byte j.
  QuantizedWeight qw = quantizeWeight(kW, 2, 8, {4, 0, true});
  std::vector<uint8_t> packed = packWeight(qw.q, 2, 8, 4);
  ASSERT_EQ(packed.size(), 8u);
  EXPECT_EQ(packed[0], 0xA4);
  EXPECT_EQ(packed[1], 0x39);
  EXPECT_EQ(packed[2], 0xF6);
  EXPECT_EQ(packed[3], 0x8A);
  EXPECT_EQ(unpackWeight(packed, 2, 8, LevelStorage::Nibbles), qw.q);
  // 8 bits: one two's-complement byte per level.
  QuantizedWeight q8 = quantizeWeight(kW, 2, 8, {8, 0, true});
  std::vector<uint8_t> bytes = packWeight(q8.q, 2, 8, 8);
  ASSERT_EQ(bytes.size(), 16u);
  EXPECT_EQ(bytes[0], uint8_t(-67));
  EXPECT_EQ(unpackWeight(bytes, 2, 8, LevelStorage::Bytes), q8.q);
  // 4-bit levels held one per byte (int-quantized W4A8) read as they are.
  std::vector<uint8_t> wide(qw.q.begin(), qw.q.end());
  EXPECT_EQ(unpackWeight(wide, 2, 8, LevelStorage::Bytes), qw.q);
}

TEST(QuantizerTest, LevelRange) {
  std::vector<int8_t> q = {-8, 7, 0, 3};
  EXPECT_EQ(findLevelOutOfRange(q, 4), std::nullopt);
  q.push_back(8);
  EXPECT_EQ(findLevelOutOfRange(q, 4), std::optional<size_t>(4));
  q = {1, -9};
  EXPECT_EQ(findLevelOutOfRange(q, 4), std::optional<size_t>(1));
  EXPECT_EQ(findLevelOutOfRange(q, 8), std::nullopt);
  q = {-128, 127};
  EXPECT_EQ(findLevelOutOfRange(q, 8), std::nullopt);
  EXPECT_EQ(findLevelOutOfRange(q, 7), std::optional<size_t>(0));
}

TEST(QuantizerTest, CompressedTensorsWords) {
  // pack_to_int32's own example (8 bits): levels 1 2 are stored 129 130,
  // padded with zeros to a word: 0x00008281 = 33409.
  EXPECT_EQ(packInt32({1, 2}, 1, 2, 8, false), std::vector<int32_t>{33409});
  // 4 bits: row 0 of NibbleOrder, q + 8 = 4 10 9 3 6 15 10 8, element i at
  // bits 4i: 0x8AF639A4, the bytes a4 39 f6 8a of the nibble storage read
  // as one little-endian word.
  std::vector<int8_t> row = {-4, 2, 1, -5, -2, 7, 2, 0};
  std::vector<int32_t> word = packInt32(row, 1, 8, 4, false);
  ASSERT_EQ(word.size(), 1u);
  EXPECT_EQ(uint32_t(word[0]), 0x8AF639A4u);
  std::vector<uint8_t> bytes = packWeight(row, 1, 8, 4);
  EXPECT_EQ(std::memcmp(bytes.data(), word.data(), 4), 0);
  EXPECT_EQ(unpackInt32(word, 1, 8, 4, false), row);
  // Zero points [10, 2] packed along the rows: [2, 2] words, rows 8 and 9
  // in the low bytes of the second row of words, the padding zero.
  std::vector<int8_t> zp(20);
  for (int i = 0; i < 20; ++i)
    zp[i] = int8_t(i % 16 - 8);
  std::vector<int32_t> zw = packInt32(zp, 10, 2, 4, true);
  ASSERT_EQ(zw.size(), 4u);
  // Column 0 holds zp[0], zp[2], ..., zp[14] = -8 -6 ... 6: q + 8 = 0 2 4
  // ... 14 at bits 4i.
  EXPECT_EQ(uint32_t(zw[0]), 0xECA86420u);
  // Column 0, rows 8 and 9: zp[16] = -8 and zp[18] = -6, stored 0 and 2;
  // the padding rows stay 0.
  EXPECT_EQ(uint32_t(zw[2]), 0x00000020u);
  EXPECT_EQ(unpackInt32(zw, 10, 2, 4, true), zp);
  // Eight bits along the rows: four levels per word.
  std::vector<int32_t> z8 = packInt32(zp, 10, 2, 8, true);
  ASSERT_EQ(z8.size(), 6u);
  EXPECT_EQ(unpackInt32(z8, 10, 2, 8, true), zp);
}

TEST(QuantizerTest, GroupsRunAlongK) {
  // Transposing the weight (groups along N) changes the answer: the test
  // above would catch groups taken along the wrong axis.
  std::vector<float> t(16);
  for (int r = 0; r < 2; ++r)
    for (int c = 0; c < 8; ++c)
      t[c * 2 + r] = kW[r * 8 + c];
  QuantizedWeight alongK = quantizeWeight(kW, 2, 8, {4, 4, false});
  QuantizedWeight alongN = quantizeWeight(t, 8, 2, {4, 0, false});
  std::vector<int8_t> back(16);
  for (int r = 0; r < 2; ++r)
    for (int c = 0; c < 8; ++c)
      back[r * 8 + c] = alongN.q[c * 2 + r];
  EXPECT_NE(back, alongK.q);
}
TEST(QuantizerTest, ClippingFactors) {
  // Logit 0 gives factor sigmoid(0) = 1/2: each row's range is halved, so
  // the outer weights clamp to the end levels (hand-computed in f32).
  std::vector<float> zeros(2, 0.0f);
  WeightQuantSpec asym{4, 0, false};
  asym.clipMax = zeros;
  asym.clipMin = zeros;
  QuantizedWeight a = quantizeWeight(kW, 2, 8, asym);
  EXPECT_EQ(a.q, (std::vector<int8_t>{-8, 3, 2, -8, -5, 7, 4, -1, 5, 4, -8, 4,
                                      -8, 7, 7, 0}));
  EXPECT_NEAR(a.scale[0], (1.425f + 1.1f) / 15, 1e-7f);
  EXPECT_NEAR(a.scale[1], (1.4f + 1.475f) / 15, 1e-7f);
  EXPECT_EQ(a.zeroPoint, (std::vector<int8_t>{-1, 0}));
  WeightQuantSpec sym{4, 0, true};
  sym.clipMax = zeros;
  QuantizedWeight s = quantizeWeight(kW, 2, 8, sym);
  EXPECT_EQ(s.q, (std::vector<int8_t>{-7, 4, 2, -8, -3, 7, 4, 0, 5, 3, -8, 4,
                                      -8, 7, 7, 0}));
  EXPECT_NEAR(s.scale[0], 1.425f / 7, 1e-7f);
  // Large logits are factor 1 in f32: plain round-to-nearest.
  std::vector<float> large(2, 30.0f);
  asym.clipMax = large;
  asym.clipMin = large;
  EXPECT_EQ(quantizeWeight(kW, 2, 8, asym).q,
            quantizeWeight(kW, 2, 8, {4, 0, false}).q);
  EXPECT_EQ(clipFactor(0.0f), 0.5f);
  EXPECT_EQ(clipFactor(30.0f), 1.0f);
}

TEST(QuantizerTest, QuantizeOnGivenGrid) {
  // scale 0.5, zero point 1, 4 bits: round(w / 0.5) + 1, clamped to
  // [-8, 7].
  std::vector<float> w = {-5.0f, 0.26f, 0.74f, 3.3f};
  EXPECT_EQ(quantizeOnGrid(w, 1, 4, 4, {0.5f}, {1}, 1, 1),
            (std::vector<int8_t>{-8, 2, 2, 7}));
  // On the grid min-max quantization chose, the levels are the same.
  for (bool symmetric : {false, true}) {
    QuantizedWeight qw = quantizeWeight(kW, 2, 8, {4, 4, symmetric});
    EXPECT_EQ(quantizeOnGrid(kW, 2, 8, 4, qw.scale, qw.zeroPoint, qw.scaleRows,
                             qw.groups),
              qw.q);
  }
}
} // namespace
