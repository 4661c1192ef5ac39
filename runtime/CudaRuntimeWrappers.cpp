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
//===----------------------------------------------------------------------===//

#include "qrealign/Runtime/CudaRuntime.h"

#include <dlfcn.h>

#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>

namespace {
using CUresult = int;
using CUdevice = int;
using CUcontext = void *;
using CUmodule = void *;
using CUfunction = void *;
using CUstream = void *;
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
  CUresult (*cuMemcpyAsync)(CUdeviceptr, CUdeviceptr, size_t, CUstream);
  CUresult (*cuMemsetD32Async)(CUdeviceptr, unsigned, size_t, CUstream);
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
        bind(lib, d.cuMemsetD32Async, "cuMemsetD32Async");
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

void check(CUresult err, const char *what) {
  if (err != 0)
    fprintf(stderr, "qrealign runtime: %s failed with CUDA error %d\n", what,
            err);
}
} // namespace

extern "C" {
int qrealignGpuAvailable() { return driver().ready; }
const char *qrealignGpuStatus() { return driver().status.c_str(); }

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
  check(d.cuLaunchKernel(function, gridX, gridY, gridZ, blockX, blockY, blockZ,
                         smem, stream, params, extra),
        "cuLaunchKernel");
}

void *mgpuStreamCreate() {
  Driver &d = driver();
  if (!d.ready)
    return nullptr;
  CUstream stream = nullptr;
  check(d.cuStreamCreate(&stream, /*CU_STREAM_NON_BLOCKING=*/1),
        "cuStreamCreate");
  return stream;
}

void mgpuStreamDestroy(void *stream) {
  Driver &d = driver();
  if (d.ready && stream)
    check(d.cuStreamDestroy(stream), "cuStreamDestroy");
}

void mgpuStreamSynchronize(void *stream) {
  Driver &d = driver();
  if (d.ready)
    check(d.cuStreamSynchronize(stream), "cuStreamSynchronize");
}

void *mgpuMemAlloc(uint64_t bytes, void * /*stream*/, bool /*hostShared*/) {
  Driver &d = driver();
  if (!d.ready)
    return nullptr;
  CUdeviceptr ptr = 0;
  check(d.cuMemAlloc(&ptr, bytes ? bytes : 1), "cuMemAlloc");
  return reinterpret_cast<void *>(ptr);
}

void mgpuMemFree(void *ptr, void * /*stream*/) {
  Driver &d = driver();
  if (d.ready && ptr)
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
