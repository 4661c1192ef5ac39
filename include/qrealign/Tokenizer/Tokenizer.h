//===- Tokenizer.h - Text to token ids and back -----------------*- C++ -*-===//
//
// Tokenizers of the model families qrealign imports:
//
//  - SentencePiece `tokenizer.model` (Llama-2, Mistral), through Debian's
//    libsentencepiece;
//  - llama2.c `tok*.bin` (scored pieces, merged by best score as run.c does);
//  - Hugging Face `tokenizer.json` byte-level BPE (Llama-3, Qwen2).
//
// plus the built-in chat templates of those families.
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_TOKENIZER_TOKENIZER_H
#define QREALIGN_TOKENIZER_TOKENIZER_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace qrealign {
class Tokenizer {
public:
  virtual ~Tokenizer();
  /// Loads `path`: `.model` (SentencePiece), `.json` (Hugging Face) or
  /// `.bin` (llama2.c).
  static llvm::Expected<std::unique_ptr<Tokenizer>> load(llvm::StringRef path);
  /// Loads a tokenizer held in memory: `kind` is "json" (a Hugging Face
  /// tokenizer.json; no tokenizer_config.json is consulted) or "llama2c" (a
  /// tok*.bin). `origin` names it in diagnostics. (The fuzzers' entry.)
  static llvm::Expected<std::unique_ptr<Tokenizer>>
  loadFromBuffer(llvm::StringRef kind, llvm::StringRef data,
                 llvm::StringRef origin);

  /// Token ids of `text`, without BOS. Where the format has special tokens
  /// (tokenizer.json added tokens such as `<|eot_id|>`), their spellings in
  /// `text` become their ids.
  virtual std::vector<int64_t> encode(llvm::StringRef text) const = 0;
  /// The text of `ids`, a continuation of a sequence that started with BOS
  /// (a leading space of the first piece after BOS is dropped, as
  /// SentencePiece and llama2.c do). Special tokens decode to nothing.
  virtual std::string decode(llvm::ArrayRef<int64_t> ids) const = 0;
  virtual int64_t getVocabSize() const = 0;
  /// The id of a piece or special token spelled exactly `piece`.
  virtual std::optional<int64_t> lookup(llvm::StringRef piece) const = 0;
  virtual int64_t getBosId() const { return bos; }
  virtual int64_t getEosId() const { return eos; }
  /// The vocabulary entry of `id` as the format spells it (SentencePiece's
  /// `▁the`, byte-level BPE's `Ġthe`), or none for an unused id.
  virtual std::optional<std::string> getPiece(int64_t id) const = 0;
  /// The pieces the text is cut into before subword merging (byte-level
  /// BPE's pre-tokenizer pattern); the whole text where the format has no
  /// such step.
  virtual std::vector<std::string> preTokenize(llvm::StringRef text) const {
    return {text.str()};
  }
  /// "sentencepiece", "llama2c" or "bpe".
  virtual llvm::StringRef getKind() const = 0;

  void setSpecialIds(int64_t bosId, int64_t eosId) {
    bos = bosId;
    eos = eosId;
  }

protected:
  int64_t bos = -1, eos = -1;
};

/// The pre-tokenizer split patterns of byte-level BPE tokenizers.
enum class PreTokenizerPattern {
  /// GPT-2's ByteLevel(use_regex) pattern.
  GPT2,
  /// Llama-3's (case-insensitive contractions, numbers in groups of 3).
  Llama3,
  /// Qwen2's (as Llama-3's, with single digits).
  Qwen2,
};
/// The regex of `pattern`, exactly as tokenizer.json spells it.
llvm::StringRef getPreTokenizerPatternRegex(PreTokenizerPattern pattern);
/// Splits `text` as `tokenizers` does with `pattern` (Split, behavior
/// Isolated): the matches in order, with any unmatched stretch as a piece of
/// its own. Invalid UTF-8 bytes count as punctuation.
std::vector<llvm::StringRef> splitPreTokens(PreTokenizerPattern pattern,
                                            llvm::StringRef text);

/// Trains a SentencePiece BPE model (byte fallback, BOS 1, EOS 2, UNK 0) of
/// `vocabSize` pieces on `texts` (one sentence each) and writes it to
/// `modelPath` atomically. Deterministic for the same texts.
llvm::Error trainSentencePiece(llvm::ArrayRef<std::string> texts,
                               llvm::StringRef modelPath, int vocabSize);

/// A prompt rendered with a chat template.
struct ChatPrompt {
  /// Prepend the BOS id (templates that spell BOS as text, like Llama-3's
  /// `<|begin_of_text|>`, leave this false).
  bool addBos = true;
  std::string text;
  /// Extra end-of-turn tokens that end generation (`<|eot_id|>`).
  std::vector<std::string> stopTokens;
};

/// Built-in chat templates: "llama-2" (`[INST] <<SYS>> ... [/INST]`),
/// "llama-3" (header tokens), "chatml" (Qwen2) and "none" (the raw text).
llvm::Expected<ChatPrompt> applyChatTemplate(llvm::StringRef name,
                                             llvm::StringRef system,
                                             llvm::StringRef user);
/// The names above, for help texts and diagnostics.
llvm::StringRef getChatTemplateNames();

/// The token ids of one chat turn: `user` (and `system`) rendered by the
/// template `templateName` and encoded by `tokenizer`, with `bos` first
/// when the template wants it and `bos` >= 0.
llvm::Expected<std::vector<int64_t>>
encodeChatTurn(const Tokenizer &tokenizer, llvm::StringRef templateName,
               int64_t bos, llvm::StringRef system, llvm::StringRef user);
} // namespace qrealign

#endif // QREALIGN_TOKENIZER_TOKENIZER_H
