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

#include "KernelMemory.h"

#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

namespace {
template <typename T>
using Desc2 = qrealign::MemRefDescriptor<T, 2>;
using qrealign::viewOf;
using qrealign::test::download;
using qrealign::test::release;
using qrealign::test::upload;
constexpr int64_t M = 128, N = 128, K = 256;
} // namespace

extern "C" void _mlir_ciface_gemm(Desc2<int32_t> *result, Desc2<int8_t> *a,
                                  Desc2<int8_t> *w, Desc2<int32_t> *c);

int main() {
  if (!qrealign::test::kernelsCanRun())
    return 77;
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> level(-128, 127);
  std::vector<int8_t> a(M * K), w(N * K);
  for (int8_t &v : a)
    v = int8_t(level(rng));
  for (int8_t &v : w)
    v = int8_t(level(rng));
  std::vector<int32_t> c(M * N, 12345);

  int8_t *da = upload(a), *dw = upload(w);
  int32_t *dc = upload(c);
  Desc2<int8_t> ad = viewOf(da, {M, K}), wd = viewOf(dw, {N, K});
  Desc2<int32_t> cd = viewOf(dc, {M, N}), out{};
  _mlir_ciface_gemm(&out, &ad, &wd, &cd);
  c = download(cd);
  release(da);
  release(dw);
  release(dc);

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
