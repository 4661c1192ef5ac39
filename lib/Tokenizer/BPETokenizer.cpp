//===- BPETokenizer.cpp - Hugging Face tokenizer.json byte-level BPE ------===//
//
// The byte-level BPE of GPT-2, Llama-3 and Qwen2 as Hugging Face `tokenizers`
// runs it:
//
//  1. added tokens (`<|eot_id|>`, `<|im_start|>`, ...) are split out first,
//     the longest at each position (a byte trie over their contents: the
//     cost per position does not grow with their number), and map straight
//     to their ids;
//  2. the rest is cut into pre-tokens by the model's split pattern (one of
//     the three known patterns, matched by a hand-written scanner with the
//     regex's leftmost-first, greedy-with-backtracking semantics, and the
//     Unicode letter/number tables of UnicodeTables.inc);
//  3. each pre-token's bytes are mapped to GPT-2's printable byte alphabet
//     (`bytes_to_unicode`) and merged by merge rank, lowest first and leftmost
//     first among equals (a priority queue over a linked list of symbols, so
//     long pre-tokens stay O(n log n)). With `ignore_merges` (Llama-3) a
//     pre-token that is itself in the vocabulary is taken whole.
//
// Anything else (WordPiece, Unigram, Metaspace/byte-fallback tokenizer.json
// of SentencePiece models, unknown split patterns or normalizers) is rejected
// at load time with a diagnostic naming what is supported.
//
//===----------------------------------------------------------------------===//

#include "TokenizerImpl.h"
#include "qrealign/Support/InputFile.h"
#include "qrealign/Support/JSON.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/ConvertUTF.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <algorithm>
#include <mutex>
#include <queue>

using namespace llvm;

namespace qrealign {
namespace {
struct CodePointRange {
  uint32_t lo, hi;
};
#include "UnicodeTables.inc"

bool inRanges(ArrayRef<CodePointRange> ranges, uint32_t cp) {
  auto it = std::upper_bound(
      ranges.begin(), ranges.end(), cp,
      [](uint32_t c, const CodePointRange &r) { return c < r.lo; });
  return it != ranges.begin() && cp <= std::prev(it)->hi;
}

/// A code point that is not valid UTF-8 (a stray byte): neither a letter, a
/// number nor white space, so it lands in the "other" class.
constexpr uint32_t kInvalid = 0xFFFFFFFF;

bool isLetter(uint32_t cp) {
  if (cp < 0x80)
    return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
  return cp != kInvalid && inRanges(kLetterRanges, cp);
}
bool isNumber(uint32_t cp) {
  if (cp < 0x80)
    return cp >= '0' && cp <= '9';
  return cp != kInvalid && inRanges(kNumberRanges, cp);
}
/// Unicode White_Space, what `\s` matches in the regex engines of
/// `tokenizers` (Oniguruma) and Python's `regex`.
bool isSpace(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
         cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}
bool isNewline(uint32_t cp) { return cp == '\r' || cp == '\n'; }
bool isOther(uint32_t cp) {
  return !isSpace(cp) && !isLetter(cp) && !isNumber(cp);
}
uint32_t asciiLower(uint32_t cp) {
  return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
}

/// Decodes `text` into code points and the byte offset of each (plus one
/// past the end). Invalid bytes become single kInvalid code points.
void decodeUTF8(StringRef text, std::vector<uint32_t> &cps,
                std::vector<size_t> &offsets) {
  const auto *p = reinterpret_cast<const UTF8 *>(text.data());
  const UTF8 *end = p + text.size();
  while (p < end) {
    offsets.push_back(p - reinterpret_cast<const UTF8 *>(text.data()));
    const UTF8 *start = p;
    UTF32 cp;
    if (convertUTF8Sequence(&p, end, &cp, strictConversion) == conversionOK) {
      cps.push_back(cp);
    } else {
      p = start + 1;
      cps.push_back(kInvalid);
    }
  }
  offsets.push_back(text.size());
}

// The GPT-2 byte alphabet: printable bytes map to themselves, the others
// (controls, space, 0x7F-0xA0, 0xAD) to U+0100 onwards, in byte order.
struct ByteAlphabet {
  uint32_t toCodePoint[256];
  DenseMap<uint32_t, uint8_t> toByte;
  ByteAlphabet() {
    unsigned next = 256;
    for (unsigned b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) ||
                       (b >= 0xAE && b <= 0xFF);
      toCodePoint[b] = printable ? b : next++;
      toByte[toCodePoint[b]] = uint8_t(b);
    }
  }
};
const ByteAlphabet &byteAlphabet() {
  static const ByteAlphabet alphabet;
  return alphabet;
}

std::string encodeCodePoint(uint32_t cp) {
  char buf[UNI_MAX_UTF8_BYTES_PER_CODE_POINT];
  char *p = buf;
  ConvertCodePointToUTF8(cp, p);
  return std::string(buf, p);
}
} // namespace

