//===- Progress.cpp - Progress lines with an ETA --------------------------===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Support/Progress.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdio>

using namespace llvm;

namespace qrealign {
Progress::Progress(std::string l, size_t t)
    : label(std::move(l)), total(t),
      tty(sys::Process::StandardErrIsDisplayed()),
      start(std::chrono::steady_clock::now()) {}

double Progress::elapsedSeconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

static std::string clock(double s) {
  int t = int(s + 0.5);
  char buf[32];
  snprintf(buf, sizeof(buf), "%d:%02d", t / 60, t % 60);
  return buf;
}

void Progress::update(size_t done, StringRef extra) {
  double el = elapsedSeconds();
  int decile = total ? int(10 * done / total) : 10;
  // Not a terminal: a line every 10%, and at least every 30 s.
  if (!tty && decile == lastDecile && el - lastPrinted < 30)
    return;
  lastDecile = decile;
  lastPrinted = el;
  double eta = done ? el * double(total - done) / double(done) : 0;
  std::string line =
      formatv("{0}: {1}/{2} ({3}%) {4}elapsed {5}, ETA {6}", label, done, total,
              total ? 100 * done / total : 100,
              extra.empty() ? "" : (extra + ", ").str(), clock(el), clock(eta))
          .str();
  if (tty)
    errs() << "\r" << line << "\x1b[K";
  else
    errs() << line << "\n";
}

void Progress::finish(StringRef extra) {
  std::string line = formatv("{0}: done, {1}{2}", label,
                             extra.empty() ? "" : (extra + ", ").str(),
                             clock(elapsedSeconds()))
                         .str();
  errs() << (tty ? "\r" : "") << line << (tty ? "\x1b[K\n" : "\n");
}
} // namespace qrealign
