//===- qrealign-opt.cpp - qrealign optimizer driver -----------------------===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//
//
// mlir-opt for qrealign: parses, verifies, transforms and prints IR with the
// qrealign dialect and the upstream dialects of the quantize-and-lower
// pipeline. `-o FILE` is written atomically: to a temporary file next to
// FILE, renamed over it only when the whole run succeeded, so a failed or
// interrupted run never leaves a truncated or half-written output.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Dialect/QRealign/IR/NameLocDiagnostics.h"
#include "qrealign/Dialect/QRealign/IR/QRealign.h"
#include "qrealign/Dialect/QRealign/Transforms/Passes.h"
#include "qrealign/Registration/Registration.h"
#include "qrealign/Support/AtomicOutput.h"
#include "qrealign/Support/IRInput.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdio>
#include <string>
#include <vector>

static llvm::cl::list<std::string>
    paramScopes("params",
                llvm::cl::desc("File of a parameter scope, replacing the "
                               "module's qrealign.params entry, for passes "
                               "that read parameter data (repeatable)"),
                llvm::cl::value_desc("scope=path"));

int main(int argc, char **argv) {
  mlir::qrealign::registerAllPasses();
  mlir::DialectRegistry registry;
  mlir::qrealign::registerAllDialects(registry);

  std::vector<std::string> args(argv, argv + argc);
  // Diagnostics name the op by location; dumping the whole enclosing op (a
  // module of hundreds of layers) after every error helps nobody. A later
  // --mlir-print-op-on-diagnostic=true on the command line still wins.
  args.insert(args.begin() + 1, "--mlir-print-op-on-diagnostic=false");
  std::vector<char *> cargs;
  for (std::string &a : args)
    cargs.push_back(a.data());
  cargs.push_back(nullptr);
  int cargc = int(args.size());

  auto [inputFilename, outputFilename] = mlir::registerAndParseCLIOptions(
      cargc, cargs.data(),
      "qrealign optimizer driver: parse, verify, transform and print "
      "qrealign IR",
      registry);
  mlir::MlirOptMainConfig config =
      mlir::MlirOptMainConfig::createFromCLOptions();
  auto error = [](const llvm::Twine &msg) {
    llvm::WithColor::error(llvm::errs(), "qrealign-opt") << msg << "\n";
    return 1;
  };
  // Bytecode before version 5 has no native encoding of properties: an
  // op's non-attribute properties (rope's head_dim, a layer's index) would
  // be written as discardable attributes and read back as zero.
  if (std::optional<int64_t> version = config.bytecodeVersionToEmit();
      version && *version < 5)
    return error("--emit-bytecode-version " + llvm::Twine(*version) +
                 ": qrealign IR needs bytecode version 5 or later (native "
                 "op properties); older versions would lose them");
  // Where parameter scopes resolve for passes that read or write parameter
  // files: paths in the input are relative to its directory, paths a pass
  // records are made relative to the output's (absolute on stdout).
  mlir::qrealign::ParamEnvironment env;
  if (inputFilename != "-")
    env.inputDir = llvm::sys::path::parent_path(inputFilename).str();
  if (outputFilename != "-") {
    env.outputDir = llvm::sys::path::parent_path(outputFilename).str();
    if (env.outputDir.empty())
      env.outputDir = ".";
  }
  if (llvm::Error err = env.addScopeFiles(
          std::vector<std::string>(paramScopes.begin(), paramScopes.end())))
    return error(llvm::toString(std::move(err)));
  // A pass option the command-line parser rejects ("w-bits=abc") is
  // printed by that parser; upstream then adds an empty
  // "<unknown>:0: error: " line. Drop that empty diagnostic.
  {
    mlir::MlirOptMainConfig base = config;
    config.setPassPipelineSetupFn([base, env](mlir::PassManager &pm) {
      pm.getContext()
          ->getOrLoadDialect<mlir::qrealign::QRealignDialect>()
          ->setParamEnvironment(env);
      // Written to another directory: the module's relative paths are
      // rewritten first, so that the output names the same files.
      if (!env.outputDir.empty())
        pm.addPass(mlir::qrealign::createQRealignRebaseParamsPass());
      // Imported IR locates ops by checkpoint tensor name; print pass
      // errors at such locations as "NAME": error: (not under a verifier).
      if (!base.shouldVerifyDiagnostics())
        mlir::qrealign::registerNameLocDiagnosticHandler(pm.getContext(),
                                                         "qrealign-opt");
      mlir::ScopedDiagnosticHandler dropEmpty(
          pm.getContext(), [](mlir::Diagnostic &d) {
            return mlir::success(llvm::isa<mlir::UnknownLoc>(d.getLocation()) &&
                                 d.str().empty());
          });
      return base.setupPassPipeline(pm);
    });
  }
  // Listing dialects or passes reads no input: upstream's driver does it.
  if (config.shouldShowDialects() || config.shouldListPasses())
    return mlir::asMainReturnCode(mlir::MlirOptMain(
        cargc, cargs.data(), inputFilename, outputFilename, registry));

  // The rest is upstream's MlirOptMain(argc, argv, input, output, registry)
  // with two changes: the input goes through withTrailingNewline (an MLIR
  // 22 lexer over-read, see IRInput.h), and -o is written atomically.
  char **initArgv = cargs.data();
  llvm::InitLLVM init(cargc, initArgv);
  if (inputFilename == "-" &&
      llvm::sys::Process::FileDescriptorIsDisplayed(fileno(stdin)))
    llvm::errs() << "(processing input from stdin now, hit ctrl-c/ctrl-d to "
                    "interrupt)\n";
  std::string errorMessage;
  std::unique_ptr<llvm::MemoryBuffer> file =
      mlir::openInputFile(inputFilename, &errorMessage);
  if (!file)
    return error(errorMessage);
  file = qrealign::withTrailingNewline(std::move(file));

  // -o goes to a temporary file beside it, renamed over it only when the
  // whole run succeeded: a failed or interrupted run never leaves a
  // truncated or half-written output, and the previous one stays.
  bool mlirFailed = false;
  llvm::Error err = qrealign::writeFileAtomically(
      outputFilename, [&](llvm::raw_ostream &os) -> llvm::Error {
        if (mlir::succeeded(
                mlir::MlirOptMain(os, std::move(file), registry, config)))
          return llvm::Error::success();
        mlirFailed = true; // MLIR has reported why
        return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                       "failed");
      });
  if (err) {
    if (mlirFailed) {
      llvm::consumeError(std::move(err));
      return 1;
    }
    return error(llvm::toString(std::move(err)));
  }
  return 0;
}