//===----------------------------------------------------------------------===//
// Pre-tokenizer patterns
//===----------------------------------------------------------------------===//

StringRef getPreTokenizerPatternRegex(PreTokenizerPattern pattern) {
  switch (pattern) {
  case PreTokenizerPattern::GPT2:
    return R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
  case PreTokenizerPattern::Llama3:
    return R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  case PreTokenizerPattern::Qwen2:
    return R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  }
  llvm_unreachable("unknown pattern");
}

std::vector<StringRef> splitPreTokens(PreTokenizerPattern pattern,
                                      StringRef text) {
  std::vector<uint32_t> c;
  std::vector<size_t> off;
  decodeUTF8(text, c, off);
  size_t n = c.size();
  auto at = [&](size_t i) { return i < n ? c[i] : 0u; };
  bool gpt2 = pattern == PreTokenizerPattern::GPT2;
  size_t maxDigits = pattern == PreTokenizerPattern::Llama3 ? 3 : gpt2 ? n : 1;
  auto runWhile = [&](size_t j, auto pred) {
    while (j < n && pred(c[j]))
      ++j;
    return j;
  };

  // The end of the match at `i` (> i), or `i` when no alternative matches.
  auto matchAt = [&](size_t i) -> size_t {
    // Contractions: 's 't 'm 'd 're 've 'll (case-insensitive but GPT-2).
    if (c[i] == '\'' && i + 1 < n) {
      auto norm = [&](uint32_t cp) { return gpt2 ? cp : asciiLower(cp); };
      uint32_t a = norm(c[i + 1]), b = norm(at(i + 2));
      if (a == 's' || a == 't' || a == 'm' || a == 'd')
        return i + 2;
      if (i + 2 < n && ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') ||
                        (a == 'l' && b == 'l')))
        return i + 3;
    }
    if (gpt2) {
      // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`.
      for (auto pred : {isLetter, isNumber, isOther}) {
        size_t k = c[i] == ' ' && i + 1 < n && pred(c[i + 1]) ? i + 1 : i;
        if (pred(c[k]))
          return runWhile(k, pred);
      }
    } else {
      // `[^\r\n\p{L}\p{N}]?\p{L}+`.
      if (!isNewline(c[i]) && !isLetter(c[i]) && !isNumber(c[i]) && i + 1 < n &&
          isLetter(c[i + 1]))
        return runWhile(i + 1, isLetter);
      if (isLetter(c[i]))
        return runWhile(i, isLetter);
      // `\p{N}{1,3}` or `\p{N}`.
      if (isNumber(c[i])) {
        size_t j = i;
        while (j < n && j - i < maxDigits && isNumber(c[j]))
          ++j;
        return j;
      }
      // ` ?[^\s\p{L}\p{N}]+[\r\n]*`.
      size_t k = c[i] == ' ' && i + 1 < n && isOther(c[i + 1]) ? i + 1 : i;
      if (isOther(c[k]))
        return runWhile(runWhile(k, isOther), isNewline);
    }
    if (!isSpace(c[i]))
      return i;
    size_t j = runWhile(i, isSpace);
    // `\s*[\r\n]+`: up to and including the run's last newline.
    if (!gpt2)
      for (size_t m = j; m > i; --m)
        if (isNewline(c[m - 1]))
          return m;
    // `\s+(?!\S)`, then `\s+`.
    if (j == n || j - 1 == i)
      return j;
    return j - 1;
  };

  std::vector<StringRef> out;
  size_t gapStart = 0;
  for (size_t i = 0; i < n;) {
    size_t j = matchAt(i);
    if (j == i) {
      ++i; // Unmatched: kept in a gap piece, as Split(Isolated) does.
      continue;
    }
    if (gapStart < i)
      out.push_back(text.slice(off[gapStart], off[i]));
    out.push_back(text.slice(off[i], off[j]));
    i = gapStart = j;
  }
  if (gapStart < n)
    out.push_back(text.slice(off[gapStart], off[n]));
  return out;
}

