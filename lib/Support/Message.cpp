//===- Message.cpp - Quote input text in diagnostics ----------------------===//

#include "qrealign/Support/Message.h"

#include "llvm/Support/ConvertUTF.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;

namespace qrealign {
std::string quoteForMessage(StringRef text, size_t maxBytes) {
  std::string out;
  raw_string_ostream os(out);
  size_t i = 0;
  while (i < text.size() && i < maxBytes) {
    unsigned char c = text[i];
    if (c < 0x80) {
      if (c == '\n')
        os << "\\n";
      else if (c == '\r')
        os << "\\r";
      else if (c == '\t')
        os << "\\t";
      else if (c < 0x20 || c == 0x7F)
        os << format("\\x%02X", c);
      else
        os << char(c);
      ++i;
      continue;
    }
    // A whole, valid UTF-8 sequence is kept; anything else is escaped.
    unsigned len = getNumBytesForUTF8(c);
    const auto *p = reinterpret_cast<const UTF8 *>(text.data() + i);
    if (i + len <= text.size() && isLegalUTF8Sequence(p, p + len)) {
      os << text.substr(i, len);
      i += len;
    } else {
      os << format("\\x%02X", c);
      ++i;
    }
  }
  if (i < text.size())
    os << "...";
  return out;
}
} // namespace qrealign
