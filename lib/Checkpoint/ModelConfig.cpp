//===- ModelConfig.cpp - Hugging Face config.json and llama2.c configs ----===//

#include "qrealign/Checkpoint/ModelConfig.h"
#include "qrealign/Checkpoint/Checkpoint.h"
#include "qrealign/Support/InputFile.h"
#include "qrealign/Support/JSON.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cmath>
#include <tuple>

using namespace llvm;

namespace qrealign {
static Error fail(StringRef file, const Twine &msg) {
  return createStringError(inconvertibleErrorCode(), file + ": " + msg);
}

static constexpr StringLiteral kSupportedTypes = "llama, mistral, qwen2";

Error ModelConfig::validate(StringRef origin) const {
  using L = ModelLimits;
  for (auto [key, v, max] :
       {std::tuple<StringRef, int64_t, int64_t>{"hidden_size", hiddenSize,
                                                L::kMaxHiddenSize},
        {"num_hidden_layers", numLayers, L::kMaxLayers},
        {"num_attention_heads", numHeads, L::kMaxHeads},
        {"num_key_value_heads", numKVHeads, L::kMaxHeads},
        {"head_dim", headDim, L::kMaxHeadDim},
        {"intermediate_size", intermediateSize, L::kMaxIntermediateSize},
        {"vocab_size", vocabSize, L::kMaxVocabSize}}) {
    if (v <= 0)
      return fail(origin, key + " must be positive, got " + Twine(v));
    if (v > max)
      return fail(origin, formatv("{0} = {1} exceeds qrealign's limit of {2}",
                                  key, v, max));
  }
  if (maxPositions < 0 || maxPositions > L::kMaxPositions)
    return fail(origin, formatv("max_position_embeddings = {0} must be in "
                                "[0, {1}]",
                                maxPositions, L::kMaxPositions));
  if (slidingWindow < 0 || slidingWindow > L::kMaxPositions)
    return fail(origin, formatv("sliding_window = {0} must be in [0, {1}]",
                                slidingWindow, L::kMaxPositions));
  if (numHeads % numKVHeads)
    return fail(origin, formatv("num_attention_heads ({0}) is not a multiple "
                                "of num_key_value_heads ({1})",
                                numHeads, numKVHeads));
  if (headDim % 2)
    return fail(origin,
                formatv("head_dim ({0}) must be even for RoPE", headDim));
  // heads * head_dim is at most 2^28 with the bounds above: no overflow.
  if (numHeads * headDim > L::kMaxHiddenSize)
    return fail(origin, formatv("num_attention_heads * head_dim = {0} * {1} "
                                "exceeds qrealign's limit of {2}",
                                numHeads, headDim, L::kMaxHiddenSize));
  if (!std::isfinite(rmsNormEps) || !(rmsNormEps > 0) || !(rmsNormEps < 1))
    return fail(origin, formatv("rms_norm_eps = {0} must be finite and in "
                                "(0, 1)",
                                rmsNormEps));
  if (!std::isfinite(ropeTheta) || !(ropeTheta > 0))
    return fail(origin, formatv("rope_theta = {0} must be finite and positive",
                                ropeTheta));
  if (bosTokenId != -1 && (bosTokenId < 0 || bosTokenId >= vocabSize))
    return fail(origin, formatv("bos_token_id {0} is not a token id of the "
                                "{1}-token vocabulary",
                                bosTokenId, vocabSize));
  for (int64_t eos : eosTokenIds)
    if (eos < 0 || eos >= vocabSize)
      return fail(origin, formatv("eos_token_id {0} is not a token id of the "
                                  "{1}-token vocabulary",
                                  eos, vocabSize));
  return Error::success();
}

Expected<ModelConfig> parseHFConfigText(StringRef text, StringRef origin) {
  JSONLimits limits;
  limits.maxDepth = 16;
  Expected<json::Value> parsed = parseJSON(text, origin, limits);
  if (!parsed)
    return parsed.takeError();
  const json::Object *o = parsed->getAsObject();
  if (!o)
    return fail(origin, "not a JSON object");
  ModelConfig c;
  std::optional<StringRef> type = o->getString("model_type");
  if (!type)
    return fail(origin,
                "missing 'model_type' (supported: " + kSupportedTypes + ")");
  if (*type != "llama" && *type != "mistral" && *type != "qwen2")
    return fail(origin, "unsupported model_type '" + *type +
                            "' (supported: " + kSupportedTypes + ")");
  c.modelType = type->str();

  auto getInt = [&](StringRef key, int64_t &out, bool required,
                    int64_t fallback = 0) -> Error {
    const json::Value *v = o->get(key);
    if (!v || v->kind() == json::Value::Null) {
      if (required)
        return fail(origin, "missing integer '" + key + "'");
      out = fallback;
      return Error::success();
    }
    std::optional<int64_t> i = v->getAsInteger();
    if (!i)
      return fail(origin, "'" + key + "' is not an integer");
    out = *i;
    return Error::success();
  };
  auto getNum = [&](StringRef key, double &out, double fallback) -> Error {
    const json::Value *v = o->get(key);
    if (!v || v->kind() == json::Value::Null) {
      out = fallback;
      return Error::success();
    }
    std::optional<double> d = v->getAsNumber();
    if (!d)
      return fail(origin, "'" + key + "' is not a number");
    out = *d;
    return Error::success();
  };
  auto getBool = [&](StringRef key, bool &out, bool fallback) -> Error {
    const json::Value *v = o->get(key);
    if (!v || v->kind() == json::Value::Null) {
      out = fallback;
      return Error::success();
    }
    std::optional<bool> b = v->getAsBoolean();
    if (!b)
      return fail(origin, "'" + key + "' is not a boolean");
    out = *b;
    return Error::success();
  };

  if (Error e = getInt("hidden_size", c.hiddenSize, true))
    return std::move(e);
  if (Error e = getInt("num_hidden_layers", c.numLayers, true))
    return std::move(e);
  if (Error e = getInt("num_attention_heads", c.numHeads, true))
    return std::move(e);
  if (Error e = getInt("num_key_value_heads", c.numKVHeads, false, c.numHeads))
    return std::move(e);
  if (Error e = getInt("intermediate_size", c.intermediateSize, true))
    return std::move(e);
  if (Error e = getInt("vocab_size", c.vocabSize, true))
    return std::move(e);
  if (Error e = getInt("max_position_embeddings", c.maxPositions, false, 0))
    return std::move(e);
  int64_t defaultHeadDim = c.numHeads > 0 ? c.hiddenSize / c.numHeads : 0;
  if (Error e = getInt("head_dim", c.headDim, false, defaultHeadDim))
    return std::move(e);
  if (c.numHeads > 0 && !o->get("head_dim") && c.hiddenSize % c.numHeads)
    return fail(origin, formatv("hidden_size ({0}) is not a multiple of "
                                "num_attention_heads ({1}) and no head_dim "
                                "is given",
                                c.hiddenSize, c.numHeads));
  if (Error e = getNum("rms_norm_eps", c.rmsNormEps, 1e-6))
    return std::move(e);
  if (Error e = getNum("rope_theta", c.ropeTheta, 10000.0))
    return std::move(e);
  // Hugging Face's LlamaConfig, MistralConfig and Qwen2Config all default to
  // untied embeddings.
  if (Error e = getBool("tie_word_embeddings", c.tieWordEmbeddings, false))
    return std::move(e);

  if (std::optional<StringRef> act = o->getString("hidden_act"))
    if (*act != "silu")
      return fail(origin,
                  "unsupported hidden_act '" + *act + "' (supported: silu)");
  if (const json::Value *rs = o->get("rope_scaling");
      rs && rs->kind() != json::Value::Null) {
    const json::Object *r = rs->getAsObject();
    std::optional<StringRef> kind =
        r ? (r->getString("rope_type") ? r->getString("rope_type")
                                       : r->getString("type"))
          : std::nullopt;
    if (!kind || *kind != "default")
      return fail(origin, "unsupported rope_scaling '" +
                              (kind ? *kind : StringRef("?")) +
                              "' (supported: none/default)");
  }

  if (c.modelType == "qwen2") {
    c.qkvBias = true;
    bool sliding = false;
    if (Error e = getBool("use_sliding_window", sliding, false))
      return std::move(e);
    if (sliding)
      return fail(origin, "use_sliding_window = true is not supported");
  } else {
    bool attnBias = false;
    if (Error e = getBool("attention_bias", attnBias, false))
      return std::move(e);
    c.qkvBias = c.oBias = attnBias;
    if (Error e = getBool("mlp_bias", c.mlpBias, false))
      return std::move(e);
  }
  if (c.modelType == "mistral")
    if (Error e = getInt("sliding_window", c.slidingWindow, false, 0))
      return std::move(e);

  if (Error e = getInt("bos_token_id", c.bosTokenId, false, -1))
    return std::move(e);
  // -1 means "none" inside qrealign, not in the file: a negative id there
  // is an error, not an absent BOS.
  if (const json::Value *bos = o->get("bos_token_id");
      bos && bos->kind() != json::Value::Null && c.bosTokenId < 0)
    return fail(origin,
                formatv("bos_token_id {0} is not a token id", c.bosTokenId));
  if (const json::Value *eos = o->get("eos_token_id")) {
    if (std::optional<int64_t> one = eos->getAsInteger())
      c.eosTokenIds.push_back(*one);
    else if (const json::Array *many = eos->getAsArray()) {
      for (const json::Value &v : *many) {
        std::optional<int64_t> id = v.getAsInteger();
        if (!id)
          return fail(origin, "'eos_token_id' entries must be integers");
        c.eosTokenIds.push_back(*id);
      }
    } else if (eos->kind() != json::Value::Null)
      return fail(origin, "'eos_token_id' must be an integer or a list");
  }
  if (Error e = c.validate(origin))
    return std::move(e);
  return c;
}

Expected<ModelConfig> parseHFConfig(StringRef path) {
  Expected<std::unique_ptr<MemoryBuffer>> buf =
      readRegularFile(path, ModelLimits::kMaxConfigFileSize, "a config.json");
  if (!buf)
    return buf.takeError();
  return parseHFConfigText((*buf)->getBuffer(), path);
}

ModelConfig getLlama2CModelConfig(const Llama2CConfig &h) {
  ModelConfig c;
  c.modelType = "llama2c";
  c.hiddenSize = h.dim;
  c.numLayers = h.numLayers;
  c.numHeads = h.numHeads;
  c.numKVHeads = h.numKVHeads;
  c.headDim = h.dim / h.numHeads;
  c.intermediateSize = h.hiddenDim;
  c.vocabSize = h.vocabSize;
  c.maxPositions = h.seqLen;
  c.rmsNormEps = 1e-5;
  c.ropeTheta = 10000.0;
  c.ropeInterleaved = true;
  c.tieWordEmbeddings = h.sharedClassifier;
  c.bosTokenId = 1;
  c.eosTokenIds = {2};
  return c;
}
} // namespace qrealign