//===----------------------------------------------------------------------===//
// The tokenizer
//===----------------------------------------------------------------------===//

namespace detail {
namespace {
class BPETokenizer : public Tokenizer {
public:
  PreTokenizerPattern pattern = PreTokenizerPattern::GPT2;
  bool addPrefixSpace = false;
  bool ignoreMerges = false;
  StringMap<int64_t> vocab;
  std::vector<std::string> pieces; // id -> piece ("" where unused)
  int64_t byteIds[256];
  /// (left id, right id) -> (rank, merged id).
  DenseMap<std::pair<int64_t, int64_t>, std::pair<int64_t, int64_t>> merges;
  struct Added {
    std::string content;
    int64_t id;
    bool special;
  };
  std::vector<Added> added; // longest content first
  DenseMap<int64_t, size_t> addedById;

  void encodePreToken(StringRef word, std::vector<int64_t> &out) const {
    const ByteAlphabet &alphabet = byteAlphabet();
    if (ignoreMerges) {
      std::string mapped;
      for (unsigned char b : word)
        mapped += encodeCodePoint(alphabet.toCodePoint[b]);
      if (auto it = vocab.find(mapped); it != vocab.end()) {
        out.push_back(it->second);
        return;
      }
    }
    struct Symbol {
      int64_t id;
      int prev, next;
      bool live;
    };
    std::vector<Symbol> syms;
    for (auto [i, b] : llvm::enumerate(word))
      syms.push_back({byteIds[uint8_t(b)], int(i) - 1,
                      i + 1 < word.size() ? int(i) + 1 : -1, true});
    // (rank, position, merged id): the lowest rank first, then leftmost.
    using Entry = std::tuple<int64_t, int, int64_t>;
    std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> queue;
    auto push = [&](int pos) {
      if (pos < 0 || syms[pos].next < 0)
        return;
      auto it = merges.find({syms[pos].id, syms[syms[pos].next].id});
      if (it != merges.end())
        queue.emplace(it->second.first, pos, it->second.second);
    };
    for (int i = 0; i + 1 < int(syms.size()); ++i)
      push(i);
    while (!queue.empty()) {
      auto [rank, pos, mergedId] = queue.top();
      queue.pop();
      Symbol &s = syms[pos];
      if (!s.live || s.next < 0)
        continue;
      auto it = merges.find({s.id, syms[s.next].id});
      if (it == merges.end() || it->second.first != rank)
        continue; // Stale: one side has been merged since.
      Symbol &right = syms[s.next];
      right.live = false;
      s.id = mergedId;
      s.next = right.next;
      if (s.next >= 0)
        syms[s.next].prev = pos;
      push(s.prev);
      push(pos);
    }
    for (int i = syms.empty() ? -1 : 0; i >= 0; i = syms[i].next)
      out.push_back(syms[i].id);
  }

  /// A byte trie over the added tokens' contents, built on first use: the
  /// longest added token at a position in O(its length), where trying each
  /// token in turn was O(number of added tokens) per position.
  struct AddedTrie {
    /// The child of the root (node 0) for each first byte, 0 for none.
    uint32_t rootChild[256] = {};
    /// (node << 8 | byte) -> child, below the first byte.
    DenseMap<uint64_t, uint32_t> children;
    /// Node -> the index in `added` of the token ending there, or -1.
    std::vector<int32_t> tokenAt{-1};
  };
  mutable AddedTrie addedTrie;
  mutable std::once_flag addedTrieBuilt;

