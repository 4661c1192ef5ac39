//===- JIT.cpp - qrealign functions compiled for the host -----------------===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Compiled/JIT.h"

#include "qrealign/Conversion/Pipelines/Pipelines.h"
#include "qrealign/Registration/Registration.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/TargetSelect.h"

#include <functional>
#include <mutex>

using namespace mlir;
using namespace ::qrealign;

namespace qrealign {
void initializeHostTarget() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
}

llvm::Expected<llvm::StringRef> getRunnerUtilsPath() {
  llvm::StringRef path = QREALIGN_MLIR_C_RUNNER_UTILS;
  if (!llvm::sys::fs::exists(path))
    return llvm::createStringError("MLIR's C runner utilities are missing: " +
                                   path);
  return path;
}

void keepModelEntryPoints(ModuleOp module) {
  for (auto fn : llvm::make_early_inc_range(module.getOps<func::FuncOp>()))
    if (fn.getSymName() != "prefill" && fn.getSymName() != "decode")
      fn.erase();
}
} // namespace qrealign

JitModule::~JitModule() = default;

llvm::Expected<std::unique_ptr<JitModule>>
JitModule::compile(ModuleOp module,
                   const mlir::qrealign::LowerToCPUOptions &options,
                   unsigned optLevel) {
  initializeHostTarget();
  MLIRContext *ctx = module.getContext();
  // The dialects and external models (bufferization) of the pipeline,
  // whatever the caller's context registered.
  DialectRegistry registry;
  mlir::qrealign::registerAllDialects(registry);
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  ctx->appendDialectRegistry(registry);

  for (auto fn : module.getOps<func::FuncOp>())
    if (fn.isPublic() && !fn.isExternal())
      fn->setAttr(LLVM::LLVMDialect::getEmitCWrapperAttrName(),
                  UnitAttr::get(ctx));

  std::string diagnostics;
  {
    llvm::raw_string_ostream os(diagnostics);
    ScopedDiagnosticHandler handler(ctx, [&](Diagnostic &diag) {
      os << diag.getLocation() << ": " << diag << "\n";
      return success();
    });
    PassManager pm(ctx);
    mlir::qrealign::buildLowerToCPUPipeline(pm, options);
    if (failed(pm.run(module)))
      return llvm::createStringError("qrealign-lower-to-cpu failed:\n" +
                                     diagnostics);
  }

  // What is left of qrealign: the manifest of the bound arguments.
  for (Operation &op : llvm::make_early_inc_range(*module.getBody()))
    if (!isa<func::FuncOp, LLVM::LLVMFuncOp>(op) &&
        op.getName().getDialectNamespace() == "qrealign")
      op.erase();

  // The transformer is a function_ref: it must outlive create().
  std::function<llvm::Error(llvm::Module *)> transformer =
      makeOptimizingTransformer(optLevel, /*sizeLevel=*/0,
                                /*targetMachine=*/nullptr);
  ExecutionEngineOptions engineOptions;
  engineOptions.transformer = transformer;
  llvm::Expected<llvm::StringRef> runnerUtils = getRunnerUtilsPath();
  if (!runnerUtils)
    return runnerUtils.takeError();
  llvm::SmallVector<llvm::StringRef, 1> libs = {*runnerUtils};
  engineOptions.sharedLibPaths = libs;
  engineOptions.jitCodeGenOptLevel =
      static_cast<llvm::CodeGenOptLevel>(optLevel);
  auto engine = ExecutionEngine::create(module, engineOptions);
  if (!engine)
    return engine.takeError();
  std::unique_ptr<JitModule> jit(new JitModule());
  jit->engine = std::move(*engine);
  return jit;
}

llvm::Expected<void *> JitModule::lookup(llvm::StringRef name) {
  return engine->lookup(("_mlir_ciface_" + name).str());
}

llvm::Error JitModule::invokePacked(llvm::StringRef name,
                                    llvm::MutableArrayRef<void *> args) {
  return engine->invokePacked(("_mlir_ciface_" + name).str(), args);
}
