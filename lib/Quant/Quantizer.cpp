//===- Quantizer.cpp - Round-to-nearest weight quantization ---------------===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Quant/Quantizer.h"

#include "llvm/ADT/APFloat.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>

using namespace qrealign;

QuantizedWeight qrealign::quantizeWeight(llvm::ArrayRef<float> w, int64_t n,
                                         int64_t k,
                                         const WeightQuantSpec &spec) {
  assert(int64_t(w.size()) == n * k && "weight size");
  assert(spec.bits >= 2 && spec.bits <= 8 && "bits");
  QuantizedWeight out;
  out.rows = n;
  out.cols = k;
  // Each block is a contiguous run of `len` weights in `rowsPer` rows.
  int64_t groupLen = spec.groupSize > 0 ? spec.groupSize : k;
  assert(k % groupLen == 0 && "group size divides K");
  bool perTensor = spec.groupSize < 0;
  out.scaleRows = perTensor ? 1 : n;
  out.groups = perTensor ? 1 : k / groupLen;
  out.q.resize(n * k);
  out.scale.resize(out.scaleRows * out.groups);
  if (!spec.symmetric)
    out.zeroPoint.resize(out.scale.size());
  const float half = float(1 << (spec.bits - 1));
  const float qmin = -half, qmax = half - 1;

  assert((spec.clipMax.empty() || spec.clipMax.size() == out.scale.size()) &&
         "one clip_max logit per range");
  assert((spec.symmetric || spec.clipMin.empty() ||
          spec.clipMin.size() == out.scale.size()) &&
         "one clip_min logit per range");

  auto quantizeBlock = [&](int64_t index, auto forEach) {
    float lo = 0, hi = 0, absMax = 0;
    forEach([&](int64_t i) {
      lo = std::min(lo, w[i]);
      hi = std::max(hi, w[i]);
      absMax = std::max(absMax, std::fabs(w[i]));
    });
    if (!spec.clipMax.empty()) {
      hi *= clipFactor(spec.clipMax[index]);
      absMax *= clipFactor(spec.clipMax[index]);
    }
    if (!spec.symmetric && !spec.clipMin.empty())
      lo *= clipFactor(spec.clipMin[index]);
    float s, z;
    if (spec.symmetric) {
      s = std::max(absMax, 1e-8f) / qmax;
      z = 0;
    } else {
      s = std::max((hi - lo) / (2 * half - 1), 1e-8f);
      z = std::nearbyint(-lo / s); // in [0, 2^b - 1]: lo <= 0 <= hi
    }
    // Unsigned levels u = clamp(round(w / s) + z, 0, 2^b - 1) as the
    // engine computes them, stored signed: q = u - 2^(b-1).
    forEach([&](int64_t i) {
      float u;
      if (spec.symmetric)
        u = std::clamp(std::nearbyint(w[i] / s), qmin, qmax) + half;
      else
        u = std::clamp(std::nearbyint(w[i] / s) + z, 0.0f, 2 * half - 1);
      out.q[i] = int8_t(int(u) - int(half));
    });
    out.scale[index] = s;
    if (!spec.symmetric)
      out.zeroPoint[index] = int8_t(int(z) - int(half));
  };

  if (perTensor) {
    quantizeBlock(0, [&](auto f) {
      for (int64_t i = 0; i < n * k; ++i)
        f(i);
    });
    return out;
  }
  for (int64_t r = 0; r < n; ++r)
    for (int64_t g = 0; g < out.groups; ++g)
      quantizeBlock(r * out.groups + g, [&](auto f) {
        for (int64_t c = g * groupLen; c < (g + 1) * groupLen; ++c)
          f(r * k + c);
      });
  return out;
}

/// The index into [scaleRows, groups] ranges of element (r, c).
static int64_t rangeIndex(int64_t r, int64_t c, int64_t scaleRows,
                          int64_t groups, int64_t groupLen) {
  return (scaleRows == 1 ? 0 : r) * groups + c / groupLen;
}

float qrealign::clipFactor(float c) { return 1.0f / (1.0f + std::exp(-c)); }

std::vector<int8_t> qrealign::quantizeOnGrid(llvm::ArrayRef<float> w, int64_t n,
                                             int64_t k, int bits,
                                             llvm::ArrayRef<float> scale,
                                             llvm::ArrayRef<int8_t> zeroPoint,
                                             int64_t scaleRows,
                                             int64_t groups) {
  assert(int64_t(w.size()) == n * k && "weight size");
  const float half = float(1 << (bits - 1));
  std::vector<int8_t> out(n * k);
  int64_t groupLen = k / groups;
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < k; ++c) {
      int64_t s = rangeIndex(r, c, scaleRows, groups, groupLen);
      float z = zeroPoint.empty() ? 0.0f : float(zeroPoint[s]);
      float q = std::clamp(std::nearbyint(w[r * k + c] / scale[s]) + z, -half,
                           half - 1);
      out[r * k + c] = int8_t(q);
    }
  return out;
}