  const AddedTrie &getAddedTrie() const {
    std::call_once(addedTrieBuilt, [&] {
      AddedTrie &trie = addedTrie;
      for (auto [i, a] : llvm::enumerate(added)) {
        uint32_t node = 0;
        for (unsigned char b : a.content) {
          uint32_t next = uint32_t(trie.tokenAt.size());
          if (node == 0) {
            if (!trie.rootChild[b])
              trie.rootChild[b] = next;
            node = trie.rootChild[b];
          } else {
            node = trie.children.try_emplace(uint64_t(node) << 8 | b, next)
                       .first->second;
          }
          if (node == next)
            trie.tokenAt.push_back(-1);
        }
        // `added` is longest first, stable: of equal contents the first
        // listed wins, as when the tokens were tried in that order.
        if (trie.tokenAt[node] < 0)
          trie.tokenAt[node] = int32_t(i);
      }
    });
    return addedTrie;
  }

  /// The longest added token that `text` starts with, or null.
  const Added *matchAdded(StringRef text) const {
    if (added.empty() || text.empty())
      return nullptr;
    const AddedTrie &trie = getAddedTrie();
    uint32_t node = trie.rootChild[uint8_t(text[0])];
    if (!node)
      return nullptr;
    const Added *hit = nullptr;
    for (size_t k = 1;; ++k) {
      if (trie.tokenAt[node] >= 0)
        hit = &added[trie.tokenAt[node]];
      if (k == text.size())
        break;
      auto it = trie.children.find(uint64_t(node) << 8 | uint8_t(text[k]));
      if (it == trie.children.end())
        break;
      node = it->second;
    }
    return hit;
  }

  /// Calls `onText` for each stretch between added tokens and `onAdded` for
  /// each added token, in order (after the ByteLevel prefix space). At each
  /// position the longest added token starting there is taken.
  template <typename TextFn, typename AddedFn>
  void forEachSegment(StringRef text, TextFn onText, AddedFn onAdded) const {
    std::string prefixed;
    if (addPrefixSpace && !text.empty() && text.front() != ' ') {
      prefixed = (" " + text).str();
      text = prefixed;
    }
    size_t start = 0;
    for (size_t i = 0; i < text.size();) {
      const Added *hit = matchAdded(text.substr(i));
      if (!hit) {
        ++i;
        continue;
      }
      if (start < i)
        onText(text.slice(start, i));
      onAdded(*hit);
      i = start = i + hit->content.size();
    }
    if (start < text.size())
      onText(text.substr(start));
  }

  std::vector<int64_t> encode(StringRef text) const override {
    std::vector<int64_t> out;
    forEachSegment(
        text,
        [&](StringRef t) {
          for (StringRef word : splitPreTokens(pattern, t))
            encodePreToken(word, out);
        },
        [&](const Added &a) { out.push_back(a.id); });
    return out;
  }

  std::string decode(ArrayRef<int64_t> ids) const override {
    const ByteAlphabet &alphabet = byteAlphabet();
    std::string out;
    for (int64_t id : ids) {
      if (auto it = addedById.find(id); it != addedById.end()) {
        if (!added[it->second].special)
          out += added[it->second].content;
        continue;
      }
      if (id < 0 || id >= int64_t(pieces.size()))
        continue;
      std::vector<uint32_t> cps;
      std::vector<size_t> offs;
      decodeUTF8(pieces[id], cps, offs);
      for (auto [k, cp] : llvm::enumerate(cps)) {
        auto b = alphabet.toByte.find(cp);
        if (b != alphabet.toByte.end())
          out.push_back(char(b->second));
        else
          out += StringRef(pieces[id]).slice(offs[k], offs[k + 1]);
      }
    }
    return out;
  }

