//===- gemm-w8a8-gpu.cpp - The compiled W8A8 GEMM on the GPU --------------===//
//
// Part of the qrealign project.
//
// Runs the kernel that qrealign-lower-to-nvvm compiled ahead of time
// (test/GPU/Inputs/gemm-w8a8.mlir, cubin for sm_90, linked in as an object
// with its host code) through qrealign's runtime, and compares every i32
// accumulator with a scalar reference: bit for bit. Without a GPU it says
// so and exits 77, which CTest reports as skipped.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Runtime/CudaRuntime.h"
#include "qrealign/Support/MemRefDescriptor.h"

#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

namespace {
template <typename T>
using Desc2 = qrealign::MemRefDescriptor<T, 2>;
using qrealign::viewOf;
constexpr int64_t M = 128, N = 128, K = 256;
} // namespace

extern "C" void _mlir_ciface_gemm(Desc2<int32_t> *result, Desc2<int8_t> *a,
                                  Desc2<int8_t> *w, Desc2<int32_t> *c);

int main() {
  if (!qrealignGpuAvailable()) {
    printf("SKIPPED: %s\n", qrealignGpuStatus());
    return 77;
  }
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> level(-128, 127);
  std::vector<int8_t> a(M * K), w(N * K);
  for (int8_t &v : a)
    v = int8_t(level(rng));
  for (int8_t &v : w)
    v = int8_t(level(rng));
  std::vector<int32_t> c(M * N, 12345);

  auto *da = static_cast<int8_t *>(mgpuMemAlloc(a.size(), nullptr, false));
  auto *dw = static_cast<int8_t *>(mgpuMemAlloc(w.size(), nullptr, false));
  auto *dc = static_cast<int32_t *>(mgpuMemAlloc(c.size() * 4, nullptr, false));
  mgpuMemcpy(da, a.data(), a.size(), nullptr);
  mgpuMemcpy(dw, w.data(), w.size(), nullptr);
  mgpuMemcpy(dc, c.data(), c.size() * 4, nullptr);
  mgpuStreamSynchronize(nullptr);
  Desc2<int8_t> ad = viewOf(da, {M, K}), wd = viewOf(dw, {N, K});
  Desc2<int32_t> cd = viewOf(dc, {M, N}), out{};
  _mlir_ciface_gemm(&out, &ad, &wd, &cd);
  mgpuMemcpy(c.data(), dc, c.size() * 4, nullptr);
  mgpuStreamSynchronize(nullptr);
  mgpuMemFree(da, nullptr);
  mgpuMemFree(dw, nullptr);
  mgpuMemFree(dc, nullptr);

  int64_t wrong = 0;
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      int32_t want = 0;
      for (int64_t k = 0; k < K; ++k)
        want += int32_t(a[m * K + k]) * int32_t(w[n * K + k]);
      if (c[m * N + n] != want && wrong++ < 5)
        printf("acc[%ld, %ld] = %d, want %d\n", long(m), long(n), c[m * N + n],
               want);
    }
  printf("%s: %ld of %ld i32 accumulators differ (M=%ld N=%ld K=%ld)\n",
         wrong ? "FAIL" : "PASS", long(wrong), long(M * N), long(M), long(N),
         long(K));
  return wrong ? 1 : 0;
}
