//===- JSON.cpp - JSON input with depth, key and memory checks ------------===//

#include "qrealign/Support/JSON.h"
#include "qrealign/Support/InputFile.h"
#include "qrealign/Support/Limits.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/ConvertUTF.h"
#include "llvm/Support/FormatVariadic.h"

using namespace llvm;

namespace qrealign {
std::string formatJSONLocation(StringRef text, size_t offset,
                               unsigned firstLine) {
  offset = std::min(offset, text.size());
  StringRef before = text.take_front(offset);
  unsigned line = firstLine + before.count('\n');
  size_t lineStart = before.rfind('\n');
  size_t col = lineStart == StringRef::npos ? offset + 1 : offset - lineStart;
  return formatv("{0}:{1}", line, col).str();
}

Error JSONScanner::error(size_t offset, const Twine &msg) const {
  return createStringError(
      inconvertibleErrorCode(),
      origin + ":" + formatJSONLocation(text, offset, firstLine) + ": " + msg);
}

void JSONScanner::skipSpace() {
  while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t' ||
                               text[pos] == '\n' || text[pos] == '\r'))
    ++pos;
}

static void appendUTF8(std::string &out, uint32_t cp) {
  char buf[4];
  char *p = buf;
  if (!ConvertCodePointToUTF8(cp, p)) {
    cp = 0xFFFD;
    p = buf;
    ConvertCodePointToUTF8(cp, p);
  }
  out.append(buf, p - buf);
}

Error JSONScanner::lexString(Token &tok) {
  size_t start = pos++; // the opening quote
  std::string &out = tok.text;
  auto hex4 = [&](size_t at) -> std::optional<uint32_t> {
    if (at + 4 > text.size())
      return std::nullopt;
    uint32_t v = 0;
    for (size_t i = at; i < at + 4; ++i) {
      char c = text[i];
      unsigned d;
      if (c >= '0' && c <= '9')
        d = c - '0';
      else if (c >= 'a' && c <= 'f')
        d = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        d = c - 'A' + 10;
      else
        return std::nullopt;
      v = v * 16 + d;
    }
    return v;
  };
  while (true) {
    if (pos >= text.size())
      return error(start, "unterminated string");
    // Copy the run of plain characters at once.
    size_t run = pos;
    while (run < text.size() && text[run] != '"' && text[run] != '\\' &&
           uint8_t(text[run]) >= 0x20)
      ++run;
    out.append(text.data() + pos, run - pos);
    pos = run;
    if (pos >= text.size())
      return error(start, "unterminated string");
    char c = text[pos];
    if (c == '"') {
      ++pos;
      return Error::success();
    }
    if (uint8_t(c) < 0x20)
      return error(pos, "control character in a string (escape it)");
    // An escape.
    if (pos + 1 >= text.size())
      return error(start, "unterminated string");
    char e = text[pos + 1];
    switch (e) {
    case '"':
    case '\\':
    case '/':
      out.push_back(e);
      break;
    case 'b':
      out.push_back('\b');
      break;
    case 'f':
      out.push_back('\f');
      break;
    case 'n':
      out.push_back('\n');
      break;
    case 'r':
      out.push_back('\r');
      break;
    case 't':
      out.push_back('\t');
      break;
    case 'u': {
      std::optional<uint32_t> cp = hex4(pos + 2);
      if (!cp)
        return error(pos, "\\u must be followed by four hex digits");
      pos += 6;
      if (*cp >= 0xD800 && *cp < 0xDC00 && pos + 1 < text.size() &&
          text[pos] == '\\' && text[pos + 1] == 'u') {
        std::optional<uint32_t> low = hex4(pos + 2);
        if (low && *low >= 0xDC00 && *low < 0xE000) {
          appendUTF8(out, 0x10000 + ((*cp - 0xD800) << 10) + (*low - 0xDC00));
          pos += 6;
          continue;
        }
      }
      // A lone surrogate becomes U+FFFD, as llvm::json::parse does.
      appendUTF8(out, *cp >= 0xD800 && *cp < 0xE000 ? 0xFFFD : *cp);
      continue;
    }
    default:
      return error(pos, Twine("invalid escape '\\") + StringRef(&e, 1) + "'");
    }
    pos += 2;
  }
}

