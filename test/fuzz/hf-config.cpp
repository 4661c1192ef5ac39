//===- hf-config.cpp - Fuzz the Hugging Face config.json parser -----------===//
//
// Input: the text of a config.json. An accepted config satisfies every
// bound of ModelLimits (so that nothing sized from it overflows), and the
// tensor list it implies can be built.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Checkpoint/ModelConfig.h"

#include <cmath>
#include <cstdlib>

using namespace qrealign;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef text(reinterpret_cast<const char *>(data), size);
  llvm::Expected<ModelConfig> c = parseHFConfigText(text, "config.json");
  if (!c) {
    llvm::consumeError(c.takeError());
    return 0;
  }
  using L = ModelLimits;
  if (c->hiddenSize <= 0 || c->hiddenSize > L::kMaxHiddenSize ||
      c->numLayers <= 0 || c->numLayers > L::kMaxLayers || c->numHeads <= 0 ||
      c->numHeads > L::kMaxHeads || c->numKVHeads <= 0 ||
      c->numHeads % c->numKVHeads || c->headDim <= 0 || c->headDim % 2 ||
      c->headDim > L::kMaxHeadDim || c->vocabSize <= 0 ||
      c->vocabSize > L::kMaxVocabSize || c->intermediateSize <= 0 ||
      c->intermediateSize > L::kMaxIntermediateSize ||
      !std::isfinite(c->ropeTheta) || !(c->ropeTheta > 0) ||
      !std::isfinite(c->rmsNormEps) || !(c->rmsNormEps > 0))
    abort(); // accepted a config the IR verifier would reject
  for (int64_t eos : c->eosTokenIds)
    if (eos < 0 || eos >= c->vocabSize)
      abort();
  return 0;
}
