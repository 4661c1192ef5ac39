//===- FakeCudaDriver.cpp - A libcuda.so.1 that runs no kernel ------------===//
//
// Part of the qrealign project.
//
// A test double of the CUDA driver API, for machines without a GPU (CI):
// built as fake-cuda/libcuda.so.1 and found by qrealign's runtime (which
// dlopens "libcuda.so.1") through LD_LIBRARY_PATH. It answers every entry
// point the runtime binds, keeps "device" buffers in host memory (zeroed)
// and runs no kernel, so the host side of a GPU object runs end to end: the
// object loader, the module loads in qrealign_init, the uploads of
// parameters and inputs, the generated code's allocations and frees on its
// stream, the logits copied back. It checks what it can (a copy or a free
// must name a buffer it allocated; a free of a freed buffer is an error)
// and prints what happened at exit:
//
//   fake-cuda: modules loaded L unloaded U
//   fake-cuda: allocations A (stream-ordered S) frees F; live at exit N
//   fake-cuda: copies to the device C (B bytes), to the host D (E bytes)
//   fake-cuda: launches K; errors R
//
// FAKE_CUDA_FAIL=module|alloc:N|launch makes cuModuleLoadData, the Nth
// allocation (1-based) or every launch fail, to test the callers' errors.
//
//===----------------------------------------------------------------------===//

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>

namespace {
using CUresult = int;
constexpr CUresult kSuccess = 0, kInvalidValue = 1, kOutOfMemory = 2,
                   kNoBinaryForGPU = 209, kLaunchFailed = 719;

struct State {
  std::mutex mutex;
  std::map<uintptr_t, size_t> live;
  long modulesLoaded = 0, modulesUnloaded = 0, allocations = 0,
       streamOrdered = 0, frees = 0, toDevice = 0, toHost = 0, launches = 0,
       errors = 0;
  unsigned long long toDeviceBytes = 0, toHostBytes = 0;
  std::string fail = getenv("FAKE_CUDA_FAIL") ? getenv("FAKE_CUDA_FAIL") : "";

  ~State() {
    fprintf(stderr, "fake-cuda: modules loaded %ld unloaded %ld\n",
            modulesLoaded, modulesUnloaded);
    fprintf(stderr,
            "fake-cuda: allocations %ld (stream-ordered %ld) frees %ld; live "
            "at exit %zu\n",
            allocations, streamOrdered, frees, live.size());
    fprintf(stderr,
            "fake-cuda: copies to the device %ld (%llu bytes), to the host "
            "%ld (%llu bytes)\n",
            toDevice, toDeviceBytes, toHost, toHostBytes);
    fprintf(stderr, "fake-cuda: launches %ld; errors %ld\n", launches, errors);
  }

  CUresult error(CUresult err, const char *what) {
    ++errors;
    fprintf(stderr, "fake-cuda: %s: error %d\n", what, err);
    return err;
  }
  /// Whether [p, p + bytes) lies in one live buffer.
  bool isDevice(uintptr_t p, size_t bytes) {
    auto it = live.upper_bound(p);
    if (it == live.begin())
      return false;
    --it;
    return p >= it->first && p + bytes <= it->first + it->second;
  }
  CUresult allocate(unsigned long long *ptr, size_t bytes, bool ordered) {
    std::lock_guard<std::mutex> lock(mutex);
    ++allocations;
    streamOrdered += ordered;
    if (fail.rfind("alloc:", 0) == 0 &&
        allocations == std::atol(fail.c_str() + 6))
      return error(kOutOfMemory, "cuMemAlloc (FAKE_CUDA_FAIL)");
    void *p = calloc(bytes ? bytes : 1, 1);
    if (!p)
      return error(kOutOfMemory, "cuMemAlloc");
    live[reinterpret_cast<uintptr_t>(p)] = bytes;
    *ptr = reinterpret_cast<uintptr_t>(p);
    return kSuccess;
  }
  CUresult release(unsigned long long ptr) {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = live.find(ptr);
    if (it == live.end())
      return error(kInvalidValue, "cuMemFree of a pointer that is not a live "
                                  "allocation");
    ++frees;
    free(reinterpret_cast<void *>(ptr));
    live.erase(it);
    return kSuccess;
  }
};

State &state() {
  static State s;
  return s;
}
} // namespace

