//===- llama2c-header.cpp - Fuzz the llama2.c header check ----------------===//
//
// Input: 28 header bytes, then 8 bytes of file size (little endian). An
// accepted header's tensors lie inside the file, one after the other.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Checkpoint/Checkpoint.h"

#include "llvm/Support/Endian.h"

#include <cstdlib>

using namespace qrealign;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 36)
    return -1;
  uint64_t fileSize = llvm::support::endian::read64le(data + 28);
  Llama2CConfig config;
  llvm::Expected<std::vector<TensorInfo>> tensors = parseLlama2CHeader(
      llvm::ArrayRef<uint8_t>(data, 28), fileSize, "fuzz.bin", config);
  if (!tensors) {
    llvm::consumeError(tensors.takeError());
    return 0;
  }
  uint64_t end = 28;
  for (const TensorInfo &t : *tensors) {
    if (t.offset < end || t.offset + t.size > fileSize ||
        t.size != uint64_t(t.getNumElements()) * 4)
      abort();
    end = t.offset + t.size;
  }
  return 0;
}
