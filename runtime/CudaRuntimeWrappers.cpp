//===- CudaRuntimeWrappers.cpp - The host ABI of MLIR's gpu-to-llvm -------===//
//
// Part of the qrealign project.
//
// The `mgpu*` functions that code lowered by gpu-to-llvm (MLIR 22.1.8) calls,
// over the CUDA driver API loaded with dlopen("libcuda.so.1"): binaries
// start, and report that there is no GPU, on machines without a driver.
// Debian ships no libmlir_cuda_runtime; this is ours, and the only code of
// the project that touches CUDA. Signatures: ../shared/notes/lowering.md.
//
// Kernel modules are loaded from global constructors, before main: every
// entry point survives a missing driver (returns null or does nothing) and
// records the first error, which qrealignGpuStatus() reports.
//
// Streams: gpu-to-llvm's synchronous launch creates a stream, launches,
// synchronizes and destroys it, for every kernel. mgpuStreamCreate hands out
// one persistent stream per thread instead (created once, never destroyed
// before exit), so a decode step's launches cost a launch and a
// synchronization each, not a stream's life. Profiling
// (qrealignGpuProfile) brackets every launch with two events on its stream
// and adds their elapsed time when the stream is synchronized.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Runtime/CudaRuntime.h"

#include <dlfcn.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace {
using CUresult = int;
using CUdevice = int;
using CUcontext = void *;
using CUmodule = void *;
using CUfunction = void *;
using CUstream = void *;
using CUevent = void *;
using CUdeviceptr = unsigned long long;

/// The driver API entry points used here (their _v2 names where the driver
/// exports one).
struct Driver {
  CUresult (*cuInit)(unsigned);
  CUresult (*cuDeviceGet)(CUdevice *, int);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
  CUresult (*cuCtxSetCurrent)(CUcontext);
  CUresult (*cuModuleLoadData)(CUmodule *, const void *);
  CUresult (*cuModuleUnload)(CUmodule);
  CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned,
                             unsigned, unsigned, unsigned, CUstream, void **,
                             void **);
  CUresult (*cuStreamCreate)(CUstream *, unsigned);
  CUresult (*cuStreamSynchronize)(CUstream);
  CUresult (*cuStreamDestroy)(CUstream);
  CUresult (*cuMemAlloc)(CUdeviceptr *, size_t);
  CUresult (*cuMemFree)(CUdeviceptr);
  // Stream-ordered allocation (CUDA 11.2 on): optional, null when absent.
  CUresult (*cuMemAllocAsync)(CUdeviceptr *, size_t, CUstream) = nullptr;
  CUresult (*cuMemFreeAsync)(CUdeviceptr, CUstream) = nullptr;
  CUresult (*cuMemcpyAsync)(CUdeviceptr, CUdeviceptr, size_t, CUstream);
  CUresult (*cuMemsetD32Async)(CUdeviceptr, unsigned, size_t, CUstream);
  CUresult (*cuEventCreate)(CUevent *, unsigned);
  CUresult (*cuEventRecord)(CUevent, CUstream);
  CUresult (*cuEventElapsedTime)(float *, CUevent, CUevent);
  CUresult (*cuEventDestroy)(CUevent);
  CUcontext context = nullptr;
  bool ready = false;
  std::string status = "not initialized";
};

template <typename F>
bool bind(void *lib, F &fn, const char *name, const char *v2 = nullptr) {
  void *sym = v2 ? dlsym(lib, v2) : nullptr;
  if (!sym)
    sym = dlsym(lib, name);
  fn = reinterpret_cast<F>(sym);
  return sym != nullptr;
}

