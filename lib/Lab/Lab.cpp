//===- Lab.cpp - The safety lab: models, training and evaluation ----------===//

#include "qrealign/Lab/Lab.h"
#include "qrealign/Checkpoint/Checkpoint.h"
#include "qrealign/Checkpoint/ModelConfig.h"
#include "qrealign/Import/Import.h"
#include "qrealign/Support/AtomicOutput.h"
#include "qrealign/Support/Limits.h"
#include "qrealign/Support/OutputDirectory.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <numeric>
#include <thread>

using namespace llvm;

namespace qrealign::lab {
static Error fail(const Twine &msg) {
  return createStringError(inconvertibleErrorCode(), msg);
}

//===----------------------------------------------------------------------===//
// Creating a model
//===----------------------------------------------------------------------===//

namespace {
/// A portable normal generator (SplitMix64 + Box-Muller).
class Normal {
public:
  explicit Normal(uint64_t seed) : state(seed) {}
  float next() {
    if (hasSpare) {
      hasSpare = false;
      return spare;
    }
    double u1 = (double(nextU64() >> 11) + 0.5) * 0x1.0p-53;
    double u2 = double(nextU64() >> 11) * 0x1.0p-53;
    double r = std::sqrt(-2.0 * std::log(u1)), t = 2.0 * M_PI * u2;
    spare = float(r * std::sin(t));
    hasSpare = true;
    return float(r * std::cos(t));
  }

private:
  uint64_t nextU64() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  uint64_t state;
  bool hasSpare = false;
  float spare = 0;
};
} // namespace

Error validateModelShape(const ModelShape &shape) {
  // Positivity and bounds first (ModelConfig::validate), so that nothing
  // below divides by zero or sizes an allocation from an unchecked value.
  ModelConfig c;
  c.modelType = "llama";
  c.hiddenSize = shape.hidden;
  c.numLayers = shape.layers;
  c.numHeads = shape.heads;
  c.numKVHeads = shape.kvHeads;
  c.intermediateSize = shape.intermediate;
  c.vocabSize = shape.vocab;
  c.maxPositions = shape.maxPositions;
  c.headDim = shape.heads > 0 ? shape.hidden / shape.heads : 0;
  if (Error err = c.validate("the model shape"))
    return err;
  if (shape.hidden % shape.heads)
    return fail(formatv("the hidden size ({0}) must split into {1} heads",
                        shape.hidden, shape.heads));
  if (shape.vocab < 16)
    return fail("the vocabulary needs at least 16 pieces, got " +
                Twine(shape.vocab));
  // The weights are made in memory before they are written.
  c.tieWordEmbeddings = true;
  std::optional<uint64_t> floats = uint64_t(0);
  for (const auto &[name, dims] : getExpectedTensors(c)) {
    std::optional<uint64_t> bytes = getCheckedByteSize(dims, sizeof(float));
    floats = bytes && floats ? checkedAdd(*floats, *bytes) : std::nullopt;
  }
  return checkAllocation(floats, "a model of this shape");
}

Error createModel(StringRef dir, const ModelShape &shape,
                  ArrayRef<std::string> tokenizerTexts, uint64_t seed,
                  bool force) {
  if (Error err = validateModelShape(shape))
    return err;
  // Built in a staging directory: a failure leaves no half-made model.
  Expected<OutputDirectory> out =
      OutputDirectory::create(dir, "qrealign-train --init", force);
  if (!out)
    return out.takeError();
  StringRef staging = out->getStagingPath();
  SmallString<256> tokPath(staging);
  sys::path::append(tokPath, "tokenizer.model");
  if (Error err = trainSentencePiece(tokenizerTexts, tokPath, shape.vocab))
    return err;
  Expected<std::unique_ptr<Tokenizer>> tok = Tokenizer::load(tokPath);
  if (!tok)
    return tok.takeError();
  int64_t vocab = (*tok)->getVocabSize();
  json::Object cfg{{"architectures", json::Array{"LlamaForCausalLM"}},
                   {"model_type", "llama"},
                   {"hidden_act", "silu"},
                   {"hidden_size", shape.hidden},
                   {"num_hidden_layers", shape.layers},
                   {"num_attention_heads", shape.heads},
                   {"num_key_value_heads", shape.kvHeads},
                   {"intermediate_size", shape.intermediate},
                   {"vocab_size", vocab},
                   {"max_position_embeddings", shape.maxPositions},
                   {"rms_norm_eps", 1e-5},
                   {"rope_theta", 10000.0},
                   {"tie_word_embeddings", true},
                   {"bos_token_id", (*tok)->getBosId()},
                   {"eos_token_id", (*tok)->getEosId()},
                   {"torch_dtype", "float32"}};
  std::string cfgText = formatv("{0:2}", json::Value(std::move(cfg))).str();
  SmallString<256> cfgPath(staging);
  sys::path::append(cfgPath, "config.json");
  if (Error err = writeFileAtomically(cfgPath, [&](raw_ostream &os) {
        os << cfgText << "\n";
        return Error::success();
      }))
    return err;
  Expected<ModelConfig> config = parseHFConfigText(cfgText, cfgPath);
  if (!config)
    return config.takeError();
  Normal normal(seed);
  std::vector<std::vector<float>> store;
  std::vector<TensorToWrite> tensors;
  auto expected = getExpectedTensors(*config);
  store.reserve(expected.size());
  float outScale = 1.0f / std::sqrt(2.0f * shape.layers);
  for (auto &[name, dims] : expected) {
    int64_t n = std::accumulate(dims.begin(), dims.end(), int64_t(1),
                                std::multiplies<int64_t>());
    std::vector<float> v(n);
    StringRef nm(name);
    if (nm.ends_with("norm.weight")) {
      std::fill(v.begin(), v.end(), 1.0f);
    } else {
      float scale =
          0.02f *
          (nm.contains("o_proj") || nm.contains("down_proj") ? outScale : 1.0f);
      for (float &x : v)
        x = scale * normal.next();
    }
    store.push_back(std::move(v));
    tensors.push_back({name, DType::F32, dims,
                       ArrayRef<uint8_t>(reinterpret_cast<const uint8_t *>(
                                             store.back().data()),
                                         store.back().size() * sizeof(float))});
  }
  SmallString<256> weights(staging);
  sys::path::append(weights, "model.safetensors");
  if (Error err = writeSafeTensors(weights, tensors, {{"format", "pt"}}))
    return err;
  return out->commit();
}

//===----------------------------------------------------------------------===//
// Loading and saving
//===----------------------------------------------------------------------===//

EngineOptions makeEngineOptions(StringRef device, int threads,
                                const char *argv0) {
  EngineOptions options;
  options.device = device.str();
  options.numThreads =
      threads > 0 ? threads : int(std::thread::hardware_concurrency());
  options.executablePath = argv0;
  return options;
}

Expected<std::unique_ptr<LabModel>> loadModel(StringRef dir,
                                              const EngineOptions &options) {
  auto m = std::make_unique<LabModel>();
  m->dir = dir.str();
  SessionOptions sessionOptions;
  sessionOptions.toolName = "qrealign-lab";
  Expected<std::unique_ptr<ModelSession>> session =
      ModelSession::open(dir, sessionOptions);
  if (!session)
    return session.takeError();
  m->session = std::move(*session);
  Expected<std::unique_ptr<Engine>> engine = m->session->createEngine(options);
  if (!engine)
    return engine.takeError();
  m->engine = std::move(*engine);
  return std::move(m);
}

Error saveModel(LabModel &model, StringRef outDir, const json::Object &info,
                bool bf16, bool force) {
  // The output policy (docs/robustness.md): build beside the target, swap
  // it in atomically; a failure (a full disk) leaves the old output intact
  // and removes the staging directory.
  Expected<OutputDirectory> out =
      OutputDirectory::create(outDir, "qrealign-train", force);
  if (!out)
    return out.takeError();
  StringRef staging = out->getStagingPath();
  for (StringRef name : {"config.json", "tokenizer.model", "tokenizer.json",
                         "tokenizer_config.json"}) {
    SmallString<256> from(model.dir), to(staging);
    sys::path::append(from, name);
    sys::path::append(to, name);
    if (!sys::fs::exists(from))
      continue;
    if (std::error_code ec = sys::fs::copy_file(from, to))
      return fail(from + ": cannot copy to " + staging + ": " + ec.message());
  }
  SmallString<256> weights(staging);
  sys::path::append(weights, "model.safetensors");
  if (Error err = model.engine->saveSafeTensors(weights, bf16))
    return err;
  SmallString<256> infoPath(staging);
  sys::path::append(infoPath, "train-info.json");
  json::Object copy = info;
  if (Error err = writeFileAtomically(infoPath, [&](raw_ostream &os) {
        os << formatv("{0:2}", json::Value(std::move(copy))) << "\n";
        return Error::success();
      }))
    return err;
  return out->commit();
}

//===----------------------------------------------------------------------===//
// Encoding
//===----------------------------------------------------------------------===//

std::vector<int64_t> encodePrompt(const LabModel &model, StringRef prompt,
                                  int maxTokens) {
  std::string user = prompt.str();
  std::vector<int64_t> ids;
  for (int attempt = 0; attempt < 12; ++attempt) {
    // The session checked the template name and loaded a tokenizer.
    ids = cantFail(model.session->encodeChat(data::getLabSystemPrompt(), user));
    if (int(ids.size()) <= maxTokens || user.size() < 8)
      break;
    user.resize(user.size() * 3 / 4); // keep the start of the request
  }
  return ids;
}

Encoded encodeExample(const LabModel &model, const data::Example &example,
                      int maxPrompt, int maxResponse) {
  Encoded e;
  e.ids = encodePrompt(model, example.prompt, maxPrompt);
  e.targets.assign(e.ids.size(), 0);
  std::vector<int64_t> resp = model.getTokenizer().encode(example.response);
  bool fits = int(resp.size()) < maxResponse;
  if (!fits)
    resp.resize(maxResponse);
  else if (model.session->getEosId() >= 0)
    resp.push_back(model.session->getEosId());
  e.ids.insert(e.ids.end(), resp.begin(), resp.end());
  e.targets.insert(e.targets.end(), resp.size(), 1);
  return e;
}

//===----------------------------------------------------------------------===//
// Generation
//===----------------------------------------------------------------------===//

int getCompletionPromptLimit(const LabModel &model, int maxNewTokens) {
  return std::max<int>(16, int(model.session->getModelInfo().maxPositions) -
                               maxNewTokens);
}

Expected<std::vector<std::string>>
complete(LabModel &model, ArrayRef<data::Example> prompts, int maxNewTokens,
         int batchSize, StringRef progressLabel, const PromptPatch *patch,
         int maxPromptTokens) {
  if (patch && patch->values.size() != prompts.size())
    return createStringError(inconvertibleErrorCode(),
                             "a patch needs one state per prompt");
  std::vector<std::vector<int64_t>> enc;
  int maxPrompt = maxPromptTokens > 0
                      ? maxPromptTokens
                      : getCompletionPromptLimit(model, maxNewTokens);
  for (const data::Example &e : prompts)
    enc.push_back(encodePrompt(model, e.prompt, maxPrompt));
  // Similar lengths together: less padding.
  std::vector<size_t> order(enc.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return enc[a].size() < enc[b].size();
  });
  std::vector<std::string> out(prompts.size());
  Progress progress(progressLabel.str(), prompts.size());
  for (size_t i = 0; i < order.size(); i += batchSize) {
    std::vector<std::vector<int64_t>> batch;
    size_t end = std::min(order.size(), i + batchSize);
    Engine::Patch batchPatch;
    for (size_t k = i; k < end; ++k) {
      batch.push_back(enc[order[k]]);
      if (patch)
        batchPatch.values.push_back(patch->values[order[k]]);
    }
    batchPatch.layer = patch ? patch->layer : -1;
    Expected<GenerateResult> gen =
        model.engine->generate(batch, maxNewTokens, model.session->getStopIds(),
                               patch ? &batchPatch : nullptr);
    if (!gen)
      return gen.takeError();
    for (size_t k = i; k < end; ++k)
      out[order[k]] = model.getTokenizer().decode(gen->tokens[k - i]);
    progress.update(end);
  }
  progress.finish();
  return out;
}

Expected<data::RefusalJudge> selectJudge(StringRef name,
                                         StringRef keywordsFile) {
  std::string wanted = name.empty() && !keywordsFile.empty()
                           ? "gcg_test_prefixes_evaluate"
                           : name.str();
  if (wanted.empty() || wanted == "builtin")
    return data::getBuiltinJudge();
  if (keywordsFile.empty())
    return createStringError(inconvertibleErrorCode(),
                             "--judge " + wanted + " needs --keywords FILE");
  auto judges = data::loadRefusalJudges(keywordsFile);
  if (!judges)
    return judges.takeError();
  for (const data::RefusalJudge &j : *judges)
    if (j.name == wanted)
      return j;
  std::string names = "builtin";
  for (const data::RefusalJudge &j : *judges)
    names += ", " + j.name;
  return createStringError(inconvertibleErrorCode(),
                           "unknown judge '" + wanted + "' (known: " + names +
                               ")");
}
} // namespace qrealign::lab
