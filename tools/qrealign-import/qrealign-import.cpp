//===- qrealign-import.cpp - Import checkpoints as qrealign IR ------------===//
//
// qrealign-import MODEL [-o out.mlir]
//
// MODEL is a Hugging Face Llama-family directory (config.json plus
// model.safetensors or a sharded index) or a llama2.c `.bin`. The output is
// a qrealign module whose parameters refer to the checkpoint (`external`);
// no weight is read. `--list-tensors` prints what a checkpoint (also a bare
// .safetensors file or index) holds instead.
//
// Every problem is reported on one line as `qrealign-import: error: ...`
// with exit code 1.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Checkpoint/Checkpoint.h"
#include "qrealign/Import/Import.h"
#include "qrealign/Support/AtomicOutput.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OperationSupport.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;

static cl::OptionCategory category("qrealign-import options");
static cl::opt<std::string> input(cl::Positional, cl::Required,
                                  cl::desc("<model dir | model.bin>"),
                                  cl::cat(category));
static cl::opt<std::string> output("o", cl::desc("Output file (default: -)"),
                                   cl::value_desc("file"), cl::init("-"),
                                   cl::cat(category));
static cl::opt<std::string>
    tokenizer("tokenizer",
              cl::desc("Tokenizer to record in the module (default: "
                       "tokenizer.model/tokenizer.json beside a Hugging "
                       "Face checkpoint, tokenizer.bin or tok<vocab>.bin "
                       "beside a llama2.c one)"),
              cl::value_desc("file"), cl::cat(category));
static cl::opt<std::string>
    chatTemplate("chat-template",
                 cl::desc("Built-in chat template to record: llama-2, "
                          "llama-3, chatml or none (default: guessed)"),
                 cl::cat(category));
static cl::opt<bool> listTensors(
    "list-tensors",
    cl::desc("Print the checkpoint's tensors (name, dtype, shape, file) and "
             "exit; MODEL may also be a .safetensors file or an index"),
    cl::cat(category));

static int error(const Twine &msg) {
  WithColor::error(errs(), "qrealign-import") << msg << "\n";
  return 1;
}

static int runListTensors() {
  Expected<std::unique_ptr<qrealign::Checkpoint>> ckpt =
      qrealign::Checkpoint::open(input);
  if (!ckpt)
    return error(toString(ckpt.takeError()));
  Error err = qrealign::writeFileAtomically(output, [&](raw_ostream &os) {
    for (const qrealign::TensorInfo &t : (*ckpt)->getTensors())
      os << t.name << "\t" << qrealign::getDTypeName(t.dtype) << "\t"
         << t.getShapeString() << "\t" << (*ckpt)->getFiles()[t.file] << "\n";
    os << formatv("# {0} tensors, {1} bytes in {2} file(s)\n",
                  (*ckpt)->getTensors().size(), (*ckpt)->getTotalDataSize(),
                  (*ckpt)->getFiles().size());
    return Error::success();
  });
  if (err)
    return error(toString(std::move(err)));
  return 0;
}

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "qrealign-import: Hugging Face Llama-family and llama2.c checkpoints "
      "to qrealign IR\n");
  if (listTensors)
    return runListTensors();

  qrealign::ImportOptions options;
  options.tokenizerPath = tokenizer;
  options.chatTemplate = chatTemplate;
  // Paths in the IR are relative to where it is written.
  if (output != "-") {
    SmallString<256> dir(sys::path::parent_path(output));
    if (dir.empty())
      dir = ".";
    options.irDirectory = std::string(dir);
  }
  if (!options.chatTemplate.empty() &&
      !StringRef(options.chatTemplate).equals_insensitive("llama-2") &&
      options.chatTemplate != "llama-3" && options.chatTemplate != "chatml" &&
      options.chatTemplate != "none")
    return error("unknown chat template '" + options.chatTemplate +
                 "' (supported: llama-2, llama-3, chatml, none)");
  Expected<qrealign::ImportedModel> model = qrealign::openModel(input, options);
  if (!model)
    return error(toString(model.takeError()));

  mlir::DialectRegistry registry;
  qrealign::registerImportDialects(registry);
  mlir::MLIRContext context(registry);
  Expected<mlir::OwningOpRef<mlir::ModuleOp>> module =
      qrealign::importModel(context, *model);
  if (!module)
    return error(toString(module.takeError()));
  Error err = qrealign::writeFileAtomically(output, [&](raw_ostream &os) {
    // Name locations (checkpoint tensor names) travel with the IR.
    (**module)->print(os, mlir::OpPrintingFlags().enableDebugInfo(
                              /*enable=*/true, /*prettyForm=*/false));
    os << "\n";
    return Error::success();
  });
  if (err)
    return error(toString(std::move(err)));
  return 0;
}
