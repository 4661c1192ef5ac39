//===- w8a8-linear-gpu.cpp - A whole compiled W8A8 linear on the GPU ------===//
//
// Part of the qrealign project.
//
// Runs the two W8A8 linears of
// test/Conversion/Pipelines/qrealign-lower-to-nvvm-w8a8-linear.mlir (per-token
// dynamic activation quantization, per-channel asymmetric weights): 64 rows
// through the tensor-core GEMM, and a dynamic row count (37 rows) through
// qrealign-gpu-loops alone. Compares every output with a scalar reference
// that quantizes the activations by the converter's formulas and sums the
// integer products exactly: a level or an accumulator off by one misses the
// bound by orders of magnitude.
//
// Built twice from this file (KernelMemory.h):
//  - QRealignGpuW8A8LinearTest: qrealign-lower-to-nvvm (cubin for sm_90),
//    through qrealign's runtime; without a GPU it exits 77 (skipped);
//  - QRealignCpuW8A8LinearTest (QREALIGN_KERNELS_ON_CPU): the same IR
//    through qrealign-lower-to-cpu, run in CI.
//
// Bound: |y − ref| ≤ 1e-5 · s_a · s_w · Σ|a − z_a| · |q − z_w| (the
// epilogue's few f32 roundings).
//
//===----------------------------------------------------------------------===//

#include "KernelMemory.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

namespace {
template <typename T, int Rank>
using Desc = qrealign::MemRefDescriptor<T, Rank>;
using qrealign::viewOf;
using qrealign::test::download;
using qrealign::test::release;
using qrealign::test::upload;
constexpr int64_t N = 128, K = 256;

/// One problem: activations with an outlier channel, a per-channel i8
/// weight with zero points and scales.
struct Problem {
  int64_t m;
  std::vector<float> x, scale;
  std::vector<int8_t> weight, zero;

  Problem(int64_t m, unsigned seed) : m(m) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> act(0.0f, 1.0f);
    std::uniform_int_distribution<int> level(-128, 127), zp(-20, 20);
    std::uniform_real_distribution<float> range(0.001f, 0.01f);
    for (int64_t i = 0; i < m * K; ++i)
      x.push_back(act(rng) * (i % K == 3 ? 20.0f : 1.0f));
    for (int64_t i = 0; i < N * K; ++i)
      weight.push_back(int8_t(level(rng)));
    for (int64_t i = 0; i < N; ++i) {
      scale.push_back(range(rng));
      zero.push_back(int8_t(zp(rng)));
    }
  }

  /// Per-token quantization as convert-qrealign-to-linalg writes it: the
  /// range from 0, 255 levels, the zero point rounded, levels offset by
  /// 128 into i8 (the formulas the kernel tests check bit for bit).
  void quantize(int64_t row, std::vector<int32_t> &levels, float &s,
                int32_t &z) const {
    float hi = 0, lo = 0;
    for (int64_t j = 0; j < K; ++j) {
      hi = std::max(hi, x[row * K + j]);
      lo = std::min(lo, x[row * K + j]);
    }
    s = std::max((hi - lo) / 255.0f, 1e-8f);
    z = int32_t(std::nearbyint(-lo / s)) - 128;
    levels.clear();
    for (int64_t j = 0; j < K; ++j) {
      float v = std::nearbyint(x[row * K + j] / s) + float(z + 128);
      v = std::min(std::max(v, 0.0f), 255.0f);
      levels.push_back(int32_t(v) - 128);
    }
  }

  int64_t check(const char *name, const std::vector<float> &y) const {
    int64_t wrong = 0;
    double worst = 0;
    std::vector<int32_t> a;
    for (int64_t r = 0; r < m; ++r) {
      float sa;
      int32_t za;
      quantize(r, a, sa, za);
      for (int64_t c = 0; c < N; ++c) {
        int64_t acc = 0, mag = 0;
        for (int64_t j = 0; j < K; ++j) {
          int64_t p = int64_t(a[j] - za) * (weight[c * K + j] - zero[c]);
          acc += p;
          mag += p < 0 ? -p : p;
        }
        double unit = double(sa) * double(scale[c]);
        double ref = unit * double(acc), got = y[r * N + c];
        double err = std::fabs(got - ref), bound = 1e-5 * unit * double(mag);
        worst = std::max(worst, err / (unit * double(mag) + 1e-30));
        if (!(err <= bound) && wrong++ < 5)
          printf("  %s: y[%ld, %ld] = %.9g, want %.9g (bound %.3g)\n", name,
                 long(r), long(c), got, ref, bound);
      }
    }
    printf("%s %s: M=%ld N=%ld K=%ld: %ld of %ld outputs out of bounds, "
           "largest |y - ref| / (s_a s_w sum|a q|) = %.3g\n",
           wrong ? "FAIL" : "PASS", name, long(m), long(N), long(K),
           long(wrong), long(m * N), worst);
    return wrong;
  }
};

/// Runs `fn` (one of the compiled linears) on `pr`.
template <typename Fn>
std::vector<float> run(Fn fn, const Problem &pr) {
  float *x = upload(pr.x), *s = upload(pr.scale);
  int8_t *p = upload(pr.weight), *z = upload(pr.zero);
  float *out = upload(std::vector<float>(pr.m * N, 7.0f));
  Desc<float, 3> xd = viewOf(x, {1, pr.m, K}), od = viewOf(out, {1, pr.m, N});
  Desc<int8_t, 2> pd = viewOf(p, {N, K}), zd = viewOf(z, {N, 1});
  Desc<float, 2> sd = viewOf(s, {N, 1});
  Desc<float, 3> result{};
  fn(&result, &xd, &pd, &sd, &zd, &od);
  std::vector<float> y = download(result);
  // The GPU build writes into the output argument and returns it; the CPU
  // pipeline returns a copy of it, which is the caller's to free.
  if (result.allocated != out)
    release(result.allocated);
  for (void *ptr : {(void *)x, (void *)s, (void *)p, (void *)z, (void *)out})
    release(ptr);
  return y;
}
} // namespace

extern "C" {
void _mlir_ciface_w8a8_linear(Desc<float, 3> *result, Desc<float, 3> *x,
                              Desc<int8_t, 2> *p, Desc<float, 2> *s,
                              Desc<int8_t, 2> *z, Desc<float, 3> *out);
void _mlir_ciface_w8a8_linear_rows(Desc<float, 3> *result, Desc<float, 3> *x,
                                   Desc<int8_t, 2> *p, Desc<float, 2> *s,
                                   Desc<int8_t, 2> *z, Desc<float, 3> *out);
}

int main() {
  if (!qrealign::test::kernelsCanRun())
    return 77;
  int64_t wrong = 0;
  {
    Problem pr(64, 1);
    wrong += pr.check("w8a8_linear (tensor cores)",
                      run(_mlir_ciface_w8a8_linear, pr));
  }
  {
    Problem pr(37, 2);
    wrong += pr.check("w8a8_linear_rows (dynamic rows)",
                      run(_mlir_ciface_w8a8_linear_rows, pr));
  }
  return wrong ? 1 : 0;
}
