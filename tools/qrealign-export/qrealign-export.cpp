//===- qrealign-export.cpp - Export qrealign IR as compressed-tensors -----===//
//
// qrealign-export MODEL.mlir -o DIR [--source HF_DIR] [--params S=PATH]
//     [--force]
//
// MODEL.mlir is a deployable module: linears read float parameters or
// stored levels (`qrealign.dequantize` of parameters, as
// qrealign-quantize-weights writes them or qrealign-import reads a
// compressed-tensors checkpoint). DIR becomes a Hugging Face directory in
// the compressed-tensors format (docs/lowering.md#compressed-tensors).
//
// Every problem is a located diagnostic and exit code 1; nothing is left
// half-written (the output policy of docs/robustness.md).
//
//===----------------------------------------------------------------------===//

#include "qrealign/Dialect/QRealign/IR/NameLocDiagnostics.h"
#include "qrealign/Dialect/QRealign/IR/QRealign.h"
#include "qrealign/Export/Export.h"
#include "qrealign/Import/Import.h"
#include "qrealign/Support/IRInput.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/WithColor.h"

using namespace llvm;

static cl::OptionCategory category("qrealign-export options");
static cl::opt<std::string> input(cl::Positional, cl::Required,
                                  cl::desc("<model.mlir>"), cl::cat(category));
static cl::opt<std::string> output("o", cl::Required,
                                   cl::desc("Output directory"),
                                   cl::value_desc("dir"), cl::cat(category));
static cl::opt<std::string>
    source("source",
           cl::desc("Hugging Face directory whose config.json and tokenizer "
                    "describe the model (default: the directory of the "
                    "module's 'model' parameter scope)"),
           cl::value_desc("dir"), cl::cat(category));
static cl::list<std::string>
    params("params",
           cl::desc("Map a parameter scope to a file: SCOPE=PATH (replaces "
                    "the module's qrealign.params entry)"),
           cl::value_desc("scope=path"), cl::cat(category));
static cl::opt<bool>
    force("force",
          cl::desc("Replace an output directory a qrealign tool wrote"),
          cl::cat(category));

static int error(const Twine &msg) {
  WithColor::error(errs(), "qrealign-export") << msg << "\n";
  return 1;
}

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "qrealign-export: a quantized qrealign module as a compressed-tensors "
      "Hugging Face directory (vLLM, llm-compressor)\n");

  mlir::DialectRegistry registry;
  qrealign::registerImportDialects(registry);
  mlir::MLIRContext context(registry);
  context.printOpOnDiagnostic(false);
  mlir::qrealign::ParamEnvironment env;
  if (input != "-")
    env.inputDir = sys::path::parent_path(input).str();
  if (Error err = env.addScopeFiles(
          std::vector<std::string>(params.begin(), params.end())))
    return error(toString(std::move(err)));
  context.getOrLoadDialect<mlir::qrealign::QRealignDialect>()
      ->setParamEnvironment(env);

  Expected<std::unique_ptr<MemoryBuffer>> file = qrealign::readIRFile(input);
  if (!file)
    return error(toString(file.takeError()));
  SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(std::move(*file), SMLoc());
  mlir::SourceMgrDiagnosticHandler handler(sourceMgr, &context);
  // Ops of imported IR carry checkpoint names; model-level errors none.
  mlir::qrealign::NameLocDiagnosticHandler names(&context, "qrealign-export");
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceFile<mlir::ModuleOp>(sourceMgr, &context);
  if (!module)
    return 1;
  qrealign::ExportOptions options;
  options.outputDir = output;
  options.force = force;
  options.sourceDir = source;
  return mlir::failed(qrealign::exportCompressedTensors(*module, options)) ? 1
                                                                           : 0;
}
