//===- AtomicOutput.h - Write output files atomically -----------*- C++ -*-===//
//
// Every file qrealign writes goes through writeFileAtomically: the content
// goes to a temporary file beside the target, which is renamed over it only
// once complete, so a failed or interrupted run never leaves a truncated
// file. "-" is stdout; devices and pipes (/dev/null) are written in place;
// a symlink is followed so that its target is replaced and the link stays;
// an existing file keeps its permissions.
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_SUPPORT_ATOMICOUTPUT_H
#define QREALIGN_SUPPORT_ATOMICOUTPUT_H

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

namespace qrealign {
llvm::Error
writeFileAtomically(llvm::StringRef path,
                    llvm::function_ref<llvm::Error(llvm::raw_ostream &)> write);
} // namespace qrealign

#endif // QREALIGN_SUPPORT_ATOMICOUTPUT_H
