//===- Message.h - Quote input text in diagnostics --------------*- C++ -*-===//
//
// Rule 8 of docs/robustness.md: a diagnostic is one line. Text copied from
// input into a message (a CSV header, a label, a prompt) goes through
// quoteForMessage, which escapes control characters and invalid UTF-8 and
// shortens long text, so that a hostile file cannot break the line, move
// the cursor or flood the terminal.
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_SUPPORT_MESSAGE_H
#define QREALIGN_SUPPORT_MESSAGE_H

#include "llvm/ADT/StringRef.h"

#include <string>

namespace qrealign {
/// `text` with \n, \r, \t, other control bytes and invalid UTF-8 escaped
/// (\n, \r, \t, \xNN), cut to at most `maxBytes` bytes of input with "..."
/// appended when cut.
std::string quoteForMessage(llvm::StringRef text, size_t maxBytes = 80);
} // namespace qrealign

#endif // QREALIGN_SUPPORT_MESSAGE_H
