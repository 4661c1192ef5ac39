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
/// The loaders on text already in memory (`path` names it in errors).
/// `readConfig`: look for tokenizer_config.json beside `path` for BOS/EOS.
llvm::Expected<std::unique_ptr<Tokenizer>>
loadHFTokenizerText(llvm::StringRef text, llvm::StringRef path,
                    bool readConfig);
llvm::Expected<std::unique_ptr<Tokenizer>>
loadLlama2CTokenizerData(llvm::StringRef data, llvm::StringRef path);
} // namespace qrealign::detail

#endif