extern "C" {
CUresult cuInit(unsigned) { return kSuccess; }
CUresult cuDeviceGet(int *device, int ordinal) {
  *device = ordinal;
  return ordinal == 0 ? kSuccess : kInvalidValue;
}
CUresult cuDevicePrimaryCtxRetain(void **ctx, int) {
  static int context;
  *ctx = &context;
  return kSuccess;
}
CUresult cuCtxSetCurrent(void *) { return kSuccess; }

CUresult cuModuleLoadData(void **module, const void *image) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (s.fail == "module")
    return s.error(kNoBinaryForGPU, "cuModuleLoadData (FAKE_CUDA_FAIL)");
  // A cubin is an ELF image.
  if (!image || memcmp(image,
                       "\x7f"
                       "ELF",
                       4) != 0)
    return s.error(kInvalidValue, "cuModuleLoadData of an image that is not "
                                  "a cubin");
  ++s.modulesLoaded;
  *module = const_cast<void *>(image);
  return kSuccess;
}
CUresult cuModuleUnload(void *) {
  std::lock_guard<std::mutex> lock(state().mutex);
  ++state().modulesUnloaded;
  return kSuccess;
}
CUresult cuModuleGetFunction(void **fn, void *module, const char *name) {
  *fn = module;
  return name && *name ? kSuccess : kInvalidValue;
}
CUresult cuLaunchKernel(void *, unsigned, unsigned, unsigned, unsigned,
                        unsigned, unsigned, unsigned, void *, void **,
                        void **) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (s.fail == "launch")
    return s.error(kLaunchFailed, "cuLaunchKernel (FAKE_CUDA_FAIL)");
  ++s.launches;
  return kSuccess;
}

CUresult cuStreamCreate(void **stream, unsigned) {
  static int streams[64];
  static int next = 0;
  *stream = &streams[next++ % 64];
  return kSuccess;
}
CUresult cuStreamSynchronize(void *) { return kSuccess; }
CUresult cuStreamDestroy_v2(void *) { return kSuccess; }

CUresult cuMemAlloc_v2(unsigned long long *ptr, size_t bytes) {
  return state().allocate(ptr, bytes, false);
}
CUresult cuMemAllocAsync(unsigned long long *ptr, size_t bytes, void *) {
  return state().allocate(ptr, bytes, true);
}
CUresult cuMemFree_v2(unsigned long long ptr) { return state().release(ptr); }
CUresult cuMemFreeAsync(unsigned long long ptr, void *) {
  return state().release(ptr);
}

CUresult cuMemcpyAsync(unsigned long long dst, unsigned long long src,
                       size_t bytes, void *) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  bool dstDevice = s.isDevice(dst, bytes), srcDevice = s.isDevice(src, bytes);
  if (!dstDevice && !srcDevice)
    return s.error(kInvalidValue, "cuMemcpyAsync between two host pointers "
                                  "(or past a buffer's end)");
  if (dstDevice && !srcDevice) {
    ++s.toDevice;
    s.toDeviceBytes += bytes;
  } else if (!dstDevice) {
    ++s.toHost;
    s.toHostBytes += bytes;
  }
  memmove(reinterpret_cast<void *>(dst), reinterpret_cast<void *>(src), bytes);
  return kSuccess;
}
CUresult cuMemsetD32Async(unsigned long long dst, unsigned value, size_t count,
                          void *) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (!s.isDevice(dst, count * 4))
    return s.error(kInvalidValue, "cuMemsetD32Async outside a buffer");
  auto *words = reinterpret_cast<uint32_t *>(dst);
  for (size_t i = 0; i < count; ++i)
    words[i] = value;
  return kSuccess;
}

CUresult cuEventCreate(void **event, unsigned) {
  static int events;
  *event = &events;
  return kSuccess;
}
CUresult cuEventRecord(void *, void *) { return kSuccess; }
CUresult cuEventElapsedTime(float *ms, void *, void *) {
  *ms = 0;
  return kSuccess;
}
CUresult cuEventDestroy_v2(void *) { return kSuccess; }
} // extern "C"
