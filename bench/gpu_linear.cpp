//===- gpu_linear.cpp - Time the compiled GPU linears ---------------------===//
//
// Part of the qrealign project.
//
// qrealign-bench-gpu-linear: runs each kernel of bench/gpu_kernels.py
// (compiled ahead of time by qrealign-lower-to-nvvm, cubins for sm_90)
// through qrealign's runtime and prints one JSON line per kernel: the
// median over --runs of the kernel's device time (CUDA events around its
// launch, qrealignGpuProfile) and of the host's time per call (launch and
// synchronization). bench/gpu_linear.py runs it beside PyTorch's cuBLAS and
// cuBLASLt and prints the ratios. Without a GPU it says so and exits 77.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Runtime/CudaRuntime.h"
#include "qrealign/Support/MemRefDescriptor.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

namespace {
template <typename T>
using Desc2 = qrealign::MemRefDescriptor<T, 2>;

/// A device buffer of `rows` x `cols` elements of `bytes` each, filled with
/// random bytes (levels, scales and activations alike: timing only).
template <typename T>
Desc2<T> randomDevice(int64_t rows, int64_t cols, std::mt19937 &rng,
                      bool smallFloats = false) {
  size_t count = size_t(rows * cols), bytes = count * sizeof(T);
  std::vector<uint8_t> host(bytes);
  for (uint8_t &b : host)
    b = uint8_t(rng());
  if (smallFloats) // f16 in [0.5, 2): sign 0, exponent 14 or 15.
    for (size_t i = 0; i + 1 < bytes; i += 2)
      host[i + 1] = uint8_t(0x38 | (host[i + 1] & 0x07));
  auto *ptr = static_cast<T *>(mgpuMemAlloc(bytes, nullptr, false));
  mgpuMemcpy(ptr, host.data(), bytes, nullptr);
  mgpuStreamSynchronize(nullptr);
  return qrealign::viewOf(ptr, {rows, cols});
}

using half = uint16_t;
} // namespace

extern "C" {
#define W4A16(fn, name, m, n, k)                                               \
  void _mlir_ciface_##fn(Desc2<half> *, Desc2<half> *, Desc2<uint8_t> *,       \
                         Desc2<half> *, Desc2<int8_t> *, Desc2<half> *);
#define W8A8(fn, name, m, n, k)                                                \
  void _mlir_ciface_##fn(Desc2<int32_t> *, Desc2<int8_t> *, Desc2<int8_t> *,   \
                         Desc2<int32_t> *);
#include "gpu_kernels.inc"
#undef W4A16
#undef W8A8
}

namespace {
struct Kernel {
  const char *scheme, *fn, *shape;
  int64_t m, n, k;
  void (*run)(std::mt19937 &, int);
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

/// Calls `call` warm-up + runs times; prints the medians.
template <typename Call>
void timeCalls(const Kernel &kernel, int runs, Call call) {
  for (int i = 0; i < 3; ++i)
    call();
  std::vector<double> device, host;
  for (int i = 0; i < runs; ++i) {
    qrealignGpuProfile(1);
    auto t0 = std::chrono::steady_clock::now();
    call();
    auto t1 = std::chrono::steady_clock::now();
    int64_t launches = 0;
    device.push_back(qrealignGpuProfiledMilliseconds(&launches) * 1e3);
    host.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    if (launches != 1) {
      fprintf(stderr, "%s: %ld launches per call, expected 1\n", kernel.fn,
              long(launches));
      std::exit(1);
    }
  }
  qrealignGpuProfile(0);
  printf("{\"scheme\": \"%s\", \"kernel\": \"%s\", \"shape\": \"%s\", "
         "\"m\": %ld, \"n\": %ld, \"k\": %ld, \"device_us\": %.3f, "
         "\"host_us\": %.3f, \"runs\": %d}\n",
         kernel.scheme, kernel.fn, kernel.shape, long(kernel.m), long(kernel.n),
         long(kernel.k), median(device), median(host), runs);
  fflush(stdout);
}
} // namespace

int main(int argc, char **argv) {
  int runs = 50;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--runs") && i + 1 < argc)
      runs = std::atoi(argv[++i]);
    else {
      fprintf(stderr, "usage: %s [--runs N]\n", argv[0]);
      return 2;
    }
  }
  if (runs < 1) {
    fprintf(stderr, "--runs must be at least 1\n");
    return 2;
  }
  if (!qrealignGpuAvailable()) {
    printf("SKIPPED: %s\n", qrealignGpuStatus());
    return 77;
  }
  std::mt19937 rng(1);
  std::vector<Kernel> kernels;
#define W4A16(fn, name, M, N, K)                                               \
  kernels.push_back(                                                           \
      {"w4a16", #fn, name, M, N, K, [](std::mt19937 &r, int runs) {            \
         auto x = randomDevice<half>(M, K, r, true);                           \
         auto p = randomDevice<uint8_t>(N, K / 2, r);                          \
         auto s = randomDevice<half>(N, K / 128, r, true);                     \
         auto z = randomDevice<int8_t>(N, K / 128, r);                         \
         auto y = randomDevice<half>(M, N, r);                                 \
         Desc2<half> out{};                                                    \
         Kernel k{"w4a16", #fn, name, M, N, K, nullptr};                       \
         timeCalls(k, runs,                                                    \
                   [&] { _mlir_ciface_##fn(&out, &x, &p, &s, &z, &y); });      \
         for (void *ptr :                                                      \
              {(void *)x.allocated, (void *)p.allocated, (void *)s.allocated,  \
               (void *)z.allocated, (void *)y.allocated})                      \
           mgpuMemFree(ptr, nullptr);                                          \
       }});
#define W8A8(fn, name, M, N, K)                                                \
  kernels.push_back(                                                           \
      {"w8a8", #fn, name, M, N, K, [](std::mt19937 &r, int runs) {             \
         auto a = randomDevice<int8_t>(M, K, r);                               \
         auto w = randomDevice<int8_t>(N, K, r);                               \
         auto c = randomDevice<int32_t>(M, N, r);                              \
         Desc2<int32_t> out{};                                                 \
         Kernel k{"w8a8", #fn, name, M, N, K, nullptr};                        \
         timeCalls(k, runs, [&] { _mlir_ciface_##fn(&out, &a, &w, &c); });     \
         for (void *ptr :                                                      \
              {(void *)a.allocated, (void *)w.allocated, (void *)c.allocated}) \
           mgpuMemFree(ptr, nullptr);                                          \
       }});
#include "gpu_kernels.inc"
#undef W4A16
#undef W8A8
  for (const Kernel &kernel : kernels)
    kernel.run(rng, runs);
  return 0;
}
