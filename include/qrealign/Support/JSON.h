//===- JSON.h - JSON input with depth, key and memory checks ----*- C++ -*-===//
//
// Rules 3 and 5 of docs/robustness.md. Every JSON document qrealign reads
// (config.json, shard indexes, tokenizer.json, prompt sets, keyword lists)
// goes through parseJSON, which scans the text once before llvm::json::parse
// sees it and rejects, with a "ORIGIN:LINE:COL:" location:
//
//  - nesting deeper than JSONLimits::maxDepth (llvm::json::parse recurses
//    once per level: 100k nested brackets overflow the stack);
//  - a key that appears twice in one object (llvm::json keeps the last one,
//    Python's json the last, other parsers the first or an error: the same
//    file must not mean two things);
//  - documents whose parsed form would exceed JSONLimits::maxMemory
//    (llvm::json::Object allocates 64 buckets, about 5.5 KB, for any
//    non-empty object, so 8 bytes of `{"a":1},` cost 700 times their size).
//
// JSONScanner is the tokenizer behind the scan, also used directly by
// parsers that read a large document without building llvm::json values
// (the safetensors header).
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_SUPPORT_JSON_H
#define QREALIGN_SUPPORT_JSON_H

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

#include <cstdint>
#include <string>

namespace qrealign {
struct JSONLimits {
  /// Deepest nesting of arrays and objects.
  unsigned maxDepth = 64;
  /// Largest file readJSONFile reads.
  uint64_t maxFileSize = uint64_t(64) << 20;
  /// Largest estimated size of the parsed llvm::json::Value.
  uint64_t maxMemory = uint64_t(1) << 30;
};

/// "LINE:COL" (1-based) of byte `offset` of `text`, with `firstLine` as the
/// number of the text's first line.
std::string formatJSONLocation(llvm::StringRef text, size_t offset,
                               unsigned firstLine = 1);

/// Checks `text` (depth, duplicate keys, estimated memory), then parses it.
/// Errors read "ORIGIN:LINE:COL: message"; `firstLine` numbers the first
/// line of `text` (JSON Lines pass the line they parse).
llvm::Expected<llvm::json::Value> parseJSON(llvm::StringRef text,
                                            llvm::StringRef origin,
                                            const JSONLimits &limits = {},
                                            unsigned firstLine = 1);

/// Reads the regular file `path` (at most limits.maxFileSize bytes) and
/// parses it with parseJSON. `what` names the file kind in the size error.
llvm::Expected<llvm::json::Value>
readJSONFile(llvm::StringRef path, const JSONLimits &limits = {},
             llvm::StringRef what = "a JSON file");

/// A pull tokenizer over JSON text: strings are decoded (escapes, surrogate
/// pairs), numbers are returned as text. It checks token syntax only; the
/// caller checks the grammar. Errors carry the location.
class JSONScanner {
public:
  enum class Kind {
    BeginObject,
    EndObject,
    BeginArray,
    EndArray,
    Colon,
    Comma,
    String,
    Number,
    True,
    False,
    Null,
    End
  };
  struct Token {
    Kind kind = Kind::End;
    /// Byte offset of the token in the text.
    size_t offset = 0;
    /// The decoded string (String) or the number's text (Number).
    std::string text;
  };

  JSONScanner(llvm::StringRef text, llvm::StringRef origin,
              unsigned firstLine = 1)
      : text(text), origin(origin.str()), firstLine(firstLine) {}

  /// The next token (Kind::End at the end of the text).
  llvm::Expected<Token> next();
  /// The next token, which must be of kind `kind` (`what` names it in the
  /// error, e.g. "':'").
  llvm::Expected<Token> expect(Kind kind, llvm::StringRef what);
  /// Reads an object, whose '{' comes next: for each member, reads the key
  /// and ':' and calls `member(key)`, which must read the value; then ','
  /// or '}'. Duplicate keys are the caller's to check.
  llvm::Error forEachMember(llvm::function_ref<llvm::Error(Token &key)> member);
  /// Reads an array, whose '[' comes next, calling `element()` to read each
  /// element.
  llvm::Error forEachElement(llvm::function_ref<llvm::Error()> element);
  /// Skips one whole value (scalar, array or object), at most `maxDepth`
  /// levels deep.
  llvm::Error skipValue(unsigned maxDepth);
  /// The next token's kind without consuming it.
  llvm::Expected<Kind> peek();

  /// "ORIGIN:LINE:COL: msg" for byte `offset`.
  llvm::Error error(size_t offset, const llvm::Twine &msg) const;
  size_t getOffset() const { return pos; }

  /// Parses a Number token's text as a non-negative or negative integer.
  static std::optional<int64_t> parseInteger(llvm::StringRef number);

private:
  void skipSpace();
  llvm::Error lexString(Token &tok);

  llvm::StringRef text;
  std::string origin;
  unsigned firstLine;
  size_t pos = 0;
  bool peeked = false;
  Token peekedToken;
};
} // namespace qrealign

#endif // QREALIGN_SUPPORT_JSON_H
