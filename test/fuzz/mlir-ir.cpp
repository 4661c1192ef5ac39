//===- mlir-ir.cpp - Fuzz IR parsing and verification ---------------------===//
//
// Input: MLIR text (or bytecode). It is parsed and verified with every
// dialect a qrealign tool registers, after the same withTrailingNewline a
// tool applies (qrealign/Support/IRInput.h); then, if it verified, printed
// and parsed again (the printed form must parse and verify too).
//
//===----------------------------------------------------------------------===//

#include "qrealign/Registration/Registration.h"
#include "qrealign/Support/IRInput.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>

static mlir::DialectRegistry &getRegistry() {
  static mlir::DialectRegistry *registry = [] {
    auto *r = new mlir::DialectRegistry();
    mlir::qrealign::registerAllDialects(*r);
    return r;
  }();
  return *registry;
}

static mlir::OwningOpRef<mlir::Operation *>
parse(mlir::MLIRContext &ctx, std::unique_ptr<llvm::MemoryBuffer> buffer) {
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(qrealign::withTrailingNewline(std::move(buffer)),
                               llvm::SMLoc());
  mlir::ParserConfig config(&ctx);
  return mlir::parseSourceFile(sourceMgr, config);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // A fresh context per input: no state carries over between runs.
  mlir::MLIRContext ctx(getRegistry(), mlir::MLIRContext::Threading::DISABLED);
  mlir::ScopedDiagnosticHandler quiet(
      &ctx, [](mlir::Diagnostic &) { return mlir::success(); });
  auto op = parse(
      ctx, llvm::MemoryBuffer::getMemBufferCopy(
               llvm::StringRef(reinterpret_cast<const char *>(data), size),
               "fuzz.mlir"));
  if (!op)
    return 0;
  std::string printed;
  llvm::raw_string_ostream os(printed);
  op->print(os);
  if (!parse(ctx, llvm::MemoryBuffer::getMemBufferCopy(printed, "printed")))
    abort(); // verified IR whose printed form does not parse and verify
  return 0;
}
