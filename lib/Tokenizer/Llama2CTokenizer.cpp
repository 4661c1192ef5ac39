//===- Llama2CTokenizer.cpp - llama2.c tok*.bin ---------------------------===//
//
// Format: int32 max_token_length, then per id: float32 score, int32 length,
// `length` bytes. Encoding follows llama2.c's run.c: a dummy-prefix space,
// one piece per UTF-8 code point (byte fallback <0xXX> = byte + 3), then
// repeatedly merge the adjacent pair whose concatenation is the best-scored
// piece.
//
//===----------------------------------------------------------------------===//

#include "TokenizerImpl.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cstring>

using namespace llvm;

namespace qrealign::detail {
namespace {
class Llama2CTokenizer : public Tokenizer {
public:
  std::vector<std::string> pieces;
  std::vector<float> scores;
  StringMap<int64_t> ids;

  std::vector<int64_t> encode(StringRef text) const override {
    std::vector<int64_t> out;
    if (text.empty())
      return out;
    if (std::optional<int64_t> space = lookup(" "))
      out.push_back(*space);
    for (size_t i = 0; i < text.size();) {
      // One UTF-8 code point (continuation bytes are 10xxxxxx, at most 3).
      size_t j = i + 1;
      while (j < text.size() && j - i < 4 && (uint8_t(text[j]) & 0xC0) == 0x80)
        ++j;
      StringRef cp = text.slice(i, j);
      if (std::optional<int64_t> id = lookup(cp))
        out.push_back(*id);
      else
        for (char c : cp)
          out.push_back(int64_t(uint8_t(c)) + 3);
      i = j;
    }
    while (true) {
      float best = -1e10f;
      int64_t bestId = -1;
      size_t bestIdx = 0;
      for (size_t i = 0; i + 1 < out.size(); ++i) {
        std::string merged = pieces[out[i]] + pieces[out[i + 1]];
        auto it = ids.find(merged);
        if (it != ids.end() && scores[it->second] > best) {
          best = scores[it->second];
          bestId = it->second;
          bestIdx = i;
        }
      }
      if (bestId < 0)
        break;
      out[bestIdx] = bestId;
      out.erase(out.begin() + bestIdx + 1);
    }
    return out;
  }

  std::string decode(ArrayRef<int64_t> tokens) const override {
    std::string out;
    int64_t prev = bos;
    for (int64_t t : tokens) {
      if (t < 0 || t >= int64_t(pieces.size()) || t == bos || t == eos) {
        prev = t;
        continue;
      }
      StringRef piece = pieces[t];
      if (prev == bos && piece.starts_with(" "))
        piece = piece.drop_front();
      unsigned byte;
      if (piece.size() == 6 && piece.starts_with("<0x") &&
          piece.ends_with(">") && !piece.substr(3, 2).getAsInteger(16, byte))
        out.push_back(char(byte));
      else
        out += piece;
      prev = t;
    }
    return out;
  }

  int64_t getVocabSize() const override { return pieces.size(); }
  std::optional<int64_t> lookup(StringRef piece) const override {
    auto it = ids.find(piece);
    if (it == ids.end())
      return std::nullopt;
    return it->second;
  }
  std::optional<std::string> getPiece(int64_t id) const override {
    if (id < 0 || id >= int64_t(pieces.size()))
      return std::nullopt;
    return pieces[id];
  }
  StringRef getKind() const override { return "llama2c"; }
};
} // namespace

Expected<std::unique_ptr<Tokenizer>> loadLlama2CTokenizer(StringRef path) {
  auto fail = [&](const Twine &msg) {
    return createStringError(inconvertibleErrorCode(), path + ": " + msg);
  };
  ErrorOr<std::unique_ptr<MemoryBuffer>> buf =
      MemoryBuffer::getFile(path, /*IsText=*/false,
                            /*RequiresNullTerminator=*/false);
  if (!buf)
    return fail("cannot open: " + buf.getError().message());
  StringRef data = (*buf)->getBuffer();
  if (data.size() < 4)
    return fail("truncated: no max_token_length header");
  int32_t maxLen = int32_t(support::endian::read32le(data.data()));
  if (maxLen <= 0 || maxLen > (1 << 16))
    return fail(formatv("implausible max_token_length {0}", maxLen));
  auto tok = std::make_unique<Llama2CTokenizer>();
  size_t off = 4;
  while (off < data.size()) {
    size_t id = tok->pieces.size();
    if (data.size() - off < 8)
      return fail(
          formatv("truncated in the entry of id {0} at byte {1}", id, off));
    float score;
    uint32_t bits = support::endian::read32le(data.data() + off);
    std::memcpy(&score, &bits, 4);
    int32_t len = int32_t(support::endian::read32le(data.data() + off + 4));
    off += 8;
    if (len < 0 || len > maxLen)
      return fail(formatv("piece {0} has length {1} (max_token_length {2})", id,
                          len, maxLen));
    if (data.size() - off < size_t(len))
      return fail(formatv("truncated in the piece of id {0}", id));
    std::string piece = data.substr(off, len).str();
    off += len;
    tok->ids.try_emplace(piece, int64_t(id));
    tok->pieces.push_back(std::move(piece));
    tok->scores.push_back(score);
  }
  if (tok->pieces.size() < 3 + 256)
    return fail(formatv("only {0} pieces; a llama2.c vocabulary has <unk>, "
                        "<s>, </s> and 256 byte pieces at least",
                        tok->pieces.size()));
  tok->setSpecialIds(1, 2);
  return std::unique_ptr<Tokenizer>(std::move(tok));
}
} // namespace qrealign::detail
