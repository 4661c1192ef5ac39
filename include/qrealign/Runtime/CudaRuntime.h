/*===- CudaRuntime.h - qrealign's GPU host runtime ----------------*- C -*-===*\
|*                                                                            *|
|* The mgpu* functions of MLIR 22.1.8's gpu-to-llvm host ABI, over the CUDA   *|
|* driver loaded with dlopen, plus queries and launch profiling for programs, *|
|* tests and benchmarks.                                                      *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#ifndef QREALIGN_RUNTIME_CUDARUNTIME_H
#define QREALIGN_RUNTIME_CUDARUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when a CUDA driver and device are usable. */
int qrealignGpuAvailable(void);
/* Why not, or "ready". */
const char *qrealignGpuStatus(void);

/* The number of driver calls that failed since the process started (each
   also printed to stderr), and the last failure when `last` is not null:
   generated code cannot return an error, so its caller asks afterwards. A
   missing driver is not counted (qrealignGpuAvailable). */
int64_t qrealignGpuErrors(const char **last);

/* Launch profiling on this thread (non-zero: on; resets the sums): every
   kernel launched on this thread's stream is bracketed by two CUDA events,
   read when the stream is synchronized. */
void qrealignGpuProfile(int on);
/* The kernel time profiled since qrealignGpuProfile, in milliseconds, and
   the number of launches (when `launches` is not null). */
double qrealignGpuProfiledMilliseconds(int64_t *launches);

void *mgpuModuleLoad(void *data, size_t size);
void *mgpuModuleLoadJIT(void *data, int optLevel);
void mgpuModuleUnload(void *module);
void *mgpuModuleGetFunction(void *module, const char *name);
void mgpuLaunchKernel(void *function, intptr_t gridX, intptr_t gridY,
                      intptr_t gridZ, intptr_t blockX, intptr_t blockY,
                      intptr_t blockZ, int32_t smem, void *stream,
                      void **params, void **extra, size_t paramsCount);
void *mgpuStreamCreate(void);
void mgpuStreamDestroy(void *stream);
void mgpuStreamSynchronize(void *stream);
void *mgpuMemAlloc(uint64_t bytes, void *stream, bool hostShared);
void mgpuMemFree(void *ptr, void *stream);
void mgpuMemcpy(void *dst, void *src, size_t bytes, void *stream);
void mgpuMemset32(void *dst, unsigned value, size_t count, void *stream);

#ifdef __cplusplus
}
#endif

#endif /* QREALIGN_RUNTIME_CUDARUNTIME_H */
