//===- QRealignToLinalgKernelTest.cpp - compiled kernels vs scalar C++ ----===//
//
// Part of the qrealign project.
//
// The first link of the oracle chain: quantized linears lowered by
// convert-qrealign-to-linalg and qrealign-lower-to-cpu, compiled by the
// JIT, against a scalar C++ reference written from the formulas (not from
// the lowering): the quantized activations, their scales and zero points
// and the i32 accumulators bit for bit, the f32 outputs within 1e-5 of a
// double-precision product of the dequantized operands (normwise: the
// largest error over the largest output).
//
// Shapes are Llama-2-7B's and Llama-3-8B's linears (q_proj 4096 -> 4096,
// down_proj 11008 -> 4096, k_proj 4096 -> 1024, gate_proj 4096 -> 14336) at
// M = 1, 5, 16 and 512 tokens; M = 512 runs on k_proj only, which keeps
// the whole test to about two minutes on two cores.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Compiled/JIT.h"
#include "qrealign/Conversion/QRealignToLinalg/QRealignToLinalg.h"
#include "qrealign/Quant/Quantizer.h"
#include "qrealign/Registration/Registration.h"

#include "mlir/AsmParser/AsmParser.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include "gtest/gtest.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace mlir;
using namespace ::qrealign;

namespace {
struct Scheme {
  const char *name;
  int wBits, aBits;
  int64_t groupSize; // 0 per channel, -1 per tensor
  bool symmetric;
  /// Storage in compressed-tensors' i32 words (zero points packed along the
  /// rows) instead of bytes.
  bool words = false;
  /// Activations quantized without a zero point (llm-compressor's W8A8).
  bool actSymmetric = false;
};

struct Shape {
  int64_t k, n;
  std::vector<int64_t> ms;
};

const Scheme kSchemes[] = {
    {"W8A8", 8, 8, 0, false},
    {"W8A8sym", 8, 8, 0, true},
    {"W8A8symact", 8, 8, 0, true, false, true},
    {"W4A8g128", 4, 8, 128, false},
    {"W4A4g128", 4, 4, 128, false},
    // 3-bit levels in nibbles (offset 8, as for 4 bits).
    {"W3A8g128", 3, 8, 128, false},
    {"W3A16g128", 3, 16, 128, false},
    {"W4A8tensor", 4, 8, -1, false},
    {"W4A16g128", 4, 16, 128, false},
    {"W8A16", 8, 16, 0, false},
    // compressed-tensors' pack-quantized words, as qrealign-import reads
    // them.
    {"W4A16g128words", 4, 16, 128, false, true},
    {"W8A16words", 8, 16, 0, false, true},
    {"W4A8g128words", 4, 8, 128, false, true},
};

const Shape kShapes[] = {
    {4096, 4096, {1, 16}}, // Llama-2-7B q_proj
    {11008, 4096, {5}},    // Llama-2-7B down_proj
    {4096, 14336, {1}},    // Llama-3-8B gate_proj
    {4096, 1024, {512}},   // Llama-3-8B k_proj
    // N not a multiple of 8 (or 4): the last word of row-packed zero
    // points is padding.
    {256, 20, {3}},
};

std::string schemeAttr(const Scheme &s) {
  std::string a = "#qrealign.quant<w_bits = " + std::to_string(s.wBits);
  if (s.aBits < 16)
    a += ", a_bits = " + std::to_string(s.aBits);
  if (s.groupSize > 0)
    a += ", granularity = per_group, group_size = " +
         std::to_string(s.groupSize);
  else if (s.groupSize < 0)
    a += ", granularity = per_tensor";
  if (s.symmetric)
    a += ", symmetric = true";
  if (s.actSymmetric)
    a += ", act_symmetric = true";
  return a + ">";
}

/// Row quantization of x [M, K] by the formulas of the engine's activation
/// quantizer, in f32: with a zero point per row, or symmetric (max|x|).
struct RefRows {
  std::vector<int8_t> levels;
  std::vector<float> scale;
  std::vector<int32_t> zero;
};
RefRows quantizeRows(const std::vector<float> &x, int64_t m, int64_t k,
                     int bits, bool symmetric) {
  RefRows r;
  int32_t half = 1 << (bits - 1);
  float top = float((1 << bits) - 1);
  for (int64_t i = 0; i < m && symmetric; ++i) {
    float absMax = 0;
    for (int64_t j = 0; j < k; ++j)
      absMax = std::max(absMax, std::abs(x[i * k + j]));
    float s = std::max(absMax, 1e-8f) / float(half - 1);
    r.scale.push_back(s);
    r.zero.push_back(0);
    for (int64_t j = 0; j < k; ++j) {
      float v = std::nearbyint(x[i * k + j] / s);
      v = std::min(std::max(v, float(-half)), float(half - 1));
      r.levels.push_back(int8_t(v));
    }
  }
  for (int64_t i = 0; i < m && !symmetric; ++i) {
    float hi = 0, lo = 0;
    for (int64_t j = 0; j < k; ++j) {
      hi = std::max(hi, x[i * k + j]);
      lo = std::min(lo, x[i * k + j]);
    }
    float s = std::max((hi - lo) / top, 1e-8f);
    int32_t z = int32_t(std::nearbyint(-lo / s)) - half;
    r.scale.push_back(s);
    r.zero.push_back(z);
    for (int64_t j = 0; j < k; ++j) {
      float v = std::nearbyint(x[i * k + j] / s) + float(z + half);
      v = std::min(std::max(v, 0.0f), top);
      r.levels.push_back(int8_t(int32_t(v) - half));
    }
  }
  return r;
}

class KernelTest : public ::testing::TestWithParam<std::tuple<int, int>> {
protected:
  void SetUp() override {
    DialectRegistry registry;
    mlir::qrealign::registerAllDialects(registry);
    ctx.appendDialectRegistry(registry);
    ctx.loadAllAvailableDialects();
  }
  MLIRContext ctx;
};

/// Adds `@NAME(%x: tensor<?xKxf32>, %p: packed) -> result` computing
/// `body(x, p)` with the lowering's building blocks.
template <typename Body>
void addBlockFunction(ModuleOp module, StringRef name, Type xType,
                      Type packedType, Type resultType, Body body) {
  OpBuilder b(module.getBodyRegion());
  b.setInsertionPointToEnd(module.getBody());
  auto fn = func::FuncOp::create(
      b, module.getLoc(), name,
      b.getFunctionType({xType, packedType}, {resultType}));
  Block *entry = fn.addEntryBlock();
  b.setInsertionPointToStart(entry);
  Value out =
      body(b, module.getLoc(), entry->getArgument(0), entry->getArgument(1));
  func::ReturnOp::create(b, module.getLoc(), out);
}

/// A function (x, packed, zero points) -> result built by `body`.
template <typename Body>
void addZeroPointFunction(ModuleOp module, StringRef name, Type xType,
                          Type packedType, Type zeroType, Type resultType,
                          Body body) {
  OpBuilder b(module.getBodyRegion());
  b.setInsertionPointToEnd(module.getBody());
  auto fn = func::FuncOp::create(
      b, module.getLoc(), name,
      b.getFunctionType({xType, packedType, zeroType}, {resultType}));
  Block *entry = fn.addEntryBlock();
  b.setInsertionPointToStart(entry);
  Value out = body(b, module.getLoc(), entry->getArgument(0),
                   entry->getArgument(1), entry->getArgument(2));
  func::ReturnOp::create(b, module.getLoc(), out);
}

template <typename T, int Rank>
void freeResult(MemRefDescriptor<T, Rank> &d) {
  free(d.allocated);
}
} // namespace

