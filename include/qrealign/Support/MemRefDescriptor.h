//===- MemRefDescriptor.h - MLIR's C-interface memref descriptor -*- C++
//-*-===//
//
// Part of the qrealign project.
//
// The struct that code lowered with `llvm.emit_c_interface` takes and
// returns for a ranked memref, and a contiguous view builder. Header-only
// and free of MLIR: the JIT, the object runtime, the GPU tests and
// benchmarks all call compiled code through it.
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_SUPPORT_MEMREFDESCRIPTOR_H
#define QREALIGN_SUPPORT_MEMREFDESCRIPTOR_H

#include <cstdint>

namespace qrealign {
/// A ranked strided memref as MLIR's C interface passes it.
template <typename T, int Rank>
struct MemRefDescriptor {
  T *allocated;
  T *aligned;
  int64_t offset;
  int64_t sizes[Rank];
  int64_t strides[Rank];
};

/// A contiguous row-major view of `data` with `sizes`.
template <typename T, int Rank>
MemRefDescriptor<T, Rank> viewOf(T *data, const int64_t (&sizes)[Rank]) {
  MemRefDescriptor<T, Rank> d{data, data, 0, {}, {}};
  int64_t stride = 1;
  for (int i = Rank - 1; i >= 0; --i) {
    d.sizes[i] = sizes[i];
    d.strides[i] = stride;
    stride *= sizes[i];
  }
  return d;
}
} // namespace qrealign

#endif // QREALIGN_SUPPORT_MEMREFDESCRIPTOR_H