  int64_t getVocabSize() const override { return pieces.size(); }
  std::optional<int64_t> lookup(StringRef piece) const override {
    for (const Added &a : added)
      if (a.content == piece)
        return a.id;
    auto it = vocab.find(piece);
    if (it == vocab.end())
      return std::nullopt;
    return it->second;
  }
  std::optional<std::string> getPiece(int64_t id) const override {
    if (auto it = addedById.find(id); it != addedById.end())
      return added[it->second].content;
    if (id < 0 || id >= int64_t(pieces.size()) || pieces[id].empty())
      return std::nullopt;
    return pieces[id];
  }
  std::vector<std::string> preTokenize(StringRef text) const override {
    std::vector<std::string> out;
    forEachSegment(
        text,
        [&](StringRef t) {
          for (StringRef w : splitPreTokens(pattern, t))
            out.push_back(w.str());
        },
        [&](const Added &a) { out.push_back(a.content); });
    return out;
  }
  StringRef getKind() const override { return "bpe"; }
};

/// `"a b"` or `["a", "b"]`.
std::optional<std::pair<std::string, std::string>>
parseMerge(const json::Value &v) {
  if (std::optional<StringRef> s = v.getAsString()) {
    auto [a, b] = s->split(' ');
    if (a.empty() || b.empty() || b.contains(' '))
      return std::nullopt;
    return std::make_pair(a.str(), b.str());
  }
  if (const json::Array *arr = v.getAsArray())
    if (arr->size() == 2 && (*arr)[0].getAsString() && (*arr)[1].getAsString())
      return std::make_pair((*arr)[0].getAsString()->str(),
                            (*arr)[1].getAsString()->str());
  return std::nullopt;
}

/// `"<s>"` or `{"content": "<s>", ...}` (tokenizer_config.json).
std::optional<StringRef> getTokenContent(const json::Value *v) {
  if (!v)
    return std::nullopt;
  if (std::optional<StringRef> s = v->getAsString())
    return s;
  if (const json::Object *o = v->getAsObject())
    return o->getString("content");
  return std::nullopt;
}
} // namespace

/// tokenizer.json files: real ones are up to a few tens of MB, 4 levels
/// deep (the pre-tokenizer sequences).
static JSONLimits getTokenizerJSONLimits() {
  JSONLimits limits;
  limits.maxDepth = 32;
  limits.maxFileSize = uint64_t(256) << 20;
  return limits;
}

Expected<std::unique_ptr<Tokenizer>> loadHFTokenizer(StringRef path) {
  Expected<std::unique_ptr<MemoryBuffer>> buf = readRegularFile(
      path, getTokenizerJSONLimits().maxFileSize, "a tokenizer.json");
  if (!buf)
    return buf.takeError();
  return loadHFTokenizerText((*buf)->getBuffer(), path, /*readConfig=*/true);
}

Expected<std::unique_ptr<Tokenizer>>
loadHFTokenizerText(StringRef text, StringRef path, bool readConfig) {
  auto fail = [&](const Twine &msg) {
    return createStringError(inconvertibleErrorCode(), path + ": " + msg);
  };
  Expected<json::Value> root = parseJSON(text, path, getTokenizerJSONLimits());
  if (!root)
    return root.takeError();
  const json::Object *top = root->getAsObject();
  if (!top)
    return fail("not a tokenizer.json (the top level is not an object)");
  const json::Object *model = top->getObject("model");
  if (!model)
    return fail("not a tokenizer.json (no \"model\" object)");
  std::optional<StringRef> type = model->getString("type");
  if (!type || *type != "BPE")
    return fail("model type '" + (type ? *type : "(none)") +
                "' is not supported (supported: byte-level BPE as in GPT-2, "
                "Llama-3 and Qwen2)");
  if (model->getBoolean("byte_fallback").value_or(false))
    return fail("byte_fallback BPE (a SentencePiece model converted to "
                "tokenizer.json) is not supported: use its tokenizer.model");

  auto tok = std::make_unique<BPETokenizer>();
  tok->ignoreMerges = model->getBoolean("ignore_merges").value_or(false);

  // Normalizer: none, or NFC (Qwen2).
  if (const json::Value *norm = top->get("normalizer");
      norm && norm->kind() != json::Value::Null) {
    const json::Object *o = norm->getAsObject();
    std::optional<StringRef> t = o ? o->getString("type") : std::nullopt;
    if (!t || *t != "NFC")
      return fail("normalizer '" + (t ? *t : "?") +
                  "' is not supported (supported: none, NFC)");
    // NFC: text is taken as already composed (ASCII and precomposed text
    // are); see docs/tokenizers.md.
  }

  // Pre-tokenizer: ByteLevel(use_regex) alone, or Split(known pattern)
  // followed by ByteLevel(use_regex=false).
  const json::Object *pre = top->getObject("pre_tokenizer");
  if (!pre)
    return fail("no pre_tokenizer: only byte-level BPE is supported");
  std::vector<const json::Object *> steps;
  if (pre->getString("type") == "Sequence") {
    const json::Array *list = pre->getArray("pretokenizers");
    if (!list)
      return fail("pre_tokenizer Sequence without \"pretokenizers\"");
    for (const json::Value &v : *list)
      if (const json::Object *o = v.getAsObject())
        steps.push_back(o);
      else
        return fail("pre_tokenizer Sequence holds a non-object");
  } else {
    steps.push_back(pre);
  }
  bool sawByteLevel = false, sawSplit = false;
  for (const json::Object *step : steps) {
    std::optional<StringRef> t = step->getString("type");
    if (t == "ByteLevel" && !sawByteLevel) {
      sawByteLevel = true;
      tok->addPrefixSpace =
          step->getBoolean("add_prefix_space").value_or(false);
      bool useRegex = step->getBoolean("use_regex").value_or(true);
      if (useRegex == sawSplit)
        return fail("pre_tokenizer: ByteLevel must split with its own regex "
                    "(use_regex) exactly when no Split precedes it");
      continue;
    }
    if (t == "Split" && !sawSplit && !sawByteLevel) {
      sawSplit = true;
      const json::Object *pat = step->getObject("pattern");
      std::optional<StringRef> regex =
          pat ? pat->getString("Regex") : std::nullopt;
      if (step->getString("behavior") != "Isolated" ||
          step->getBoolean("invert").value_or(false) || !regex)
        return fail("pre_tokenizer Split must be a non-inverted Regex with "
                    "behavior Isolated");
      bool known = false;
      for (PreTokenizerPattern p :
           {PreTokenizerPattern::GPT2, PreTokenizerPattern::Llama3,
            PreTokenizerPattern::Qwen2})
        if (*regex == getPreTokenizerPatternRegex(p)) {
          tok->pattern = p;
          known = true;
        }
      if (!known)
        return fail("pre_tokenizer Split pattern '" + *regex +
                    "' is not one of the supported ones (GPT-2, Llama-3, "
                    "Qwen2)");
      continue;
    }
    return fail("pre_tokenizer step '" + (t ? *t : "?") +
                "' is not supported (supported: ByteLevel, or Split then "
                "ByteLevel)");
  }
  if (!sawByteLevel)
    return fail("pre_tokenizer has no ByteLevel step: only byte-level BPE "
                "is supported");

  // Vocabulary.
  const json::Object *vocab = model->getObject("vocab");
  if (!vocab)
    return fail("model has no \"vocab\" object");
  for (const auto &[key, value] : *vocab) {
    std::optional<int64_t> id = value.getAsInteger();
    if (!id || *id < 0 || *id >= (int64_t(1) << 24))
      return fail("vocab entry '" + key.str() +
                  "' has no valid id (an integer in [0, 2^24))");
    if (!tok->vocab.try_emplace(key.str(), *id).second)
      return fail("vocab entry '" + key.str() + "' appears twice");
    if (size_t(*id) >= tok->pieces.size())
      tok->pieces.resize(*id + 1);
    if (!tok->pieces[*id].empty())
      return fail(formatv("vocab id {0} is used by '{1}' and '{2}'", *id,
                          tok->pieces[*id], key.str()));
    tok->pieces[*id] = key.str();
  }
  const ByteAlphabet &alphabet = byteAlphabet();
  for (unsigned b = 0; b < 256; ++b) {
    std::string piece = encodeCodePoint(alphabet.toCodePoint[b]);
    auto it = tok->vocab.find(piece);
    if (it == tok->vocab.end())
      return fail(formatv("vocab lacks the byte-level piece of byte 0x{0:X-2} "
                          "('{1}'): not a byte-level BPE vocabulary",
                          b, piece));
    tok->byteIds[b] = it->second;
  }

  // Merges, in rank order.
  const json::Array *merges = model->getArray("merges");
  if (!merges)
    return fail("model has no \"merges\" array");
  for (auto [rank, m] : llvm::enumerate(*merges)) {
    auto pair = parseMerge(m);
    if (!pair)
      return fail(
          formatv("merge {0} is neither \"a b\" nor [\"a\", \"b\"]", rank));
    auto a = tok->vocab.find(pair->first), b = tok->vocab.find(pair->second),
         ab = tok->vocab.find(pair->first + pair->second);
    if (a == tok->vocab.end() || b == tok->vocab.end() ||
        ab == tok->vocab.end())
      return fail(formatv("merge {0} ('{1}' '{2}') names a piece missing "
                          "from the vocab",
                          rank, pair->first, pair->second));
    // The first (lowest-rank) spelling of a pair wins, as in tokenizers.
    tok->merges.try_emplace({a->second, b->second},
                            std::make_pair(int64_t(rank), ab->second));
  }

  // Added tokens.
  if (const json::Value *addedValue = top->get("added_tokens");
      addedValue && addedValue->kind() != json::Value::Null) {
    const json::Array *list = addedValue->getAsArray();
    if (!list)
      return fail("\"added_tokens\" is not an array");
    for (auto [i, v] : llvm::enumerate(*list)) {
      const json::Object *o = v.getAsObject();
      std::optional<int64_t> id = o ? o->getInteger("id") : std::nullopt;
      std::optional<StringRef> content =
          o ? o->getString("content") : std::nullopt;
      if (!id || !content || content->empty() || *id < 0 ||
          *id >= (int64_t(1) << 24))
        return fail(formatv("added_tokens[{0}] needs an \"id\" in [0, 2^24) "
                            "and a non-empty \"content\"",
                            i));
      tok->added.push_back(
          {content->str(), *id, o->getBoolean("special").value_or(false)});
      if (size_t(*id) >= tok->pieces.size())
        tok->pieces.resize(*id + 1);
    }
    std::stable_sort(
        tok->added.begin(), tok->added.end(),
        [](const BPETokenizer::Added &x, const BPETokenizer::Added &y) {
          return x.content.size() > y.content.size();
        });
    for (auto [i, a] : llvm::enumerate(tok->added))
      tok->addedById.try_emplace(a.id, i);
  }

  // BOS/EOS: tokenizer_config.json beside the file, else the usual names.
  int64_t bos = -1, eos = -1;
  SmallString<256> cfgPath(sys::path::parent_path(path));
  sys::path::append(cfgPath, "tokenizer_config.json");
  if (readConfig && sys::fs::exists(cfgPath)) {
    JSONLimits limits = getTokenizerJSONLimits();
    limits.maxFileSize = uint64_t(16) << 20;
    Expected<json::Value> cfg =
        readJSONFile(cfgPath, limits, "a tokenizer_config.json");
    if (!cfg)
      return cfg.takeError();
    if (const json::Object *o = cfg->getAsObject()) {
      if (auto s = getTokenContent(o->get("bos_token")))
        bos = tok->lookup(*s).value_or(-1);
      if (auto s = getTokenContent(o->get("eos_token")))
        eos = tok->lookup(*s).value_or(-1);
    }
  }
  if (bos < 0)
    for (StringRef name : {"<|begin_of_text|>", "<s>", "<|startoftext|>"})
      if (std::optional<int64_t> id = tok->lookup(name); id && bos < 0)
        bos = *id;
  if (eos < 0)
    for (StringRef name :
         {"<|end_of_text|>", "<|endoftext|>", "</s>", "<|im_end|>"})
      if (std::optional<int64_t> id = tok->lookup(name); id && eos < 0)
        eos = *id;
  tok->setSpecialIds(bos, eos);
  return std::unique_ptr<Tokenizer>(std::move(tok));
}
} // namespace detail
} // namespace qrealign
