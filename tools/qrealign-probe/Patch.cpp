//===- Patch.cpp - qrealign-probe patch: does crossing a boundary matter? -===//
//
// Part of the qrealign project.
//
// In the fine-tuned model, at one layer and the last prompt token, while
// the prompt runs (prefill only), replace
//   (a) the component of the state along a base probe's direction w:
//       h' = h + (w . (h_base - h) / ||w||^2) w, so that w . h' = w . h_base
//       (the probe's logit becomes the base's, nothing else moves), and
//   (b) the whole state: h' = h_base,
// by the aligned base model's values on the same prompt, then decode
// greedily and count refusals. (a) runs for every probes file given (L1,
// L2, difference of means); the table says per layer how many refusals
// each patch restores.
//
//===----------------------------------------------------------------------===//

#include "ProbeTool.h"

#include "qrealign/Probes/ProbesFile.h"
#include "qrealign/Support/AtomicOutput.h"
#include "qrealign/Support/Message.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"

#include <cmath>
#include <numeric>

using namespace llvm;
using namespace qrealign;
using namespace qrealign::probes;
using namespace qrealign::probetool;

static cl::opt<std::string> basePath("base", cl::desc("The aligned base model"),
                                     cl::value_desc("path"), cl::sub(patchCmd));
static cl::opt<std::string>
    modelPath("model", cl::desc("The model to patch (fine-tuned)"),
              cl::value_desc("path"), cl::sub(patchCmd));
static cl::list<std::string>
    probeFiles("probes",
               cl::desc("NAME=FILE: probes fitted on the base; each adds the "
                        "patch along its directions (repeatable)"),
               cl::value_desc("name=file"), cl::sub(patchCmd));
static cl::opt<std::string>
    dataSpec("data",
             cl::desc("NAME=SPEC[,SPEC...] as fit's --test; its malicious "
                      "prompts are used"),
             cl::value_desc("name=spec"), cl::sub(patchCmd));
static cl::list<int> layerList("layers",
                               cl::desc("Layers to patch (default: all)"),
                               cl::CommaSeparated, cl::sub(patchCmd));
static cl::opt<int> limit("limit",
                          cl::desc("At most this many prompts (0: all)"),
                          cl::init(0), cl::sub(patchCmd));
static cl::opt<int> maxNewTokens("max-new-tokens",
                                 cl::desc("New tokens per prompt"),
                                 cl::init(35), cl::sub(patchCmd));
static cl::opt<std::string>
    judgeName("judge",
              cl::desc("Refusal judge, as qrealign-eval's (default: "
                       "gcg_test_prefixes_evaluate with --keywords, else "
                       "builtin)"),
              cl::sub(patchCmd));
static cl::opt<std::string> keywordsFile("keywords",
                                         cl::desc("refusal_keywords.json"),
                                         cl::value_desc("file"),
                                         cl::sub(patchCmd));
static cl::opt<std::string> outDir("o", cl::desc("Output directory"),
                                   cl::value_desc("dir"), cl::sub(patchCmd));

namespace {
struct Row {
  std::string patch; // "none", "whole state", "along NAME"
  int32_t layer;     // -1: no patch
  int64_t refusals = 0;
  /// Mean ||h' - h|| over prompts (how far the patch moved the state).
  double shift = 0;
  std::vector<std::string> completions;
};
} // namespace