TEST_P(KernelTest, MatchesScalarReference) {
  const Scheme &scheme = kSchemes[std::get<0>(GetParam())];
  const Shape &shape = kShapes[std::get<1>(GetParam())];
  const int64_t k = shape.k, n = shape.n;
  std::mt19937 rng(1234 + std::get<0>(GetParam()) * 17 +
                   std::get<1>(GetParam()));
  std::normal_distribution<float> normal;

  // The weight, quantized and packed by the quantizer the passes use.
  std::vector<float> w(n * k);
  for (float &v : w)
    v = 0.02f * normal(rng);
  WeightQuantSpec spec;
  spec.bits = scheme.wBits;
  spec.groupSize = scheme.groupSize;
  spec.symmetric = scheme.symmetric;
  QuantizedWeight qw = quantizeWeight(w, n, k, spec);
  std::vector<uint8_t> packed = packWeight(qw.q, n, k, scheme.wBits);
  int64_t rows = qw.scaleRows, groups = qw.groups;
  int64_t packedCols = isNibblePacked(scheme.wBits) ? k / 2 : k;
  std::string packedType = "tensor<" + std::to_string(n) + "x" +
                           std::to_string(packedCols) +
                           (isNibblePacked(scheme.wBits) ? "xui8>" : "xi8>");
  std::string rangeShape = std::to_string(rows) + "x" + std::to_string(groups);
  std::string zeroType = "tensor<" + rangeShape + "xi8>";
  // Word storage: the descriptors below only carry pointers and sizes.
  std::vector<int32_t> words, zeroWords;
  int64_t zeroRows = rows;
  if (scheme.words) {
    int64_t perWord = 32 / scheme.wBits;
    words = packInt32(qw.q, n, k, scheme.wBits, /*alongRows=*/false);
    zeroWords = packInt32(qw.zeroPoint, rows, groups, scheme.wBits,
                          /*alongRows=*/true);
    packedCols = k / perWord;
    zeroRows = (rows + perWord - 1) / perWord;
    packedType = "tensor<" + std::to_string(n) + "x" +
                 std::to_string(packedCols) + "xi32>";
    zeroType = "tensor<" + std::to_string(zeroRows) + "x" +
               std::to_string(groups) + "xi32>";
  }
  bool asym = !scheme.symmetric;

  std::string nk = std::to_string(n) + "x" + std::to_string(k);
  std::string src =
      "func.func @linear(%x: tensor<?x" + std::to_string(k) +
      "xf32>, %p: " + packedType + ", %s: tensor<" + rangeShape + "xf32>" +
      (asym ? ", %z: " + zeroType : std::string()) + ") -> tensor<?x" +
      std::to_string(n) + "xf32> {\n" + "  %w = qrealign.dequantize %p, %s " +
      (asym ? "zero_point %z " : "") +
      "bits = " + std::to_string(scheme.wBits) + " : (" + packedType +
      ", tensor<" + rangeShape + "xf32>" +
      (asym ? ", " + zeroType : std::string()) + ") -> tensor<" + nk +
      "xf32>\n" + "  %y = qrealign.linear \"q_proj\" %x, %w {quant = " +
      schemeAttr(scheme) + "} : (tensor<?x" + std::to_string(k) +
      "xf32>, tensor<" + nk + "xf32>) -> tensor<?x" + std::to_string(n) +
      "xf32>\n" + "  return %y : tensor<?x" + std::to_string(n) + "xf32>\n}\n";
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(src, &ctx);
  ASSERT_TRUE(module) << src;

  // The building blocks, on the same inputs.
  bool intPath = scheme.aBits < 16;
  Type f32 = Float32Type::get(&ctx);
  Type xType = RankedTensorType::get({ShapedType::kDynamic, k}, f32);
  Type pType = mlir::parseType(packedType, &ctx);
  Type i8 = IntegerType::get(&ctx, 8), i32 = IntegerType::get(&ctx, 32);
  if (intPath) {
    using namespace mlir::qrealign::linalg_lowering;
    int bits = scheme.aBits;
    bool actSym = scheme.actSymmetric;
    addBlockFunction(
        *module, "levels", xType, pType,
        RankedTensorType::get({ShapedType::kDynamic, k}, i8),
        [&](OpBuilder &b, Location l, Value x, Value) {
          return buildRowQuantization(b, l, x, bits, actSym).levels;
        });
    addBlockFunction(*module, "scale", xType, pType,
                     RankedTensorType::get({ShapedType::kDynamic}, f32),
                     [&](OpBuilder &b, Location l, Value x, Value) {
                       return buildRowQuantization(b, l, x, bits, actSym).scale;
                     });
    addBlockFunction(
        *module, "zero", xType, pType,
        RankedTensorType::get({ShapedType::kDynamic}, i32),
        [&](OpBuilder &b, Location l, Value x, Value) {
          return buildRowQuantization(b, l, x, bits, actSym).zeroPoint;
        });
    // Both readings of nibble bytes: as bytes (the GPU pipelines') and as
    // i4 levels bound by narrow-type emulation (qrealign-lower-to-cpu's).
    for (bool narrow : {false, true}) {
      if (narrow && (!isNibblePacked(scheme.wBits) || scheme.words))
        continue;
      std::string suffix = narrow ? "_narrow" : "";
      addBlockFunction(
          *module, "acc" + suffix, xType, pType,
          RankedTensorType::get({ShapedType::kDynamic, n, groups}, i32),
          [&](OpBuilder &b, Location l, Value x, Value p) {
            Value a = buildRowQuantization(b, l, x, bits, actSym).levels;
            Value wl = buildUnpackLevels(b, l, p, scheme.wBits, narrow);
            return buildGroupedIntMatmul(b, l, a, wl, groups);
          });
      // The packed form (decode): zero points subtracted in the
      // contraction, the storage units (or levels) read in it.
      if (isNibblePacked(scheme.wBits) || scheme.words)
        addZeroPointFunction(
            *module, "centered" + suffix, xType, pType,
            mlir::parseType(zeroType, &ctx),
            RankedTensorType::get({ShapedType::kDynamic, n, groups}, i32),
            [&](OpBuilder &b, Location l, Value x, Value p, Value z) {
              RowQuantized r = buildRowQuantization(b, l, x, bits, actSym);
              Value zw =
                  asym ? buildUnpackZeroPoints(b, l, z, scheme.wBits, rows)
                       : Value();
              return buildPackedCenteredIntMatmul(b, l, r.levels, r.zeroPoint,
                                                  p, zw, scheme.wBits, groups,
                                                  narrow);
            });
    }
  }

  auto jit = JitModule::compile(*module);
  ASSERT_TRUE(bool(jit)) << llvm::toString(jit.takeError());
  using X = MemRefDescriptor<float, 2>;
  using P = MemRefDescriptor<uint8_t, 2>;
  using S = MemRefDescriptor<float, 2>;
  using Z = MemRefDescriptor<int8_t, 2>;
  auto linear = (*jit)->lookup("linear");
  ASSERT_TRUE(bool(linear)) << llvm::toString(linear.takeError());

  for (int64_t m : shape.ms) {
    SCOPED_TRACE(std::string(scheme.name) + " M=" + std::to_string(m) +
                 " K=" + std::to_string(k) + " N=" + std::to_string(n));
    // Activations with outlier channels, as in LLMs.
    std::vector<float> x(m * k);
    for (int64_t i = 0; i < m * k; ++i)
      x[i] = normal(rng) * ((i % k) % 97 == 0 ? 20.0f : 1.0f);
    X xd = viewOf(x.data(), {m, k});
    P pd = scheme.words ? viewOf(reinterpret_cast<uint8_t *>(words.data()),
                                 {n, packedCols})
                        : viewOf(packed.data(), {n, packedCols});
    S sd = viewOf(qw.scale.data(), {rows, groups});
    Z zd = scheme.words ? viewOf(reinterpret_cast<int8_t *>(zeroWords.data()),
                                 {zeroRows, groups})
                        : viewOf(qw.zeroPoint.data(), {rows, groups});
    X yd{};
    if (asym)
      reinterpret_cast<void (*)(X *, X *, P *, S *, Z *)>(*linear)(
          &yd, &xd, &pd, &sd, &zd);
    else
      reinterpret_cast<void (*)(X *, X *, P *, S *)>(*linear)(&yd, &xd, &pd,
                                                              &sd);
    ASSERT_EQ(yd.sizes[0], m);
    ASSERT_EQ(yd.sizes[1], n);

    // The reference: dequantized operands, product in double.
    std::vector<float> wd =
        dequantizeWeight(qw.q, n, k, qw.scale, qw.zeroPoint, rows, groups);
    std::vector<double> xq(x.begin(), x.end());
    RefRows ref;
    if (intPath) {
      ref = quantizeRows(x, m, k, scheme.aBits, scheme.actSymmetric);
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < k; ++j)
          xq[i * k + j] = double(int32_t(ref.levels[i * k + j]) - ref.zero[i]) *
                          double(ref.scale[i]);
    }
    double maxRef = 0, maxErr = 0;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t o = 0; o < n; ++o) {
        double acc = 0;
        for (int64_t j = 0; j < k; ++j)
          acc += xq[i * k + j] * double(wd[o * k + j]);
        double got = yd.aligned[yd.offset + i * yd.strides[0] + o];
        maxRef = std::max(maxRef, std::abs(acc));
        maxErr = std::max(maxErr, std::abs(got - acc));
      }
    freeResult(yd);
    EXPECT_GT(maxRef, 0.0);
    EXPECT_LE(maxErr, 1e-5 * maxRef)
        << "largest error " << maxErr << " against largest output " << maxRef;

    if (!intPath)
      continue;
    // Quantized activations, scales and zero points: bit for bit.
    auto levels = (*jit)->lookup("levels");
    auto scale = (*jit)->lookup("scale");
    auto zero = (*jit)->lookup("zero");
    ASSERT_TRUE(levels && scale && zero);
    MemRefDescriptor<int8_t, 2> ld{};
    reinterpret_cast<void (*)(decltype(ld) *, X *, P *)>(*levels)(&ld, &xd,
                                                                  &pd);
    MemRefDescriptor<float, 1> sdOut{};
    reinterpret_cast<void (*)(decltype(sdOut) *, X *, P *)>(*scale)(&sdOut, &xd,
                                                                    &pd);
    MemRefDescriptor<int32_t, 1> zdOut{};
    reinterpret_cast<void (*)(decltype(zdOut) *, X *, P *)>(*zero)(&zdOut, &xd,
                                                                   &pd);
    int64_t levelDiff = 0, scaleDiff = 0, zeroDiff = 0;
    for (int64_t i = 0; i < m; ++i) {
      float s = sdOut.aligned[sdOut.offset + i * sdOut.strides[0]];
      scaleDiff += std::memcmp(&s, &ref.scale[i], sizeof(float)) != 0;
      zeroDiff +=
          zdOut.aligned[zdOut.offset + i * zdOut.strides[0]] != ref.zero[i];
      for (int64_t j = 0; j < k; ++j)
        levelDiff += ld.aligned[ld.offset + i * ld.strides[0] + j] !=
                     ref.levels[i * k + j];
    }
    EXPECT_EQ(levelDiff, 0) << "quantized activations differ";
    EXPECT_EQ(scaleDiff, 0) << "activation scales differ";
    EXPECT_EQ(zeroDiff, 0) << "activation zero points differ";
    freeResult(ld);
    freeResult(sdOut);
    freeResult(zdOut);

    int64_t width = k / groups;
    for (const char *suffix : {"", "_narrow"}) {
      SCOPED_TRACE(*suffix ? "weight read as i4 levels" : "weight as bytes");
      auto accFn = (*jit)->lookup(std::string("acc") + suffix);
      if (!accFn) {
        // Only nibble bytes have the narrow reading.
        EXPECT_TRUE(*suffix);
        llvm::consumeError(accFn.takeError());
        continue;
      }
      // i32 accumulators per (token, output channel, group): exact.
      MemRefDescriptor<int32_t, 3> ad{};
      reinterpret_cast<void (*)(decltype(ad) *, X *, P *)>(*accFn)(&ad, &xd,
                                                                   &pd);
      int64_t accDiff = 0;
      for (int64_t i = 0; i < m; ++i)
        for (int64_t o = 0; o < n; ++o)
          for (int64_t g = 0; g < groups; ++g) {
            int32_t want = 0;
            for (int64_t j = g * width; j < (g + 1) * width; ++j)
              want += int32_t(ref.levels[i * k + j]) * int32_t(qw.q[o * k + j]);
            accDiff +=
                ad.aligned[ad.offset + i * ad.strides[0] + o * ad.strides[1] +
                           g * ad.strides[2]] != want;
          }
      EXPECT_EQ(accDiff, 0) << "i32 accumulators differ";
      freeResult(ad);

      // The packed form's accumulators: Σ (a - za)(w - zw), exact.
      auto centeredFn = (*jit)->lookup(std::string("centered") + suffix);
      if (!centeredFn) {
        llvm::consumeError(centeredFn.takeError());
        continue;
      }
      MemRefDescriptor<int32_t, 3> td{};
      reinterpret_cast<void (*)(decltype(td) *, X *, P *, Z *)>(*centeredFn)(
          &td, &xd, &pd, &zd);
      int64_t centeredDiff = 0;
      for (int64_t i = 0; i < m; ++i)
        for (int64_t o = 0; o < n; ++o)
          for (int64_t g = 0; g < groups; ++g) {
            int32_t zw =
                asym ? qw.zeroPoint[(rows == 1 ? 0 : o) * groups + g] : 0;
            int32_t want = 0;
            for (int64_t j = g * width; j < (g + 1) * width; ++j)
              want += (int32_t(ref.levels[i * k + j]) - ref.zero[i]) *
                      (int32_t(qw.q[o * k + j]) - zw);
            centeredDiff +=
                td.aligned[td.offset + i * td.strides[0] + o * td.strides[1] +
                           g * td.strides[2]] != want;
          }
      EXPECT_EQ(centeredDiff, 0) << "packed-form i32 accumulators differ";
      freeResult(td);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    LlamaShapes, KernelTest,
    ::testing::Combine(::testing::Range(0, int(std::size(kSchemes))),
                       ::testing::Range(0, int(std::size(kShapes)))),
    [](const ::testing::TestParamInfo<std::tuple<int, int>> &info) {
      const Shape &s = kShapes[std::get<1>(info.param)];
      return std::string(kSchemes[std::get<0>(info.param)].name) + "_K" +
             std::to_string(s.k) + "_N" + std::to_string(s.n);
    });
