//===- NameLocDiagnostics.h - Diagnostics at name locations -----*- C++ -*-===//
//
// Part of the qrealign project.
//
// qrealign-import locates every op by the checkpoint tensor it comes from
// (`loc("model.layers.3.self_attn.q_proj")`, a NameLoc without a file
// position). Upstream's SourceMgrDiagnosticHandler prints such a diagnostic
// as `<unknown>:0: error: loc("model.layers.3.self_attn.q_proj"): ...`.
// This handler prints it as `"model.layers.3.self_attn.q_proj": error: ...`
// and a diagnostic without location (a command-line problem found while
// lowering) as `TOOL: error: ...`, like the tools' own errors. Every
// diagnostic that has a file position is left to the handlers registered
// before it.
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_DIALECT_QREALIGN_IR_NAMELOCDIAGNOSTICS_H
#define QREALIGN_DIALECT_QREALIGN_IR_NAMELOCDIAGNOSTICS_H

#include "mlir/IR/Diagnostics.h"
#include "llvm/Support/raw_ostream.h"

namespace mlir::qrealign {
/// Registers the handler on `context` for the context's lifetime (for a
/// driver that does not own the context, such as MlirOptMain). Register it
/// after the tool's SourceMgrDiagnosticHandler, so that it sees diagnostics
/// first, and never together with a diagnostic verifier.
DiagnosticEngine::HandlerID
registerNameLocDiagnosticHandler(MLIRContext *context, llvm::StringRef toolName,
                                 llvm::raw_ostream &os = llvm::errs());

/// The same, scoped: unregistered when destroyed.
class NameLocDiagnosticHandler : public ScopedDiagnosticHandler {
public:
  NameLocDiagnosticHandler(MLIRContext *context, llvm::StringRef toolName,
                           llvm::raw_ostream &os = llvm::errs());
};
} // namespace mlir::qrealign

#endif // QREALIGN_DIALECT_QREALIGN_IR_NAMELOCDIAGNOSTICS_H
