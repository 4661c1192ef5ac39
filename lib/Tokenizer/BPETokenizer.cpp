//===- BPETokenizer.cpp - Hugging Face tokenizer.json byte-level BPE ------===//

#include "TokenizerImpl.h"

using namespace llvm;

namespace qrealign::detail {
Expected<std::unique_ptr<Tokenizer>> loadHFTokenizer(StringRef path) {
  return createStringError(inconvertibleErrorCode(),
                           path + ": tokenizer.json is not supported yet");
}
} // namespace qrealign::detail