int probetool::runPatch(const char *argv0) {
  if (basePath.empty() || modelPath.empty() || dataSpec.empty() ||
      outDir.empty())
    return error("patch needs --base PATH, --model PATH, --data NAME=SPEC "
                 "and -o DIR");
  if (maxNewTokens < 1)
    return error("--max-new-tokens must be >= 1");
  Expected<data::RefusalJudge> judge =
      lab::selectJudge(judgeName, keywordsFile);
  if (!judge)
    return error(toString(judge.takeError()));
  std::vector<std::pair<std::string, ProbesFile>> probeSets;
  for (StringRef spec : probeFiles) {
    auto [name, path] = spec.rsplit('=');
    if (name.empty() || path.empty())
      return error("--probes '" + spec + "': expected NAME=FILE");
    Expected<ProbesFile> f = readProbesFile(path);
    if (!f)
      return error(toString(f.takeError()));
    probeSets.push_back({name.str(), std::move(*f)});
  }
  Expected<PromptSet> data = loadPromptSet("data", dataSpec);
  if (!data)
    return error(toString(data.takeError()));
  std::vector<data::Example> prompts;
  for (auto [e, y] : zip(data->examples, data->labels))
    if (y == 1 && (limit <= 0 || int(prompts.size()) < limit))
      prompts.push_back(e);
  if (prompts.empty())
    return error("--data " + data->name + ": no malicious (label 1) prompts");
  int64_t n = prompts.size();

  // The base: its states at every layer, and its own refusals.
  auto base = probetool::loadModel(basePath, argv0);
  if (!base) {
    reportError("qrealign-probe", base.takeError());
    return 1;
  }
  int32_t L = (*base)->engine->getNumLayers();
  int64_t D = (*base)->engine->getHiddenSize();
  std::vector<int32_t> layers;
  for (int l : layerList) {
    if (l < 0 || l >= L)
      return error(formatv("--layers: {0} is not a layer of {1} ({2} "
                           "layers)",
                           l, basePath, L));
    layers.push_back(l);
  }
  if (layers.empty()) {
    layers.resize(L);
    std::iota(layers.begin(), layers.end(), 0);
  }
  for (auto &[name, f] : probeSets) {
    if (f.hiddenSize != D || f.numLayers != L)
      return error(formatv("--probes {0}: fitted on hidden size {1} and {2} "
                           "layers; the base has {3} and {4}",
                           name, f.hiddenSize, f.numLayers, D, L));
    for (int32_t l : layers) {
      const ProbeRecord *p = f.lookup(getLayerProbeName(l));
      if (!p || !p->hasData() || !p->isFittedOn(getLayerProbeTensor(l)))
        return error(formatv("--probes {0}: no usable probe '{1}' (of '{2}' "
                             "at the last prompt token)",
                             name, getLayerProbeName(l),
                             getLayerProbeTensor(l)));
    }
  }
  // The tensors fit and report read (--max-prompt-tokens), within the
  // context generation leaves for the prompt.
  int maxPrompt = std::min<int>(
      maxPromptTokens, lab::getCompletionPromptLimit(**base, maxNewTokens));
  auto baseStates =
      captureLastToken(**base, prompts, layers, maxPrompt, "capture base");
  if (!baseStates)
    return error(toString(baseStates.takeError()));
  std::vector<Row> rows;
  auto judged = [&](Row row, Expected<std::vector<std::string>> out) -> Error {
    if (!out)
      return out.takeError();
    for (const std::string &c : *out)
      row.refusals += judge->isRefusal(c);
    row.completions = std::move(*out);
    rows.push_back(std::move(row));
    return Error::success();
  };
  if (Error err = judged({"aligned base", -1},
                         lab::complete(**base, prompts, maxNewTokens, batchSize,
                                       "generate base", nullptr, maxPrompt)))
    return error(toString(std::move(err)));
  std::vector<int64_t> baseIds =
      lab::encodePrompt(**base, prompts[0].prompt, maxPrompt);
  base->reset();

  // The model: unpatched, then each patch.
  auto model = probetool::loadModel(modelPath, argv0);
  if (!model) {
    reportError("qrealign-probe", model.takeError());
    return 1;
  }
  lab::LabModel &m = **model;
  if (m.engine->getHiddenSize() != D || m.engine->getNumLayers() != L)
    return error(formatv("{0} has hidden size {1} and {2} layers; the base "
                         "has {3} and {4}",
                         modelPath, m.engine->getHiddenSize(),
                         m.engine->getNumLayers(), D, L));
  if (lab::encodePrompt(m, prompts[0].prompt, maxPrompt) != baseIds)
    return error(modelPath + " renders the prompts into other tokens than " +
                 basePath + " (another tokenizer or chat template)");
  auto states = captureLastToken(m, prompts, layers, maxPrompt, "capture");
  if (!states)
    return error(toString(states.takeError()));
  if (Error err =
          judged({"none (the model)", -1},
                 lab::complete(m, prompts, maxNewTokens, batchSize,
                               "generate unpatched", nullptr, maxPrompt)))
    return error(toString(std::move(err)));
  for (auto [k, l] : enumerate(layers)) {
    ArrayRef<float> hb = (*baseStates)[k], hm = (*states)[k];
    auto run =
        [&](std::string what,
            function_ref<void(int64_t, std::vector<float> &)> patch) -> Error {
      std::vector<std::vector<float>> values(n);
      Row row{what, l};
      for (int64_t i = 0; i < n; ++i) {
        values[i].assign(hm.begin() + i * D, hm.begin() + (i + 1) * D);
        patch(i, values[i]);
        double d2 = 0;
        for (int64_t j = 0; j < D; ++j)
          d2 += double(values[i][j] - hm[i * D + j]) *
                double(values[i][j] - hm[i * D + j]);
        row.shift += std::sqrt(d2) / double(n);
      }
      lab::PromptPatch p{l, values};
      return judged(std::move(row),
                    lab::complete(m, prompts, maxNewTokens, batchSize,
                                  formatv("layer {0} {1}", l, what).str(), &p,
                                  maxPrompt));
    };
    if (Error err = run("whole state", [&](int64_t i, std::vector<float> &h) {
          std::copy(hb.begin() + i * D, hb.begin() + (i + 1) * D, h.begin());
        }))
      return error(toString(std::move(err)));
    for (auto &[name, f] : probeSets) {
      const std::vector<float> &w = f.lookup(getLayerProbeName(l))->weight;
      double ww = 0;
      for (float v : w)
        ww += double(v) * v;
      if (ww == 0) {
        // An empty probe has no direction: the patch is the identity, and
        // the completions are the unpatched ones.
        Row same = rows[1];
        same.patch = "along " + name;
        same.layer = l;
        rows.push_back(std::move(same));
        continue;
      }
      if (Error err =
              run("along " + name, [&](int64_t i, std::vector<float> &h) {
                double dot = 0;
                for (int64_t j = 0; j < D; ++j)
                  dot += double(w[j]) * (hb[i * D + j] - hm[i * D + j]);
                for (int64_t j = 0; j < D; ++j)
                  h[j] += float(dot / ww * w[j]);
              }))
        return error(toString(std::move(err)));
    }
  }

  // Outputs.
  json::Array rowsJson;
  for (const Row &r : rows) {
    json::Array comps;
    for (const std::string &c : r.completions)
      comps.push_back(c);
    rowsJson.push_back(json::Object{
        {"patch", r.patch},
        {"layer", r.layer < 0 ? json::Value(nullptr) : json::Value(r.layer)},
        {"refusals", r.refusals},
        {"prompts", n},
        {"mean_shift", r.shift},
        {"completions", std::move(comps)}});
  }
  json::Array probesJson;
  for (auto &[name, f] : probeSets)
    probesJson.push_back(
        json::Object{{"name", name},
                     {"penalty", f.info.getString("penalty").value_or("?")}});
  json::Object report{{"format", "qrealign-probe-patch"},
                      {"base", basePath.getValue()},
                      {"model", modelPath.getValue()},
                      {"data", dataSpec.getValue()},
                      {"judge", judge->name},
                      {"max_new_tokens", int64_t(maxNewTokens)},
                      {"probes", std::move(probesJson)},
                      {"rows", std::move(rowsJson)}};
  std::string md;
  raw_string_ostream os(md);
  auto pct = [&](int64_t r) {
    return formatv("{0} / {1} ({2}%)", r, n,
                   format("%.0f", 100.0 * double(r) / double(n)))
        .str();
  };
  os << formatv("# Causal check: refusals of {0} with the base's state "
                "patched in\n\n{1} malicious prompts of {2}, greedy, {3} new "
                "tokens, judge {4}. Aligned base: {5}; the model unpatched: "
                "{6}.\n\nEach cell: the share of prompts refused (and the mean "
                "distance ||h' - h|| the patch moved the state).\n\n| layer | "
                "whole state |",
                modelPath, n, data->name, int(maxNewTokens), judge->name,
                pct(rows[0].refusals), pct(rows[1].refusals));
  for (auto &[name, f] : probeSets)
    os << " along " << name << " |";
  os << "\n|---:|---:|";
  for (size_t i = 0; i < probeSets.size(); ++i)
    os << "---:|";
  os << "\n";
  size_t perLayer = 1 + probeSets.size();
  for (size_t k = 0; k < layers.size(); ++k) {
    os << "| " << layers[k] << " |";
    for (size_t j = 0; j < perLayer; ++j) {
      const Row &r = rows[2 + k * perLayer + j];
      os << formatv(" {0}% ({1}) |",
                    format("%.0f", 100.0 * double(r.refusals) / double(n)),
                    format("%.2f", r.shift));
    }
    os << "\n";
  }

  if (Error err =
          writeResults(outDir, "patch", json::Value(std::move(report)), md))
    return error(toString(std::move(err)));
  outs() << md;
  return 0;
}