std::vector<uint8_t> qrealign::packWeight(llvm::ArrayRef<int8_t> q, int64_t n,
                                          int64_t k, int bits) {
  assert(int64_t(q.size()) == n * k && "levels size");
  if (!isNibblePacked(bits))
    return std::vector<uint8_t>(q.begin(), q.end());
  assert(k % 2 == 0 && "K is even");
  std::vector<uint8_t> out(n * k / 2);
  for (int64_t i = 0; i < n * k / 2; ++i)
    out[i] = uint8_t((q[2 * i] + 8) & 0xF) |
             uint8_t(((q[2 * i + 1] + 8) & 0xF) << 4);
  return out;
}

std::vector<int8_t> qrealign::unpackWeight(llvm::ArrayRef<uint8_t> packed,
                                           int64_t n, int64_t k,
                                           LevelStorage storage) {
  if (storage == LevelStorage::Bytes)
    return std::vector<int8_t>(packed.begin(), packed.end());
  std::vector<int8_t> out(n * k);
  for (int64_t i = 0; i < n * k / 2; ++i) {
    out[2 * i] = int8_t(int(packed[i] & 0xF) - 8);
    out[2 * i + 1] = int8_t(int(packed[i] >> 4) - 8);
  }
  return out;
}

std::optional<size_t> qrealign::findLevelOutOfRange(llvm::ArrayRef<int8_t> q,
                                                    int bits) {
  int lo = -(1 << (bits - 1)), hi = (1 << (bits - 1)) - 1;
  for (size_t i = 0; i < q.size(); ++i)
    if (q[i] < lo || q[i] > hi)
      return i;
  return std::nullopt;
}

std::vector<int32_t> qrealign::packInt32(llvm::ArrayRef<int8_t> q, int64_t rows,
                                         int64_t cols, int bits,
                                         bool alongRows) {
  assert((bits == 4 || bits == 8) && "4 or 8 bits");
  assert(int64_t(q.size()) == rows * cols && "levels size");
  int64_t f = 32 / bits;
  int64_t wordRows = alongRows ? (rows + f - 1) / f : rows;
  int64_t wordCols = alongRows ? cols : (cols + f - 1) / f;
  std::vector<int32_t> out(wordRows * wordCols, 0);
  uint32_t mask = (1u << bits) - 1, offset = 1u << (bits - 1);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      int64_t along = alongRows ? r : c;
      int64_t word = alongRows ? (r / f) * wordCols + c : r * wordCols + c / f;
      uint32_t level = uint32_t(int32_t(q[r * cols + c]) + int32_t(offset));
      out[word] = int32_t(uint32_t(out[word]) |
                          ((level & mask) << (bits * (along % f))));
    }
  return out;
}

std::vector<int8_t> qrealign::unpackInt32(llvm::ArrayRef<int32_t> words,
                                          int64_t rows, int64_t cols, int bits,
                                          bool alongRows) {
  assert((bits == 4 || bits == 8) && "4 or 8 bits");
  int64_t f = 32 / bits;
  int64_t wordCols = alongRows ? cols : (cols + f - 1) / f;
  uint32_t mask = (1u << bits) - 1, offset = 1u << (bits - 1);
  std::vector<int8_t> out(rows * cols);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      int64_t along = alongRows ? r : c;
      int64_t word = alongRows ? (r / f) * wordCols + c : r * wordCols + c / f;
      uint32_t level = (uint32_t(words[word]) >> (bits * (along % f))) & mask;
      out[r * cols + c] = int8_t(int32_t(level) - int32_t(offset));
    }
  return out;
}

std::vector<float> qrealign::dequantizeWeight(
    llvm::ArrayRef<int8_t> q, int64_t n, int64_t k, llvm::ArrayRef<float> scale,
    llvm::ArrayRef<int8_t> zeroPoint, int64_t scaleRows, int64_t groups) {
  std::vector<float> out(n * k);
  int64_t groupLen = k / groups;
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < k; ++c) {
      int64_t s = rangeIndex(r, c, scaleRows, groups, groupLen);
      float z = zeroPoint.empty() ? 0.0f : float(zeroPoint[s]);
      out[r * k + c] = (float(q[r * k + c]) - z) * scale[s];
    }
  return out;
}

void qrealign::scaleColumns(llvm::MutableArrayRef<float> w, int64_t n,
                            int64_t k, llvm::ArrayRef<float> s) {
  assert(int64_t(w.size()) == n * k && int64_t(s.size()) == k && "sizes");
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < k; ++c)
      w[r * k + c] *= s[c];
}

std::vector<float> qrealign::widenToF32(const void *data, size_t count,
                                        FloatFormat format) {
  std::vector<float> out(count);
  const auto *bytes = static_cast<const uint8_t *>(data);
  if (format == FloatFormat::F32) {
    std::memcpy(out.data(), bytes, count * sizeof(float));
    return out;
  }
  for (size_t i = 0; i < count; ++i) {
    uint16_t bits;
    std::memcpy(&bits, bytes + 2 * i, 2);
    if (format == FloatFormat::BF16) {
      uint32_t wide = uint32_t(bits) << 16;
      std::memcpy(&out[i], &wide, 4);
    } else {
      out[i] = llvm::APFloat(llvm::APFloat::IEEEhalf(), llvm::APInt(16, bits))
                   .convertToFloat();
    }
  }
  return out;
}
