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
#include "qrealign/Support/InputFile.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cstring>
#include <queue>

using namespace llvm;

namespace qrealign::detail {
namespace {
class Llama2CTokenizer : public Tokenizer {
public:
  std::vector<std::string> pieces;
  std::vector<float> scores;
  StringMap<int64_t> ids;

  /// Merges `syms` as run.c does: repeatedly the adjacent pair whose
  /// concatenation is the best-scored piece (strictly above -1e10), the
  /// leftmost among equal scores. A max-heap of candidate pairs keyed on
  /// (score descending, position ascending) over a doubly linked list of
  /// symbols makes this O(n log n) instead of run.c's O(n^2); an entry is
  /// stale, and skipped, once either of its symbols has changed.
  void mergePairs(std::vector<int64_t> &syms) const {
    if (syms.size() < 2)
      return;
    struct Symbol {
      int64_t id;
      int64_t prev, next; // -1 at the ends
    };
    std::vector<Symbol> list(syms.size());
    for (size_t i = 0; i < syms.size(); ++i)
      list[i] = {syms[i], int64_t(i) - 1,
                 i + 1 < syms.size() ? int64_t(i) + 1 : -1};
    struct Candidate {
      float score;
      int64_t left, right;     // positions in `list`
      int64_t leftId, rightId; // their ids when pushed
      int64_t mergedId;
    };
    // std::priority_queue pops the greatest: the higher score, then the
    // lower (leftmost) position.
    auto lower = [](const Candidate &a, const Candidate &b) {
      if (a.score != b.score)
        return a.score < b.score;
      return a.left > b.left;
    };
    std::priority_queue<Candidate, std::vector<Candidate>, decltype(lower)>
        queue(lower);
    std::string merged;
    auto push = [&](int64_t left) {
      if (left < 0 || list[left].next < 0)
        return;
      int64_t right = list[left].next;
      merged = pieces[list[left].id];
      merged += pieces[list[right].id];
      auto it = ids.find(merged);
      // run.c starts its search at -1e10 and takes a pair only if its
      // score is greater (so never a NaN score).
      if (it == ids.end() || !(scores[it->second] > -1e10f))
        return;
      queue.push({scores[it->second], left, right, list[left].id,
                  list[right].id, it->second});
    };
    for (int64_t i = 0; i + 1 < int64_t(list.size()); ++i)
      push(i);
    while (!queue.empty()) {
      Candidate c = queue.top();
      queue.pop();
      Symbol &left = list[c.left];
      // Merged symbols are unlinked (their left neighbour skips them), so a
      // left symbol still pointing at the same right one, both with the
      // ids of the push, is the same live pair.
      if (left.next != c.right || left.id != c.leftId ||
          list[c.right].id != c.rightId)
        continue;
      Symbol &right = list[c.right];
      left.id = c.mergedId;
      left.next = right.next;
      if (right.next >= 0)
        list[right.next].prev = c.left;
      right.prev = right.next = -1;
      right.id = -1; // dead: no live symbol points at it any more
      push(left.prev);
      push(c.left);
    }
    syms.clear();
    for (int64_t i = 0; i >= 0; i = list[i].next)
      syms.push_back(list[i].id);
  }

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
    mergePairs(out);
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
  Expected<std::unique_ptr<MemoryBuffer>> buf =
      readRegularFile(path, uint64_t(256) << 20, "a llama2.c tokenizer");
  if (!buf)
    return buf.takeError();
  return loadLlama2CTokenizerData((*buf)->getBuffer(), path);
}

Expected<std::unique_ptr<Tokenizer>> loadLlama2CTokenizerData(StringRef data,
                                                              StringRef path) {
  auto fail = [&](const Twine &msg) {
    return createStringError(inconvertibleErrorCode(), path + ": " + msg);
  };
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
