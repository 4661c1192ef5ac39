//===- hf-config.cpp - Fuzz the Hugging Face config.json parser -----------===//
//
// Input: the text of a config.json. An accepted config satisfies every
// bound of ModelLimits (so that nothing sized from it overflows), and the
// tensor list it implies can be built. An accepted compressed-tensors
// `quantization_config` holds only schemes qrealign imports, matches module
// names without crashing (regular expressions come from the file), and
// reads back equal from what the exporter writes for it.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Checkpoint/CompressedTensors.h"
#include "qrealign/Checkpoint/ModelConfig.h"
#include "qrealign/Support/JSON.h"

#include <cmath>
#include <cstdlib>

using namespace qrealign;

static void checkQuantizationConfig(llvm::StringRef text) {
  llvm::Expected<llvm::json::Value> json = parseJSON(text, "config.json");
  if (!json) {
    llvm::consumeError(json.takeError());
    return;
  }
  const llvm::json::Object *obj = json->getAsObject();
  if (!obj)
    return;
  auto q = parseCompressedTensorsConfig(*obj, "config.json");
  if (!q) {
    llvm::consumeError(q.takeError());
    return;
  }
  if (!*q)
    return;
  for (const CTGroup &g : (*q)->groups) {
    const CTScheme &s = g.scheme;
    if ((s.weightBits != 4 && s.weightBits != 8) || s.groupSize < 0 ||
        (s.actBits != 0 && s.actBits != 4 && s.actBits != 8) ||
        g.targets.empty())
      abort(); // accepted a scheme the importer cannot represent
  }
  for (llvm::StringRef name : {"model.layers.0.mlp.up_proj", "lm_head"}) {
    auto m = (*q)->match(name);
    if (!m)
      llvm::consumeError(m.takeError());
  }
  llvm::json::Object again{{"quantization_config", (*q)->toJSON()}};
  auto back = parseCompressedTensorsConfig(again, "again");
  if (!back || !*back || (*back)->format != (*q)->format ||
      (*back)->ignore != (*q)->ignore ||
      (*back)->groups.size() != (*q)->groups.size())
    abort(); // the exporter's form does not read back
  for (size_t i = 0; i < (*q)->groups.size(); ++i)
    if (!((*back)->groups[i].scheme == (*q)->groups[i].scheme) ||
        (*back)->groups[i].targets != (*q)->groups[i].targets)
      abort();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef text(reinterpret_cast<const char *>(data), size);
  checkQuantizationConfig(text);
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