Expected<JSONScanner::Token> JSONScanner::next() {
  if (peeked) {
    peeked = false;
    return std::move(peekedToken);
  }
  skipSpace();
  Token tok;
  tok.offset = pos;
  if (pos >= text.size()) {
    tok.kind = Kind::End;
    return tok;
  }
  char c = text[pos];
  auto single = [&](Kind k) {
    tok.kind = k;
    ++pos;
    return tok;
  };
  switch (c) {
  case '{':
    return single(Kind::BeginObject);
  case '}':
    return single(Kind::EndObject);
  case '[':
    return single(Kind::BeginArray);
  case ']':
    return single(Kind::EndArray);
  case ':':
    return single(Kind::Colon);
  case ',':
    return single(Kind::Comma);
  case '"':
    tok.kind = Kind::String;
    if (Error err = lexString(tok))
      return std::move(err);
    return tok;
  default:
    break;
  }
  for (auto [word, kind] : {std::pair<StringRef, Kind>{"true", Kind::True},
                            {"false", Kind::False},
                            {"null", Kind::Null}}) {
    if (text.substr(pos).starts_with(word)) {
      pos += word.size();
      tok.kind = kind;
      return tok;
    }
  }
  if (c == '-' || (c >= '0' && c <= '9')) {
    size_t start = pos;
    auto digits = [&]() {
      size_t from = pos;
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9')
        ++pos;
      return pos - from;
    };
    if (text[pos] == '-')
      ++pos;
    if (pos < text.size() && text[pos] == '0')
      ++pos;
    else if (digits() == 0)
      return error(start, "invalid number");
    if (pos < text.size() && text[pos] == '.') {
      ++pos;
      if (digits() == 0)
        return error(start, "invalid number");
    }
    if (pos < text.size() && (text[pos] == 'e' || text[pos] == 'E')) {
      ++pos;
      if (pos < text.size() && (text[pos] == '+' || text[pos] == '-'))
        ++pos;
      if (digits() == 0)
        return error(start, "invalid number");
    }
    tok.kind = Kind::Number;
    tok.text = text.slice(start, pos).str();
    return tok;
  }
  if (uint8_t(c) >= 0x20 && uint8_t(c) < 0x7F)
    return error(pos, Twine("unexpected character '") + StringRef(&c, 1) + "'");
  return error(pos, formatv("unexpected byte 0x{0:x-2}", uint8_t(c)));
}

Expected<JSONScanner::Kind> JSONScanner::peek() {
  if (!peeked) {
    Expected<Token> tok = next();
    if (!tok)
      return tok.takeError();
    peekedToken = std::move(*tok);
    peeked = true;
  }
  return peekedToken.kind;
}

Expected<JSONScanner::Token> JSONScanner::expect(Kind kind, StringRef what) {
  Expected<Token> tok = next();
  if (!tok)
    return tok.takeError();
  if (tok->kind != kind)
    return error(tok->offset,
                 tok->kind == Kind::End
                     ? "unexpected end of the text (expected " + what + ")"
                     : "expected " + what);
  return tok;
}

Error JSONScanner::forEachMember(function_ref<Error(Token &key)> member) {
  if (Expected<Token> open = expect(Kind::BeginObject, "'{'"); !open)
    return open.takeError();
  Expected<Kind> first = peek();
  if (!first)
    return first.takeError();
  if (*first == Kind::EndObject)
    return next().takeError();
  while (true) {
    Expected<Token> key = expect(Kind::String, "a string key");
    if (!key)
      return key.takeError();
    if (Expected<Token> colon = expect(Kind::Colon, "':' after a key"); !colon)
      return colon.takeError();
    if (Error err = member(*key))
      return err;
    Expected<Token> sep = next();
    if (!sep)
      return sep.takeError();
    if (sep->kind == Kind::EndObject)
      return Error::success();
    if (sep->kind != Kind::Comma)
      return error(sep->offset, sep->kind == Kind::End
                                    ? "unexpected end of the text"
                                    : "expected ',' or '}' after an object "
                                      "member");
  }
}

