//===- Progress.h - Progress lines with an ETA ------------------*- C++ -*-===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_SUPPORT_PROGRESS_H
#define QREALIGN_SUPPORT_PROGRESS_H

#include "llvm/ADT/StringRef.h"

#include <chrono>
#include <string>

namespace qrealign {
/// A progress line on stderr: `label: done/total (pct) extra, ETA mm:ss`,
/// rewritten in place on a terminal; otherwise a line every 10% and at
/// least every 30 s.
class Progress {
public:
  Progress(std::string label, size_t total);
  void update(size_t done, llvm::StringRef extra = "");
  void finish(llvm::StringRef extra = "");
  double elapsedSeconds() const;

private:
  std::string label;
  size_t total;
  int lastDecile = -1;
  double lastPrinted = 0;
  bool tty;
  std::chrono::steady_clock::time_point start;
};
} // namespace qrealign

#endif // QREALIGN_SUPPORT_PROGRESS_H
