//===- safetensors-header.cpp - Fuzz the safetensors header parser --------===//
//
// Input: 8 bytes (little-endian size of the data section, modulo 2^20),
// then the header's JSON text. Checks the parser's contract: it fails with
// an error, or every tensor it returns lies inside the data section, has a
// byte size that matches its shape and dtype, and the tensors tile the data
// section exactly.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Checkpoint/Checkpoint.h"
#include "qrealign/Support/Limits.h"

#include "llvm/Support/Endian.h"

#include <cstdlib>

using namespace qrealign;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 8)
    return -1;
  uint64_t dataSize = llvm::support::endian::read64le(data) % (1u << 20);
  llvm::StringRef json(reinterpret_cast<const char *>(data) + 8, size - 8);
  std::vector<TensorInfo> tensors;
  std::vector<std::pair<std::string, std::string>> meta;
  if (llvm::Error err =
          parseSafeTensorsHeader(json, dataSize, "fuzz", tensors, meta)) {
    llvm::consumeError(std::move(err));
    return 0;
  }
  uint64_t cursor = 0;
  for (const TensorInfo &t : tensors) {
    std::optional<uint64_t> bytes =
        getCheckedByteSize(t.shape, getDTypeSize(t.dtype));
    if (!bytes || *bytes != t.size || t.offset != cursor ||
        t.offset + t.size > dataSize)
      abort(); // accepted a tensor that does not fit its bytes
    cursor += t.size;
  }
  if (cursor != dataSize)
    abort();
  return 0;
}
