//===- ModelSession.h - A model opened for the tools ------------*- C++ -*-===//
//
// Part of the qrealign project.
//
// What every tool that runs a model needs, opened once, the same way:
// qrealign-run, qrealign-train and qrealign-eval (and the probe and
// calibration drivers to come) open an IR file (`.mlir`, `.mlirbc`, or `-`
// for standard input), a Hugging Face directory or a llama2.c `.bin`
// through ModelSession, and get the module, the engine program, the
// tokenizer, the chat template, the BOS id and the stop ids. One
// definition of these means the tools agree: a sequence stops at the
// model's EOS ids and at the chat template's end-of-turn tokens
// (`<|eot_id|>`, `<|im_end|>`) wherever it is generated.
//
// No libtorch here: the engine is created through Engine (dlopen).
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_SESSION_MODELSESSION_H
#define QREALIGN_SESSION_MODELSESSION_H

#include "qrealign/Engine/Engine.h"
#include "qrealign/Engine/Program.h"
#include "qrealign/Tokenizer/Tokenizer.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <string>
#include <vector>

namespace qrealign {
struct SessionOptions {
  /// `SCOPE=PATH` entries replacing or adding `qrealign.params` entries of
  /// IR (`--params`).
  std::vector<std::string> paramScopes;
  /// A tokenizer file replacing the model's (`--tokenizer`).
  std::string tokenizerPath;
  /// A chat template replacing the model's (`--chat-template`).
  std::string chatTemplate;
  /// Load the tokenizer (a model that names none is then an error). Off
  /// for token-id prompts and `--dump-program`: the session has no
  /// tokenizer, and its stop ids are the model's EOS ids.
  bool loadTokenizer = true;
  /// Lower the model for the engine. Off (the compiled backend), the
  /// session's program holds the parameters, loaded and checked, and the
  /// model's facts, but no instructions and no dequantized weights:
  /// createEngine then fails.
  bool engineProgram = true;
  /// The MLIR context's thread pool (off when the user asked for a number
  /// of threads: the process then runs exactly those).
  bool multithreaded = true;
  /// Prefix of diagnostics that have no location.
  std::string toolName = "qrealign";
};

/// An error whose message is a complete located diagnostic
/// (`model.mlir:3:7: error: ...`, `"model.layers.0.mlp.up_proj": error:
/// ...`); tools print it as it is, without their own prefix.
class LocatedError : public llvm::ErrorInfo<LocatedError> {
public:
  static char ID;
  explicit LocatedError(std::string text) : text(std::move(text)) {}
  void log(llvm::raw_ostream &os) const override { os << text; }
  std::error_code convertToErrorCode() const override {
    return llvm::inconvertibleErrorCode();
  }

private:
  std::string text;
};

/// Prints `err` to stderr: a LocatedError as it is, anything else as
/// `TOOL: error: MESSAGE`.
void reportError(llvm::StringRef tool, llvm::Error err);

class ModelSession {
public:
  /// Opens `path` (see the file comment). Every problem is an error: a
  /// LocatedError for diagnostics on the IR, a plain one otherwise.
  static llvm::Expected<std::unique_ptr<ModelSession>>
  open(llvm::StringRef path, const SessionOptions &options = {});
  ~ModelSession();

  llvm::StringRef getPath() const { return path; }
  mlir::MLIRContext &getContext() { return *context; }
  mlir::ModuleOp getModule() { return *module; }
  const Program &getProgram() const { return *program; }
  const ModelInfo &getModelInfo() const { return program->getModelInfo(); }
  /// The tokenizer, or null when not loaded.
  const Tokenizer *getTokenizer() const { return tokenizer.get(); }
  llvm::StringRef getChatTemplate() const { return chatTemplate; }
  /// The BOS id (the model's, else the tokenizer's), or -1.
  int64_t getBosId() const { return bos; }
  /// The model's EOS ids (the tokenizer's when the model records none),
  /// first, then the chat template's end-of-turn tokens.
  llvm::ArrayRef<int64_t> getStopIds() const { return stopIds; }
  /// The model's end-of-sequence id (the first stop id), or -1: what a
  /// training target ends with.
  int64_t getEosId() const { return stopIds.empty() ? -1 : stopIds.front(); }

  /// The token ids of one chat turn: `user` (and `system`) rendered by the
  /// chat template, BOS first when the template wants it. Needs a
  /// tokenizer.
  llvm::Expected<std::vector<int64_t>> encodeChat(llvm::StringRef system,
                                                  llvm::StringRef user) const;

  /// An engine running this model.
  llvm::Expected<std::unique_ptr<Engine>>
  createEngine(const EngineOptions &options) const;

private:
  ModelSession() = default;
  std::string path;
  std::unique_ptr<mlir::MLIRContext> context;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  std::unique_ptr<Program> program;
  std::unique_ptr<Tokenizer> tokenizer;
  std::string chatTemplate;
  int64_t bos = -1;
  std::vector<int64_t> stopIds;
};
} // namespace qrealign

#endif // QREALIGN_SESSION_MODELSESSION_H