Driver &driver() {
  static Driver d;
  static std::once_flag once;
  std::call_once(once, [] {
    void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      d.status = "no CUDA driver (libcuda.so.1 not found)";
      return;
    }
    bool ok =
        bind(lib, d.cuInit, "cuInit") &&
        bind(lib, d.cuDeviceGet, "cuDeviceGet") &&
        bind(lib, d.cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain") &&
        bind(lib, d.cuCtxSetCurrent, "cuCtxSetCurrent") &&
        bind(lib, d.cuModuleLoadData, "cuModuleLoadData") &&
        bind(lib, d.cuModuleUnload, "cuModuleUnload") &&
        bind(lib, d.cuModuleGetFunction, "cuModuleGetFunction") &&
        bind(lib, d.cuLaunchKernel, "cuLaunchKernel") &&
        bind(lib, d.cuStreamCreate, "cuStreamCreate") &&
        bind(lib, d.cuStreamSynchronize, "cuStreamSynchronize") &&
        bind(lib, d.cuStreamDestroy, "cuStreamDestroy", "cuStreamDestroy_v2") &&
        bind(lib, d.cuMemAlloc, "cuMemAlloc", "cuMemAlloc_v2") &&
        bind(lib, d.cuMemFree, "cuMemFree", "cuMemFree_v2") &&
        bind(lib, d.cuMemcpyAsync, "cuMemcpyAsync") &&
        bind(lib, d.cuMemsetD32Async, "cuMemsetD32Async") &&
        bind(lib, d.cuEventCreate, "cuEventCreate") &&
        bind(lib, d.cuEventRecord, "cuEventRecord") &&
        bind(lib, d.cuEventElapsedTime, "cuEventElapsedTime") &&
        bind(lib, d.cuEventDestroy, "cuEventDestroy", "cuEventDestroy_v2");
    bind(lib, d.cuMemAllocAsync, "cuMemAllocAsync");
    bind(lib, d.cuMemFreeAsync, "cuMemFreeAsync");
    if (!ok) {
      d.status = "libcuda.so.1 lacks a driver API entry point";
      return;
    }
    CUdevice device;
    CUresult err = d.cuInit(0);
    if (err == 0)
      err = d.cuDeviceGet(&device, 0);
    if (err == 0)
      err = d.cuDevicePrimaryCtxRetain(&d.context, device);
    if (err != 0) {
      d.status = "the CUDA driver reports error " + std::to_string(err) +
                 " (no usable GPU)";
      return;
    }
    d.ready = true;
    d.status = "ready";
  });
  if (d.ready)
    d.cuCtxSetCurrent(d.context);
  return d;
}

/// Failed driver calls since the process started, and the last one: the
/// generated code cannot return an error, so callers ask afterwards
/// (qrealignGpuErrors).
std::atomic<int64_t> errorCount{0};
std::mutex lastErrorMutex;
std::string lastError;

void check(CUresult err, const char *what) {
  if (err == 0)
    return;
  fprintf(stderr, "qrealign runtime: %s failed with CUDA error %d\n", what,
          err);
  std::lock_guard<std::mutex> lock(lastErrorMutex);
  lastError =
      std::string(what) + " failed with CUDA error " + std::to_string(err);
  ++errorCount;
}

/// This thread's persistent stream (null until the first mgpuStreamCreate).
thread_local CUstream persistentStream = nullptr;

/// Launch profiling: events recorded around each launch, summed at the
/// next synchronization of this thread's stream.
struct Profile {
  bool on = false;
  double milliseconds = 0;
  int64_t launches = 0;
  std::vector<std::pair<CUevent, CUevent>> pending;
};
thread_local Profile profile;

void collectProfile(Driver &d) {
  for (auto [start, end] : profile.pending) {
    float ms = 0;
    check(d.cuEventElapsedTime(&ms, start, end), "cuEventElapsedTime");
    profile.milliseconds += ms;
    ++profile.launches;
    d.cuEventDestroy(start);
    d.cuEventDestroy(end);
  }
  profile.pending.clear();
}
} // namespace

