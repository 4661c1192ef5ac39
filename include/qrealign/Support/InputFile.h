//===- InputFile.h - Read input files: regular files only -------*- C++ -*-===//
//
// Rule 4 of docs/robustness.md: qrealign reads its inputs (checkpoints,
// configs, tokenizers, prompt sets) from regular files only. A FIFO, a
// device, a socket or a directory is refused with a one-line error before
// anything blocks on it: the file is opened with O_NONBLOCK and checked with
// fstat on the descriptor that is then read, so a path swapped between check
// and read cannot slip through. Sizes are capped before reading.
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_SUPPORT_INPUTFILE_H
#define QREALIGN_SUPPORT_INPUTFILE_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cstdint>
#include <memory>

namespace qrealign {
/// No size cap.
constexpr uint64_t kNoSizeLimit = UINT64_MAX;

/// Reads (or memory-maps) all of the regular file `path`. Errors start with
/// the path: "PATH: not a regular file (a FIFO)", "PATH: 2.0 GiB, more than
/// the 16.0 MiB a config.json may have". `what` names the kind of file in
/// the size message.
llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>>
readRegularFile(llvm::StringRef path, uint64_t maxSize = kNoSizeLimit,
                llvm::StringRef what = "this file");

/// Reads `length` bytes at `offset` of the regular file `path`.
llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>>
readRegularFileSlice(llvm::StringRef path, uint64_t length, uint64_t offset);

/// The size of the regular file `path` (an error for anything else).
llvm::Expected<uint64_t> getRegularFileSize(llvm::StringRef path);

/// Fails unless `path` is a regular file (symlinks are followed), for the
/// libraries that open files themselves (libsentencepiece).
llvm::Error checkRegularFile(llvm::StringRef path);

/// Reads `path`, or standard input for "-"; a named file must be regular.
llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>>
readRegularFileOrStdin(llvm::StringRef path, uint64_t maxSize = kNoSizeLimit,
                       llvm::StringRef what = "this file");
} // namespace qrealign

#endif // QREALIGN_SUPPORT_INPUTFILE_H
