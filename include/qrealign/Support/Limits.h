//===- Limits.h - Checked sizes and allocation bounds -----------*- C++ -*-===//
//
// Rule 1 of docs/robustness.md: every size computed from input is computed
// with checked arithmetic, and every allocation whose size comes from input
// is bounded before it is made. The helpers here are the only way qrealign
// code turns input numbers into element counts and byte sizes.
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_SUPPORT_LIMITS_H
#define QREALIGN_SUPPORT_LIMITS_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>

namespace qrealign {
/// a * b and a + b, or std::nullopt when the result does not fit.
std::optional<uint64_t> checkedMul(uint64_t a, uint64_t b);
std::optional<uint64_t> checkedAdd(uint64_t a, uint64_t b);
std::optional<int64_t> checkedMul(int64_t a, int64_t b);

/// The number of elements of `shape`, or std::nullopt when a dimension is
/// negative or the product does not fit in int64_t.
std::optional<int64_t> getCheckedNumElements(llvm::ArrayRef<int64_t> shape);
/// The bytes of a tensor of `shape` with `elementBytes` bytes per element,
/// or std::nullopt (negative dimension or overflow).
std::optional<uint64_t> getCheckedByteSize(llvm::ArrayRef<int64_t> shape,
                                           uint64_t elementBytes);

/// The most bytes that one allocation computed from input may take: the
/// machine's physical memory. QREALIGN_MEMORY_LIMIT (bytes, or with a K, M,
/// G or T suffix) lowers it, for tests and for shared machines.
uint64_t getMemoryLimit();
/// Fails unless `bytes` fits in getMemoryLimit(): "WHAT needs 4.0 TiB, more
/// than the 23.5 GiB of memory this machine has".
llvm::Error checkAllocation(uint64_t bytes, const llvm::Twine &what);
/// The same for a size that overflowed (std::nullopt): "WHAT overflows".
llvm::Error checkAllocation(std::optional<uint64_t> bytes,
                            const llvm::Twine &what);

/// "1.5 GiB", "512 B".
std::string formatBytes(uint64_t bytes);
} // namespace qrealign

#endif // QREALIGN_SUPPORT_LIMITS_H