Error JSONScanner::forEachElement(function_ref<Error()> element) {
  if (Expected<Token> open = expect(Kind::BeginArray, "'['"); !open)
    return open.takeError();
  Expected<Kind> first = peek();
  if (!first)
    return first.takeError();
  if (*first == Kind::EndArray)
    return next().takeError();
  while (true) {
    if (Error err = element())
      return err;
    Expected<Token> sep = next();
    if (!sep)
      return sep.takeError();
    if (sep->kind == Kind::EndArray)
      return Error::success();
    if (sep->kind != Kind::Comma)
      return error(sep->offset, sep->kind == Kind::End
                                    ? "unexpected end of the text"
                                    : "expected ',' or ']' after an array "
                                      "element");
  }
}

Error JSONScanner::skipValue(unsigned maxDepth) {
  unsigned depth = 0;
  do {
    Expected<Token> tok = next();
    if (!tok)
      return tok.takeError();
    switch (tok->kind) {
    case Kind::BeginObject:
    case Kind::BeginArray:
      if (++depth > maxDepth)
        return error(tok->offset,
                     formatv("nesting deeper than {0} levels", maxDepth));
      break;
    case Kind::EndObject:
    case Kind::EndArray:
      if (depth == 0)
        return error(tok->offset, "expected a value");
      --depth;
      break;
    case Kind::End:
      return error(tok->offset, "unexpected end of the text");
    default:
      break;
    }
  } while (depth > 0);
  return Error::success();
}

std::optional<int64_t> JSONScanner::parseInteger(StringRef number) {
  int64_t v;
  if (number.find_first_of(".eE") != StringRef::npos ||
      number.getAsInteger(10, v))
    return std::nullopt;
  return v;
}

namespace {
/// Bytes llvm::json uses per parsed node (measured on LLVM 22, x86-64):
/// a non-empty object allocates 64 DenseMap buckets of 88 bytes.
constexpr uint64_t kObjectBytes = 64 * 88;
constexpr uint64_t kArrayBytes = 128;
constexpr uint64_t kScalarBytes = 64;
} // namespace

