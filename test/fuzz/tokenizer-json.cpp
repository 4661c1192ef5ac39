//===- tokenizer-json.cpp - Fuzz tokenizer.json loading and encoding ------===//
//
// Input: a tokenizer.json, optionally followed by a NUL byte and a prompt.
// A tokenizer that loads must encode the prompt into ids it can name
// (prompt-encoding.cpp checks the round trip on well-formed tokenizers).
//
//===----------------------------------------------------------------------===//

#include "qrealign/Tokenizer/Tokenizer.h"

#include <cstdlib>

using namespace qrealign;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef input(reinterpret_cast<const char *>(data), size);
  auto [json, prompt] = input.split('\0');
  auto tok = Tokenizer::loadFromBuffer("json", json, "tokenizer.json");
  if (!tok) {
    llvm::consumeError(tok.takeError());
    return 0;
  }
  std::vector<int64_t> ids = (*tok)->encode(prompt);
  for (int64_t id : ids)
    if (!(*tok)->getPiece(id))
      abort(); // an id the vocabulary does not have
  (void)(*tok)->preTokenize(prompt);
  (void)(*tok)->decode(ids);
  return 0;
}
