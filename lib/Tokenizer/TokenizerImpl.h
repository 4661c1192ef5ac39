//===- TokenizerImpl.h - Tokenizer loaders (private) ------------*- C++ -*-===//

#ifndef QREALIGN_LIB_TOKENIZER_TOKENIZERIMPL_H
#define QREALIGN_LIB_TOKENIZER_TOKENIZERIMPL_H

#include "qrealign/Tokenizer/Tokenizer.h"

namespace qrealign::detail {
llvm::Expected<std::unique_ptr<Tokenizer>>
loadSentencePiece(llvm::StringRef path);
llvm::Expected<std::unique_ptr<Tokenizer>>
loadLlama2CTokenizer(llvm::StringRef path);
llvm::Expected<std::unique_ptr<Tokenizer>>
loadHFTokenizer(llvm::StringRef path);
} // namespace qrealign::detail

#endif
