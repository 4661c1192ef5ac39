//===- ModelSession.cpp - A model opened for the tools --------------------===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Session/ModelSession.h"
#include "qrealign/Dialect/QRealign/IR/NameLocDiagnostics.h"
#include "qrealign/Dialect/QRealign/IR/QRealign.h"
#include "qrealign/Import/Import.h"
#include "qrealign/Support/IRInput.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/Parser/Parser.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/WithColor.h"

using namespace llvm;
using namespace qrealign;

char LocatedError::ID = 0;

void qrealign::reportError(StringRef tool, Error err) {
  handleAllErrors(
      std::move(err),
      [](const LocatedError &e) {
        std::string text;
        raw_string_ostream os(text);
        e.log(os);
        errs() << StringRef(text).rtrim("\n") << "\n";
      },
      [&](const ErrorInfoBase &e) {
        WithColor::error(errs(), tool) << e.message() << "\n";
      });
}

ModelSession::~ModelSession() = default;

static bool isIRPath(StringRef path) {
  return path == "-" || path.ends_with(".mlir") || path.ends_with(".mlirbc");
}

Expected<std::unique_ptr<ModelSession>>
ModelSession::open(StringRef path, const SessionOptions &options) {
  std::unique_ptr<ModelSession> s(new ModelSession());
  s->path = path.str();
  mlir::DialectRegistry registry;
  registerImportDialects(registry);
  s->context = std::make_unique<mlir::MLIRContext>(
      registry, options.multithreaded ? mlir::MLIRContext::Threading::ENABLED
                                      : mlir::MLIRContext::Threading::DISABLED);
  mlir::MLIRContext &ctx = *s->context;
  ctx.printOpOnDiagnostic(false);

  // Diagnostics are collected, located (file position, or the checkpoint
  // tensor name the importer recorded), and returned as one error.
  std::string diagnostics;
  raw_string_ostream diagOS(diagnostics);
  SourceMgr sourceMgr;
  mlir::SourceMgrDiagnosticHandler fileHandler(sourceMgr, &ctx, diagOS);
  mlir::qrealign::NameLocDiagnosticHandler nameHandler(&ctx, options.toolName,
                                                       diagOS);
  auto located = [&](const Twine &fallback) -> Error {
    if (diagnostics.empty())
      return createStringError(inconvertibleErrorCode(), fallback);
    return make_error<LocatedError>(diagnostics);
  };

  mlir::qrealign::ParamEnvironment env;
  if (isIRPath(path)) {
    Expected<std::unique_ptr<MemoryBuffer>> file = readIRFile(path);
    if (!file)
      return file.takeError();
    sourceMgr.AddNewSourceBuffer(std::move(*file), SMLoc());
    s->module = mlir::parseSourceFile<mlir::ModuleOp>(sourceMgr, &ctx);
    if (!s->module)
      return located(path + ": cannot parse the IR");
    if (path != "-")
      env.inputDir = sys::path::parent_path(path).str();
  } else {
    Expected<ImportedModel> model = openModel(path, ImportOptions());
    if (!model)
      return model.takeError();
    auto imported = importModel(ctx, *model);
    if (!imported)
      return imported.takeError();
    s->module = std::move(*imported);
  }
  if (Error err = env.addScopeFiles(options.paramScopes))
    return err;
  mlir::FailureOr<std::unique_ptr<Program>> program =
      lowerToProgram(*s->module, env, "forward", !options.engineProgram);
  if (failed(program))
    return located(path + ": cannot lower the model for the engine");
  s->program = std::move(*program);
  const ModelInfo &info = s->program->getModelInfo();

  s->chatTemplate =
      options.chatTemplate.empty() ? info.chatTemplate : options.chatTemplate;
  Expected<ChatPrompt> probe = applyChatTemplate(s->chatTemplate, "", "");
  if (!probe)
    return probe.takeError();
  std::string tokPath = options.tokenizerPath.empty() ? info.tokenizerPath
                                                      : options.tokenizerPath;
  if (options.loadTokenizer) {
    if (tokPath.empty())
      return createStringError(inconvertibleErrorCode(),
                               "the model names no tokenizer: pass "
                               "--tokenizer FILE");
    Expected<std::unique_ptr<Tokenizer>> tok = Tokenizer::load(tokPath);
    if (!tok)
      return tok.takeError();
    s->tokenizer = std::move(*tok);
  }

  // One definition of where generation stops.
  s->stopIds = info.eosTokenIds;
  if (s->stopIds.empty() && s->tokenizer && s->tokenizer->getEosId() >= 0)
    s->stopIds.push_back(s->tokenizer->getEosId());
  if (s->tokenizer)
    for (const std::string &stop : probe->stopTokens)
      if (std::optional<int64_t> id = s->tokenizer->lookup(stop))
        if (!is_contained(s->stopIds, *id))
          s->stopIds.push_back(*id);
  s->bos = info.bosTokenId >= 0 ? info.bosTokenId
           : s->tokenizer       ? s->tokenizer->getBosId()
                                : -1;
  // Warnings and remarks of a successful open still reach the user.
  if (!diagnostics.empty())
    errs() << diagnostics;
  return std::move(s);
}

Expected<std::vector<int64_t>> ModelSession::encodeChat(StringRef system,
                                                        StringRef user) const {
  if (!tokenizer)
    return createStringError(inconvertibleErrorCode(),
                             path + ": the model has no tokenizer");
  return encodeChatTurn(*tokenizer, chatTemplate, bos, system, user);
}

Expected<std::unique_ptr<Engine>>
ModelSession::createEngine(const EngineOptions &options) const {
  return Engine::create(*program, options);
}
