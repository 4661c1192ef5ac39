//===- KernelMemory.h - Buffers for the compiled kernels' tests -*- C++ -*-===//
//
// Part of the qrealign project.
//
// A GPU test runs the kernels that qrealign-lower-to-nvvm compiled (GPU
// memory, through qrealign's runtime); most are also built with
// QREALIGN_KERNELS_ON_CPU against the same IR compiled by
// qrealign-lower-to-cpu (host memory), which checks the test's reference in
// CI, where no GPU is. These helpers hide the difference.
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_TEST_GPU_KERNELMEMORY_H
#define QREALIGN_TEST_GPU_KERNELMEMORY_H

#ifndef QREALIGN_KERNELS_ON_CPU
#include "qrealign/Runtime/CudaRuntime.h"
#endif
#include "qrealign/Support/MemRefDescriptor.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace qrealign::test {
/// Whether the kernels can run; prints why not (the caller exits 77, which
/// CTest reports as skipped).
inline bool kernelsCanRun() {
#ifndef QREALIGN_KERNELS_ON_CPU
  if (!qrealignGpuAvailable()) {
    printf("SKIPPED: %s\n", qrealignGpuStatus());
    return false;
  }
#endif
  return true;
}

/// A copy of `host` in memory the kernels read: the GPU's, or the host's.
/// Freed with `release`.
template <typename T>
T *upload(const std::vector<T> &host) {
  size_t bytes = host.size() * sizeof(T);
#ifdef QREALIGN_KERNELS_ON_CPU
  T *ptr = static_cast<T *>(std::malloc(bytes ? bytes : 1));
  std::memcpy(ptr, host.data(), bytes);
#else
  T *ptr = static_cast<T *>(mgpuMemAlloc(bytes, nullptr, false));
  mgpuMemcpy(ptr, const_cast<T *>(host.data()), bytes, nullptr);
  mgpuStreamSynchronize(nullptr);
#endif
  return ptr;
}

template <typename T>
void release(T *ptr) {
#ifdef QREALIGN_KERNELS_ON_CPU
  std::free(ptr);
#else
  mgpuMemFree(ptr, nullptr);
#endif
}

/// The elements of a contiguous view, on the host.
template <typename T, int Rank>
std::vector<T> download(const MemRefDescriptor<T, Rank> &d) {
  int64_t count = 1;
  for (int i = 0; i < Rank; ++i)
    count *= d.sizes[i];
  std::vector<T> host(count);
#ifdef QREALIGN_KERNELS_ON_CPU
  std::memcpy(host.data(), d.aligned + d.offset, host.size() * sizeof(T));
#else
  mgpuMemcpy(host.data(), d.aligned + d.offset, host.size() * sizeof(T),
             nullptr);
  mgpuStreamSynchronize(nullptr);
#endif
  return host;
}
} // namespace qrealign::test

#endif // QREALIGN_TEST_GPU_KERNELMEMORY_H