extern "C" {
int qrealignGpuAvailable() { return driver().ready; }
const char *qrealignGpuStatus() { return driver().status.c_str(); }

int64_t qrealignGpuErrors(const char **last) {
  if (last) {
    std::lock_guard<std::mutex> lock(lastErrorMutex);
    // Errors are only ever added: the string lives until the next one.
    *last = lastError.c_str();
  }
  return errorCount.load();
}

void qrealignGpuProfile(int on) {
  profile.on = on != 0;
  profile.milliseconds = 0;
  profile.launches = 0;
}

double qrealignGpuProfiledMilliseconds(int64_t *launches) {
  if (launches)
    *launches = profile.launches;
  return profile.milliseconds;
}

void *mgpuModuleLoad(void *data, size_t /*size*/) {
  Driver &d = driver();
  if (!d.ready)
    return nullptr;
  CUmodule module = nullptr;
  check(d.cuModuleLoadData(&module, data), "cuModuleLoadData");
  return module;
}

void *mgpuModuleLoadJIT(void *data, int /*optLevel*/) {
  return mgpuModuleLoad(data, 0);
}

void mgpuModuleUnload(void *module) {
  Driver &d = driver();
  if (d.ready && module)
    check(d.cuModuleUnload(module), "cuModuleUnload");
}

void *mgpuModuleGetFunction(void *module, const char *name) {
  Driver &d = driver();
  if (!d.ready || !module)
    return nullptr;
  CUfunction fn = nullptr;
  check(d.cuModuleGetFunction(&fn, module, name), "cuModuleGetFunction");
  return fn;
}

void mgpuLaunchKernel(void *function, intptr_t gridX, intptr_t gridY,
                      intptr_t gridZ, intptr_t blockX, intptr_t blockY,
                      intptr_t blockZ, int32_t smem, void *stream,
                      void **params, void **extra, size_t /*paramsCount*/) {
  Driver &d = driver();
  if (!d.ready || !function)
    return;
  CUevent start = nullptr, end = nullptr;
  if (profile.on) {
    check(d.cuEventCreate(&start, 0), "cuEventCreate");
    check(d.cuEventCreate(&end, 0), "cuEventCreate");
    check(d.cuEventRecord(start, stream), "cuEventRecord");
  }
  check(d.cuLaunchKernel(function, gridX, gridY, gridZ, blockX, blockY, blockZ,
                         smem, stream, params, extra),
        "cuLaunchKernel");
  if (profile.on) {
    check(d.cuEventRecord(end, stream), "cuEventRecord");
    profile.pending.emplace_back(start, end);
  }
}

void *mgpuStreamCreate() {
  Driver &d = driver();
  if (!d.ready)
    return nullptr;
  if (!persistentStream)
    check(d.cuStreamCreate(&persistentStream, /*CU_STREAM_NON_BLOCKING=*/1),
          "cuStreamCreate");
  return persistentStream;
}

void mgpuStreamDestroy(void *stream) {
  Driver &d = driver();
  // This thread's persistent stream lives on; any other is destroyed.
  if (d.ready && stream && stream != persistentStream)
    check(d.cuStreamDestroy(stream), "cuStreamDestroy");
}

void mgpuStreamSynchronize(void *stream) {
  Driver &d = driver();
  if (!d.ready)
    return;
  check(d.cuStreamSynchronize(stream), "cuStreamSynchronize");
  if (stream == persistentStream)
    collectProfile(d);
}

// gpu-to-llvm passes the stream of the launches around an allocation (the
// host code that qrealign-gpu-loops and gpu-async-region leave): there the
// allocation and the free are ordered on that stream, so a buffer is freed
// after the kernels that use it, without a synchronization. Without a
// stream (a test's own buffers), plain cuMemAlloc and cuMemFree.
void *mgpuMemAlloc(uint64_t bytes, void *stream, bool /*hostShared*/) {
  Driver &d = driver();
  if (!d.ready)
    return nullptr;
  CUdeviceptr ptr = 0;
  if (stream && d.cuMemAllocAsync)
    check(d.cuMemAllocAsync(&ptr, bytes ? bytes : 1, stream),
          "cuMemAllocAsync");
  else
    check(d.cuMemAlloc(&ptr, bytes ? bytes : 1), "cuMemAlloc");
  return reinterpret_cast<void *>(ptr);
}

void mgpuMemFree(void *ptr, void *stream) {
  Driver &d = driver();
  if (!d.ready || !ptr)
    return;
  if (stream && d.cuMemFreeAsync) {
    check(d.cuMemFreeAsync(reinterpret_cast<CUdeviceptr>(ptr), stream),
          "cuMemFreeAsync");
    return;
  }
  // The kernels queued on the stream may still use the buffer.
  if (stream)
    check(d.cuStreamSynchronize(stream), "cuStreamSynchronize");
  check(d.cuMemFree(reinterpret_cast<CUdeviceptr>(ptr)), "cuMemFree");
}

void mgpuMemcpy(void *dst, void *src, size_t bytes, void *stream) {
  Driver &d = driver();
  if (d.ready)
    check(d.cuMemcpyAsync(reinterpret_cast<CUdeviceptr>(dst),
                          reinterpret_cast<CUdeviceptr>(src), bytes, stream),
          "cuMemcpyAsync");
}

void mgpuMemset32(void *dst, unsigned value, size_t count, void *stream) {
  Driver &d = driver();
  if (d.ready)
    check(d.cuMemsetD32Async(reinterpret_cast<CUdeviceptr>(dst), value, count,
                             stream),
          "cuMemsetD32Async");
}
} // extern "C"
