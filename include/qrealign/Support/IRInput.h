//===- IRInput.h - IR text handed to the MLIR parser ------------*- C++ -*-===//
//
// Works around an MLIR 22 parser defect (docs/upstream/
// mlir-resource-value-overread.md): when a string literal runs to the end
// of the input inside a `{-# dialect_resources ... #-}` or
// `external_resources` entry, the lexer leaves its cursor one byte past the
// buffer's NUL terminator, the resource parser consumes the error token
// without checking it, and the next lexToken() reads past the end of the
// buffer (ASan: SEGV; release: thousands of bytes read past EOF).
//
// MLIR's lexer ends every string literal at a '\n' (with an error), and no
// escape consumes a '\n' byte, so text that ends in '\n' can never leave a
// string open at the end of the buffer. Every qrealign tool that parses IR
// text passes the buffer through withTrailingNewline first. The appended
// newline changes no IR's meaning; bytecode is left as it is.
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_SUPPORT_IRINPUT_H
#define QREALIGN_SUPPORT_IRINPUT_H

#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

#include <memory>

namespace qrealign {
/// `buffer` itself when it is empty, ends in '\n' or holds MLIR bytecode;
/// otherwise a copy with '\n' appended (same buffer identifier).
std::unique_ptr<llvm::MemoryBuffer>
withTrailingNewline(std::unique_ptr<llvm::MemoryBuffer> buffer);

/// The IR file `path` of a tool, ready for MLIR's parser: a regular file
/// (or `-`, standard input; InputFile.h's rules), through
/// withTrailingNewline.
llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>>
readIRFile(llvm::StringRef path);
} // namespace qrealign

#endif // QREALIGN_SUPPORT_IRINPUT_H
