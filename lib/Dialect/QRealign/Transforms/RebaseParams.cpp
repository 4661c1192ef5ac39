//===- RebaseParams.cpp - qrealign-rebase-params --------------------------===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Dialect/QRealign/IR/QRealign.h"
#include "qrealign/Dialect/QRealign/Transforms/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/Path.h"

namespace mlir::qrealign {
#define GEN_PASS_DEF_QREALIGNREBASEPARAMSPASS
#include "qrealign/Dialect/QRealign/Transforms/Passes.h.inc"
} // namespace mlir::qrealign

using namespace mlir;
using namespace mlir::qrealign;

namespace {
struct RebaseParamsPass
    : mlir::qrealign::impl::QRealignRebaseParamsPassBase<RebaseParamsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto *dialect = module.getContext()->getOrLoadDialect<QRealignDialect>();
    ParamEnvironment env = dialect->getParamEnvironment();
    std::string inputDir = env.inputDir.empty() ? "." : env.inputDir;
    // Nothing to do on stdout, or when the output's directory is the
    // input's (the input's directory as the output records it is ".").
    if (env.outputDir.empty() || env.recordedPath(inputDir) == ".")
      return;
    Builder b(module.getContext());
    // A path relative to the input's directory, as the output records it.
    auto rebase = [&](StringAttr path) -> StringAttr {
      if (llvm::sys::path::is_absolute(path.getValue()))
        return path;
      SmallString<256> full(inputDir);
      llvm::sys::path::append(full, path.getValue());
      return b.getStringAttr(env.recordedPath(full));
    };
    if (auto params = module->getAttrOfType<DictionaryAttr>(
            QRealignDialect::getParamsAttrName())) {
      SmallVector<NamedAttribute> entries;
      for (NamedAttribute entry : params) {
        auto path = dyn_cast<StringAttr>(entry.getValue());
        entries.push_back(path ? b.getNamedAttr(entry.getName(), rebase(path))
                               : entry);
      }
      module->setAttr(QRealignDialect::getParamsAttrName(),
                      b.getDictionaryAttr(entries));
    }
    if (auto tok = module->getAttrOfType<StringAttr>("qrealign.tokenizer"))
      module->setAttr("qrealign.tokenizer", rebase(tok));
    // Later passes resolve the rewritten paths from the output's directory.
    env.inputDir = env.outputDir;
    dialect->setParamEnvironment(env);
  }
};
} // namespace
