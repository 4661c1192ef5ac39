//===- IRInput.cpp - IR text handed to the MLIR parser --------------------===//

#include "qrealign/Support/IRInput.h"

#include "qrealign/Support/InputFile.h"

#include <cstring>

using namespace llvm;

namespace qrealign {
std::unique_ptr<MemoryBuffer>
withTrailingNewline(std::unique_ptr<MemoryBuffer> buffer) {
  StringRef text = buffer->getBuffer();
  // MLIR bytecode starts with the magic "ML\xEFR".
  if (text.empty() || text.ends_with("\n") || text.starts_with("ML\xEFR"))
    return buffer;
  std::unique_ptr<WritableMemoryBuffer> copy =
      WritableMemoryBuffer::getNewUninitMemBuffer(
          text.size() + 1, buffer->getBufferIdentifier());
  std::memcpy(copy->getBufferStart(), text.data(), text.size());
  copy->getBufferStart()[text.size()] = '\n';
  return copy;
}

Expected<std::unique_ptr<MemoryBuffer>> readIRFile(StringRef path) {
  Expected<std::unique_ptr<MemoryBuffer>> file =
      readRegularFileOrStdin(path, kNoSizeLimit, "an IR file");
  if (!file)
    return file.takeError();
  return withTrailingNewline(std::move(*file));
}
} // namespace qrealign
