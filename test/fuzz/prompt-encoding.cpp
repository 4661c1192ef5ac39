//===- prompt-encoding.cpp - Fuzz prompt encoding -------------------------===//
//
// Input: a prompt (any bytes). It is encoded with two well-formed
// tokenizers built here: a byte-level BPE tokenizer.json (GPT-2's byte
// alphabet, a few merges, the Llama-3 split pattern, two added tokens) and
// a llama2.c vocabulary (three specials, 256 byte pieces, a few scored
// merges). Both are lossless: decoding the ids must give the prompt back
// (for BPE, unless the prompt spells a special added token, which decodes
// to nothing).
//
//===----------------------------------------------------------------------===//

#include "qrealign/Tokenizer/Tokenizer.h"

#include "llvm/Support/ConvertUTF.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>
#include <cstring>

using namespace qrealign;

namespace {
/// GPT-2's bytes_to_unicode: printable bytes stand for themselves, the
/// others for U+0100 onwards.
std::string byteLevelPiece(unsigned byte) {
  static uint32_t table[256];
  static bool init = false;
  if (!init) {
    unsigned next = 256;
    for (unsigned b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) ||
                       (b >= 0xAE && b <= 0xFF);
      table[b] = printable ? b : next++;
    }
    init = true;
  }
  char buf[4];
  char *p = buf;
  llvm::ConvertCodePointToUTF8(table[byte], p);
  return std::string(buf, p);
}

std::unique_ptr<Tokenizer> makeBPE() {
  llvm::json::Object vocab;
  for (unsigned b = 0; b < 256; ++b)
    vocab[byteLevelPiece(b)] = int64_t(b);
  std::string sp = byteLevelPiece(' ');
  // Each merge joins pieces that exist: bytes or earlier merges.
  std::vector<std::pair<std::string, std::string>> merges = {
      {"t", "h"},       {"h", "e"},  {sp, "t"},  {"th", "e"},
      {sp + "t", "he"}, {"i", "n"},  {"e", "r"}, {sp, "a"},
      {"1", "2"},       {"12", "3"}, {"o", "n"}, {"a", "a"}};
  llvm::json::Array mergeList;
  int64_t next = 256;
  for (auto &[a, b] : merges) {
    vocab[a + b] = next++;
    mergeList.push_back(a + " " + b);
  }
  llvm::json::Object doc{
      {"version", "1.0"},
      {"added_tokens",
       llvm::json::Array{llvm::json::Object{{"id", next},
                                            {"content", "<|eot_id|>"},
                                            {"special", true}},
                         llvm::json::Object{{"id", next + 1},
                                            {"content", "<|extra|>"},
                                            {"special", false}}}},
      {"normalizer", nullptr},
      {"pre_tokenizer",
       llvm::json::Object{
           {"type", "Sequence"},
           {"pretokenizers",
            llvm::json::Array{
                llvm::json::Object{
                    {"type", "Split"},
                    {"pattern",
                     llvm::json::Object{
                         {"Regex", getPreTokenizerPatternRegex(
                                       PreTokenizerPattern::Llama3)}}},
                    {"behavior", "Isolated"},
                    {"invert", false}},
                llvm::json::Object{{"type", "ByteLevel"},
                                   {"add_prefix_space", false},
                                   {"trim_offsets", true},
                                   {"use_regex", false}}}}}},
      {"decoder", llvm::json::Object{{"type", "ByteLevel"}}},
      {"model", llvm::json::Object{{"type", "BPE"},
                                   {"vocab", std::move(vocab)},
                                   {"merges", std::move(mergeList)}}}};
  std::string text;
  llvm::raw_string_ostream(text) << llvm::json::Value(std::move(doc));
  auto tok = Tokenizer::loadFromBuffer("json", text, "bpe.json");
  if (!tok) {
    llvm::errs() << llvm::toString(tok.takeError()) << "\n";
    abort();
  }
  return std::move(*tok);
}

std::unique_ptr<Tokenizer> makeLlama2C() {
  std::string out;
  auto u32 = [&](uint32_t v) {
    char b[4];
    llvm::support::endian::write32le(b, v);
    out.append(b, 4);
  };
  auto piece = [&](llvm::StringRef text, float score) {
    uint32_t bits;
    std::memcpy(&bits, &score, 4);
    u32(bits);
    u32(text.size());
    out += text.str();
  };
  u32(16); // max_token_length
  piece("<unk>", 0);
  piece("<s>", 0);
  piece("</s>", 0);
  for (unsigned b = 0; b < 256; ++b) {
    char name[8];
    snprintf(name, sizeof(name), "<0x%02X>", b);
    piece(name, 0);
  }
  // Single characters (the code points llama2.c looks up first) and merges,
  // with scores so that ties and order matter.
  const char *pieces[] = {" ",        "a",   "b",  "c",   "t",  "h",    "e",
                          "\xC3\xA9", "th",  "he", "the", " t", " the", "ab",
                          "bc",       "abc", "aa", "aaa", "  "};
  float score = -1;
  for (const char *p : pieces)
    piece(p, score -= 0.5f * (strlen(p) == 1 ? 10 : 1));
  auto tok = Tokenizer::loadFromBuffer("llama2c", out, "tok.bin");
  if (!tok) {
    llvm::errs() << llvm::toString(tok.takeError()) << "\n";
    abort();
  }
  return std::move(*tok);
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static std::unique_ptr<Tokenizer> bpe = makeBPE();
  static std::unique_ptr<Tokenizer> l2c = makeLlama2C();
  llvm::StringRef prompt(reinterpret_cast<const char *>(data), size);

  std::vector<int64_t> ids = bpe->encode(prompt);
  for (int64_t id : ids)
    if (!bpe->getPiece(id))
      abort();
  if (!prompt.contains("<|eot_id|>") && bpe->decode(ids) != prompt)
    abort(); // byte-level BPE lost or changed text
  (void)bpe->preTokenize(prompt);

  ids = l2c->encode(prompt);
  for (int64_t id : ids)
    if (id < 3 || id >= l2c->getVocabSize())
      abort();
  if (l2c->decode(ids) != prompt)
    abort(); // byte fallback makes llama2.c encoding lossless too
  return 0;
}
