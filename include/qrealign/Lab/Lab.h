//===- Lab.h - The safety lab: models, training and evaluation ---*- C++
//-*-===//
//
// The pieces qrealign-train and qrealign-eval share: creating a small
// Llama-family chat model as a Hugging Face directory, loading one onto the
// engine, turning conversations into token ids and training targets,
// progress lines with an ETA, and the safety evaluation (docs/lab.md).
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_LAB_LAB_H
#define QREALIGN_LAB_LAB_H

#include "qrealign/Data/Datasets.h"
#include "qrealign/Data/Splits.h"
#include "qrealign/Engine/Engine.h"
#include "qrealign/Engine/Program.h"
#include "qrealign/Session/ModelSession.h"
#include "qrealign/Support/Progress.h"
#include "qrealign/Tokenizer/Tokenizer.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/JSON.h"

#include <chrono>

namespace qrealign::lab {
/// The shape of a new lab model (Llama architecture, tied embeddings).
struct ModelShape {
  int layers = 4, hidden = 128, heads = 4, kvHeads = 4, intermediate = 384;
  int vocab = 2048, maxPositions = 512;
};

/// Checks a shape before anything is made from it: every value positive
/// and within ModelLimits, heads dividing the hidden size, and the weights
/// fitting in memory.
llvm::Error validateModelShape(const ModelShape &shape);

/// Creates a Hugging Face model directory at `dir`: a SentencePiece tokenizer
/// trained on `tokenizerTexts`, config.json, and weights drawn from
/// N(0, 0.02) (output projections scaled by 1/sqrt(2 layers), norms 1) with
/// a portable generator, so the same seed gives the same bytes everywhere.
/// `dir` follows the output policy (OutputDirectory): built beside it and
/// swapped in; an existing non-empty directory not written by qrealign is
/// refused unless `force`.
llvm::Error createModel(llvm::StringRef dir, const ModelShape &shape,
                        llvm::ArrayRef<std::string> tokenizerTexts,
                        uint64_t seed, bool force = false);

/// Engine options of the lab tools: `threads` <= 0 means every core.
EngineOptions makeEngineOptions(llvm::StringRef device, int threads,
                                const char *argv0);

/// A model on the engine: a Hugging Face directory, a llama2.c checkpoint
/// or IR (quantized, for instance), opened through ModelSession like every
/// tool's model.
struct LabModel {
  std::unique_ptr<ModelSession> session;
  std::unique_ptr<Engine> engine;
  std::string dir;
  const Tokenizer &getTokenizer() const { return *session->getTokenizer(); }
};
llvm::Expected<std::unique_ptr<LabModel>>
loadModel(llvm::StringRef dir, const EngineOptions &options);

/// Writes the engine's current weights as a model directory `outDir` beside
/// the loaded one's config and tokenizer, plus `info` as train-info.json.
/// `outDir` follows the output policy (OutputDirectory): the directory is
/// built beside it and swapped in atomically; an existing non-empty
/// directory not written by qrealign is refused unless `force`.
llvm::Error saveModel(LabModel &model, llvm::StringRef outDir,
                      const llvm::json::Object &info, bool bf16 = false,
                      bool force = false);

/// Token ids of a rendered prompt (chat template with the lab's system
/// prompt, BOS where the template wants it), truncated from the left of the
/// user text to at most `maxTokens`.
std::vector<int64_t> encodePrompt(const LabModel &model, llvm::StringRef prompt,
                                  int maxTokens);
/// A training sequence: prompt ids, then the response (at most
/// `maxResponse` tokens) and EOS when the response fits; targets mark the
/// response and EOS.
struct Encoded {
  std::vector<int64_t> ids;
  std::vector<uint8_t> targets;
};
Encoded encodeExample(const LabModel &model, const data::Example &example,
                      int maxPrompt, int maxResponse);

using qrealign::Progress;

/// The longest prompt `complete` renders when it generates `maxNewTokens`
/// (the context left for the prompt, at least 16).
int getCompletionPromptLimit(const LabModel &model, int maxNewTokens);

/// A replacement of the residual stream after `layer` at each prompt's last
/// token while the prompt runs: `values[i]` for prompt i.
struct PromptPatch {
  int32_t layer = -1;
  llvm::ArrayRef<std::vector<float>> values;
};

/// Greedy completions of `prompts` (batched, at most `maxNewTokens`),
/// optionally with a prefill patch. Prompts are rendered with at most
/// `maxPromptTokens` tokens (<= 0: getCompletionPromptLimit).
llvm::Expected<std::vector<std::string>>
complete(LabModel &model, llvm::ArrayRef<data::Example> prompts,
         int maxNewTokens, int batchSize, llvm::StringRef progressLabel,
         const PromptPatch *patch = nullptr, int maxPromptTokens = 0);

/// The refusal judge named `name` (empty: gcg_test_prefixes_evaluate when
/// `keywordsFile` is given, else builtin) from `keywordsFile`
/// (refusal_keywords.json); `builtin` needs no file.
llvm::Expected<data::RefusalJudge> selectJudge(llvm::StringRef name,
                                               llvm::StringRef keywordsFile);
} // namespace qrealign::lab

#endif // QREALIGN_LAB_LAB_H
