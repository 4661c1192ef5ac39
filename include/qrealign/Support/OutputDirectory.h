//===- OutputDirectory.h - The output policy for directories ----*- C++ -*-===//
//
// Rule 7 of docs/robustness.md. A tool that writes a directory (a model, a
// set of splits, an evaluation report) never deletes what it did not create
// and never leaves a half-written result:
//
//  - The target must not exist, or be an empty directory, or a directory a
//    qrealign tool wrote (it holds the marker file `.qrealign-output`).
//    Anything else (a regular file, a symlink, a user's non-empty
//    directory) is refused before any work starts; `--force` allows
//    replacing a non-empty directory, except `/`, the home directory and
//    any directory holding the current directory.
//  - Everything is written into a staging directory beside the target,
//    `.NAME.qrealign-tmp-XXXXXX` (a fresh name: it can never be the user's).
//    If the tool fails or is stopped, the staging directory is removed
//    (a SIGKILL leaves it, under a name that says what it is).
//  - commit() writes the marker, then swaps the staging directory and the
//    old target in one renameat2(RENAME_EXCHANGE), then removes the old
//    one. At every instant the target path holds either the complete old
//    output or the complete new one. File systems without RENAME_EXCHANGE
//    get two renames, with the old output parked at `.NAME.qrealign-old-*`
//    in between.
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_SUPPORT_OUTPUTDIRECTORY_H
#define QREALIGN_SUPPORT_OUTPUTDIRECTORY_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <string>

namespace qrealign {
/// The marker file a qrealign tool leaves in each directory it writes.
llvm::StringRef getOutputMarkerName();
/// Whether `dir` is a directory that holds the marker.
bool isQRealignOutput(llvm::StringRef dir);

/// Fails unless `path` may become a tool's output directory (see above).
/// Tools call it before starting long work, so that a bad -o fails fast.
llvm::Error checkOutputDirectory(llvm::StringRef path, bool force);

class OutputDirectory {
public:
  /// Checks `path` and creates the staging directory beside it (creating
  /// missing parent directories). `tool` is recorded in the marker.
  static llvm::Expected<OutputDirectory>
  create(llvm::StringRef path, llvm::StringRef tool, bool force);

  OutputDirectory(OutputDirectory &&other);
  OutputDirectory &operator=(OutputDirectory &&) = delete;
  /// Removes the staging directory unless commit() succeeded.
  ~OutputDirectory();

  /// Where the output is written until commit().
  llvm::StringRef getStagingPath() const { return staging; }
  llvm::StringRef getTarget() const { return target; }

  /// Writes the marker and moves the staging directory into place,
  /// replacing (then deleting) the previous output.
  llvm::Error commit();

private:
  OutputDirectory(std::string target, std::string staging, std::string tool,
                  bool force)
      : target(std::move(target)), staging(std::move(staging)),
        tool(std::move(tool)), force(force) {}
  std::string target, staging, tool;
  bool force = false;
  bool committed = false;
};

/// A directory a tool keeps for itself beside its output (for example
/// `OUT.ckpt`, the training state): created with the marker when missing,
/// accepted when it holds the marker, refused otherwise.
llvm::Error createOwnedDirectory(llvm::StringRef dir, llvm::StringRef tool);
/// Removes `dir` if it holds the marker; anything else is left alone.
llvm::Error removeOwnedDirectory(llvm::StringRef dir);
} // namespace qrealign

#endif // QREALIGN_SUPPORT_OUTPUTDIRECTORY_H
