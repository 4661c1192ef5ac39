//===- Limits.cpp - Checked sizes and allocation bounds -------------------===//

#include "qrealign/Support/Limits.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/CheckedArithmetic.h"
#include "llvm/Support/FormatVariadic.h"

#include <cstdlib>
#include <unistd.h>

using namespace llvm;

namespace qrealign {
std::optional<uint64_t> checkedMul(uint64_t a, uint64_t b) {
  return llvm::checkedMulUnsigned(a, b);
}

std::optional<uint64_t> checkedAdd(uint64_t a, uint64_t b) {
  return llvm::checkedAddUnsigned(a, b);
}

std::optional<int64_t> checkedMul(int64_t a, int64_t b) {
  return llvm::checkedMul(a, b);
}

std::optional<int64_t> getCheckedNumElements(ArrayRef<int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0)
      return std::nullopt;
    std::optional<int64_t> next = llvm::checkedMul(n, d);
    if (!next)
      return std::nullopt;
    n = *next;
  }
  return n;
}

std::optional<uint64_t> getCheckedByteSize(ArrayRef<int64_t> shape,
                                           uint64_t elementBytes) {
  std::optional<int64_t> n = getCheckedNumElements(shape);
  if (!n)
    return std::nullopt;
  return checkedMul(uint64_t(*n), elementBytes);
}

static std::optional<uint64_t> parseByteCount(StringRef text) {
  text = text.trim();
  uint64_t scale = 1;
  if (!text.empty()) {
    switch (toupper(text.back())) {
    case 'K':
      scale = 1ull << 10;
      break;
    case 'M':
      scale = 1ull << 20;
      break;
    case 'G':
      scale = 1ull << 30;
      break;
    case 'T':
      scale = 1ull << 40;
      break;
    default:
      break;
    }
    if (scale != 1)
      text = text.drop_back();
  }
  uint64_t value;
  if (text.getAsInteger(10, value))
    return std::nullopt;
  return checkedMul(value, scale);
}

uint64_t getMemoryLimit() {
  long pages = sysconf(_SC_PHYS_PAGES), pageSize = sysconf(_SC_PAGESIZE);
  uint64_t physical = pages > 0 && pageSize > 0
                          ? uint64_t(pages) * uint64_t(pageSize)
                          : uint64_t(1) << 40;
  if (const char *env = getenv("QREALIGN_MEMORY_LIMIT"))
    if (std::optional<uint64_t> limit = parseByteCount(env))
      return std::min(*limit, physical);
  return physical;
}

std::string formatBytes(uint64_t bytes) {
  static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024)
    return formatv("{0} B", bytes).str();
  double v = double(bytes);
  int unit = -1;
  while (v >= 1024 && unit < 5) {
    v /= 1024;
    ++unit;
  }
  return formatv("{0:f1} {1}", v, units[unit]).str();
}

Error checkAllocation(uint64_t bytes, const Twine &what) {
  uint64_t limit = getMemoryLimit();
  if (bytes <= limit)
    return Error::success();
  return createStringError(
      inconvertibleErrorCode(),
      what + " needs " + formatBytes(bytes) + ", more than the " +
          formatBytes(limit) + " of memory " +
          (getenv("QREALIGN_MEMORY_LIMIT") ? "QREALIGN_MEMORY_LIMIT allows"
                                           : "this machine has"));
}

Error checkAllocation(std::optional<uint64_t> bytes, const Twine &what) {
  if (!bytes)
    return createStringError(inconvertibleErrorCode(),
                             what + " overflows 64-bit sizes");
  return checkAllocation(*bytes, what);
}
} // namespace qrealign