/// The structure check: grammar, depth, duplicate keys and the estimated
/// memory of the parsed value.
static Error checkJSON(StringRef text, StringRef origin,
                       const JSONLimits &limits, unsigned firstLine) {
  using Kind = JSONScanner::Kind;
  JSONScanner scanner(text, origin, firstLine);
  struct Frame {
    bool object;
    StringMap<size_t> keys; // key -> offset of its first occurrence
  };
  SmallVector<Frame, 16> stack;
  enum class Expect { Value, ValueOrEnd, KeyOrEnd, Key, Colon, CommaOrEnd };
  Expect expect = Expect::Value;
  uint64_t objects = 0, arrays = 0, scalars = 0, stringBytes = 0;
  // After a value: a separator or the end of the enclosing container, or
  // the end of the text at the top level (checked at the loop's head).
  auto afterValue = [&]() { expect = Expect::CommaOrEnd; };
  while (true) {
    Expected<JSONScanner::Token> tok = scanner.next();
    if (!tok)
      return tok.takeError();
    if (tok->kind == Kind::End &&
        !(stack.empty() && expect == Expect::CommaOrEnd))
      return scanner.error(tok->offset, "unexpected end of the text");
    if (stack.empty() && expect == Expect::CommaOrEnd) {
      if (tok->kind != Kind::End)
        return scanner.error(tok->offset, "unexpected text after the JSON "
                                          "value");
      break;
    }
    switch (expect) {
    case Expect::Value:
    case Expect::ValueOrEnd:
      if (expect == Expect::ValueOrEnd && tok->kind == Kind::EndArray) {
        stack.pop_back();
        afterValue();
        break;
      }
      if (tok->kind == Kind::BeginObject || tok->kind == Kind::BeginArray) {
        if (stack.size() >= limits.maxDepth)
          return scanner.error(
              tok->offset,
              formatv("nesting deeper than {0} levels", limits.maxDepth));
        bool object = tok->kind == Kind::BeginObject;
        stack.push_back(Frame{object, {}});
        if (object)
          expect = Expect::KeyOrEnd;
        else {
          ++arrays;
          expect = Expect::ValueOrEnd;
        }
        break;
      }
      if (tok->kind == Kind::String || tok->kind == Kind::Number ||
          tok->kind == Kind::True || tok->kind == Kind::False ||
          tok->kind == Kind::Null) {
        ++scalars;
        stringBytes += tok->text.size();
        afterValue();
        break;
      }
      return scanner.error(tok->offset, tok->kind == Kind::End
                                            ? "unexpected end of the text"
                                            : "expected a value");
    case Expect::KeyOrEnd:
    case Expect::Key: {
      if (expect == Expect::KeyOrEnd && tok->kind == Kind::EndObject) {
        stack.pop_back();
        afterValue();
        break;
      }
      if (tok->kind != Kind::String)
        return scanner.error(tok->offset, tok->kind == Kind::End
                                              ? "unexpected end of the text"
                                              : "expected a string key");
      Frame &top = stack.back();
      if (top.keys.empty())
        ++objects;
      auto [it, inserted] = top.keys.try_emplace(tok->text, tok->offset);
      if (!inserted)
        return scanner.error(
            tok->offset, "duplicate key \"" + tok->text + "\" (first at " +
                             formatJSONLocation(text, it->second, firstLine) +
                             ")");
      stringBytes += tok->text.size();
      expect = Expect::Colon;
      break;
    }
    case Expect::Colon:
      if (tok->kind != Kind::Colon)
        return scanner.error(tok->offset, "expected ':' after an object key");
      expect = Expect::Value;
      break;
    case Expect::CommaOrEnd: {
      Frame &top = stack.back();
      if (tok->kind == Kind::Comma) {
        expect = top.object ? Expect::Key : Expect::Value;
        break;
      }
      if (tok->kind == (top.object ? Kind::EndObject : Kind::EndArray)) {
        stack.pop_back();
        afterValue();
        break;
      }
      return scanner.error(tok->offset, top.object
                                            ? "expected ',' or '}' after an "
                                              "object member"
                                            : "expected ',' or ']' after an "
                                              "array element");
    }
    }
  }
  uint64_t estimate = objects * kObjectBytes + arrays * kArrayBytes +
                      scalars * kScalarBytes + stringBytes;
  if (estimate > limits.maxMemory)
    return createStringError(
        inconvertibleErrorCode(),
        origin + ": parsing it would take about " + formatBytes(estimate) +
            " (" + Twine(objects) + " objects, " + Twine(arrays) +
            " arrays); the limit is " + formatBytes(limits.maxMemory));
  return Error::success();
}

Expected<json::Value> parseJSON(StringRef text, StringRef origin,
                                const JSONLimits &limits, unsigned firstLine) {
  if (Error err = checkJSON(text, origin, limits, firstLine))
    return std::move(err);
  Expected<json::Value> value = json::parse(text);
  if (!value) // For example invalid UTF-8, which the scan does not check.
    return createStringError(
        inconvertibleErrorCode(),
        origin + ": invalid JSON: " + toString(value.takeError()));
  return value;
}

Expected<json::Value> readJSONFile(StringRef path, const JSONLimits &limits,
                                   StringRef what) {
  Expected<std::unique_ptr<MemoryBuffer>> buf =
      readRegularFile(path, limits.maxFileSize, what);
  if (!buf)
    return buf.takeError();
  return parseJSON((*buf)->getBuffer(), path, limits);
}
} // namespace qrealign
