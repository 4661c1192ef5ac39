//===- NameLocDiagnostics.cpp - Diagnostics at tensor-name locations ------===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Dialect/QRealign/IR/NameLocDiagnostics.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Location.h"

#include <functional>

using namespace mlir;
using namespace mlir::qrealign;

static StringRef severityName(DiagnosticSeverity s) {
  switch (s) {
  case DiagnosticSeverity::Note:
    return "note";
  case DiagnosticSeverity::Warning:
    return "warning";
  case DiagnosticSeverity::Error:
    return "error";
  case DiagnosticSeverity::Remark:
    return "remark";
  }
  llvm_unreachable("unknown severity");
}

/// The name of a location that has a name but no file position.
static std::optional<StringRef> nameOnly(Location loc) {
  if (loc->findInstanceOf<FileLineColLoc>())
    return std::nullopt;
  if (auto name = loc->findInstanceOf<NameLoc>())
    return name.getName().getValue();
  return std::nullopt;
}

static std::function<LogicalResult(Diagnostic &)>
makeHandler(llvm::raw_ostream &os, StringRef toolName) {
  return [&os, tool = toolName.str()](Diagnostic &diag) -> LogicalResult {
    if (isa<UnknownLoc>(diag.getLocation()) && diag.getNotes().empty()) {
      os << tool << ": " << severityName(diag.getSeverity()) << ": "
         << diag.str() << "\n";
      os.flush();
      return success();
    }
    std::optional<StringRef> name = nameOnly(diag.getLocation());
    if (!name)
      return failure();
    auto print = [&](StringRef where, DiagnosticSeverity severity,
                     const Diagnostic &d) {
      os << '"' << where << "\": " << severityName(severity) << ": " << d.str()
         << "\n";
    };
    print(*name, diag.getSeverity(), diag);
    for (const Diagnostic &note : diag.getNotes())
      print(nameOnly(note.getLocation()).value_or(*name), note.getSeverity(),
            note);
    os.flush();
    return success();
  };
}

DiagnosticEngine::HandlerID mlir::qrealign::registerNameLocDiagnosticHandler(
    MLIRContext *context, StringRef toolName, llvm::raw_ostream &os) {
  return context->getDiagEngine().registerHandler(makeHandler(os, toolName));
}

NameLocDiagnosticHandler::NameLocDiagnosticHandler(MLIRContext *context,
                                                   StringRef toolName,
                                                   llvm::raw_ostream &os)
    : ScopedDiagnosticHandler(context) {
  setHandler(makeHandler(os, toolName));
}
