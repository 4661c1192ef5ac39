//===- Report.cpp - qrealign-probe report: separability by layer ----------===//
//
// Part of the qrealign project.
//
// For each model (the aligned base first, then fine-tuned and quantized
// ones of the same shape) on the same labelled prompts, and for each tensor
// the probes file has a probe for (every layer's output, the final norm's
// output), at the last prompt token:
//
//   - the base probe's accuracy and AUC (spatial separability);
//   - the Fisher-style ratio of centroid distance to within-class spread;
//   - the base probe's logit on malicious prompts: median, 10th percentile
//     and the share past the boundary (logit > 0); on benign prompts, the
//     median and 90th percentile;
//   - the logit lens: the layer's state through the final norm and the LM
//     head, and how often a refusal's first token wins, on malicious and on
//     benign prompts;
//   - the 2D PCA coordinates of every prompt (axes of the first model).
//
// Writes DIR/report.json and DIR/report.md (atomically);
// python/qrealign/plot_probes.py DIR draws the plots.
//
//===----------------------------------------------------------------------===//

#include "ProbeTool.h"

#include "qrealign/Data/Splits.h"
#include "qrealign/Probes/ProbesFile.h"
#include "qrealign/Probes/Separability.h"
#include "qrealign/Support/AtomicOutput.h"
#include "qrealign/Support/Message.h"
#include "qrealign/Support/Statistics.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"

#include <cmath>
#include <numeric>
#include <set>

using namespace llvm;
using namespace qrealign;
using namespace qrealign::probes;
using namespace qrealign::probetool;

static cl::opt<std::string>
    probesPath("probes",
               cl::desc("The probes file (qrealign-probe fit on "
                        "the aligned base)"),
               cl::value_desc("file"), cl::sub(reportCmd));
static cl::list<std::string>
    models("model",
           cl::desc("NAME=PATH: a model of the probes' shape (Hugging Face "
                    "directory, llama2.c checkpoint or IR); the first one "
                    "sets the PCA axes (repeatable)"),
           cl::value_desc("name=path"), cl::sub(reportCmd));
static cl::opt<std::string>
    dataSpec("data",
             cl::desc("NAME=SPEC[,SPEC...]: the labelled prompts, as "
                      "fit's --test (prompts the probes were not fitted on)"),
             cl::value_desc("name=spec"), cl::sub(reportCmd));
static cl::list<std::string> refusalStarts(
    "refusal-start",
    cl::desc("A refusal's opening words; the first token of each is a "
             "refusal token for the logit lens (repeatable; default: the "
             "lab's refusals and common ones)"),
    cl::value_desc("text"), cl::sub(reportCmd));
static cl::opt<std::string> outDir("o", cl::desc("Output directory"),
                                   cl::value_desc("dir"), cl::sub(reportCmd));

namespace {
/// One tensor of one model.
struct TensorStats {
  std::string name;
  int32_t layer; // the capture index (num_layers: the final norm)
  double accuracy, auc, fisher;
  double malMedian, malP10, malPast, benMedian, benP90;
  std::optional<double> lensMalicious, lensBenign; // refusal top-1 rates
  std::vector<std::array<double, 2>> pca;          // per prompt
};
struct ModelStats {
  std::string name, path;
  std::vector<TensorStats> tensors;
  std::vector<std::string> refusalTokens;
};
} // namespace

static std::string fmt(double v, int digits = 3) {
  if (std::isnan(v))
    return "-";
  if (std::isinf(v))
    return v > 0 ? "inf" : "-inf";
  return formatv("{0}",
                 format(("%." + std::to_string(digits) + "f").c_str(), v))
      .str();
}

int probetool::runReport(const char *argv0) {
  if (probesPath.empty() || models.empty() || dataSpec.empty() ||
      outDir.empty())
    return error("report needs --probes FILE, --model NAME=PATH (at least "
                 "one), --data NAME=SPEC and -o DIR");
  Expected<ProbesFile> probes = readProbesFile(probesPath);
  if (!probes)
    return error(toString(probes.takeError()));
  int64_t D = probes->hiddenSize, L = probes->numLayers;
  // The tensors to report on: every probe with data, in capture order.
  std::vector<std::pair<int32_t, const ProbeRecord *>> tensors;
  for (int32_t l = 0; l <= L; ++l) {
    std::string name = getProbeName(l, L);
    const ProbeRecord *p = probes->lookup(name);
    if (!p)
      continue;
    std::string expected = getProbeTensor(l, L);
    if (!p->isFittedOn(expected) || !p->hasData())
      return error(probesPath + ": probe '" + name +
                   "' is not a usable probe "
                   "of '" +
                   expected + "' at the last prompt token (tensor '" +
                   p->tensor + "', " + (p->hasData() ? "" : "no weights, ") +
                   "position " + std::to_string(p->position) + ")");
    tensors.push_back({l, p});
  }
  if (tensors.empty())
    return error(probesPath + ": no probe of a layer or the final norm");
  Expected<PromptSet> data = loadPromptSet("data", dataSpec);
  if (!data)
    return error(toString(data.takeError()));
  if (!data->count(0) || !data->count(1))
    return error("--data " + data->name +
                 ": needs malicious (1) and benign "
                 "(0) prompts");
  std::vector<std::pair<std::string, std::string>> modelSpecs;
  for (StringRef spec : models) {
    auto [name, path] = spec.rsplit('='); // names may hold '=' ("p=0.1")
    if (name.empty() || path.empty())
      return error("--model '" + spec + "': expected NAME=PATH");
    modelSpecs.push_back({name.str(), path.str()});
  }
  std::vector<std::string> starts(refusalStarts.begin(), refusalStarts.end());
  if (starts.empty()) {
    for (size_t i = 0;; ++i) {
      std::string r = data::getRefusal(i).str();
      if (i == 64 || (i && r == data::getRefusal(0)))
        break;
      starts.push_back(r);
    }
    for (const char *s : {"I'm sorry", "I am sorry", "I apologize", "I cannot",
                          "I can't", "Sorry"})
      starts.push_back(s);
  }

  std::vector<int32_t> layers;
  for (auto &[l, p] : tensors)
    layers.push_back(l);
  int64_t n = data->examples.size();
  std::vector<ModelStats> results;
  std::vector<PrincipalAxes> axes; // per tensor, from the first model
  for (auto &[name, path] : modelSpecs) {
    auto model = probetool::loadModel(path, argv0);
    if (!model) {
      reportError("qrealign-probe", model.takeError());
      return 1;
    }
    lab::LabModel &m = **model;
    if (m.engine->getHiddenSize() != D || m.engine->getNumLayers() != L)
      return error(formatv("model '{0}' ({1}) has hidden size {2} and {3} "
                           "layers; the probes in {4} were fitted on {5} and "
                           "{6}",
                           name, path, m.engine->getHiddenSize(),
                           m.engine->getNumLayers(), probesPath, D, L));
    ModelStats ms{name, path, {}, {}};
    // A start counts when its first token is its whole first word ("I" of
    // "I'm sorry"); a word split into pieces ("S" of "Sorry") would also
    // start unrelated answers.
    std::set<int64_t> refusalIds;
    for (const std::string &s : starts) {
      std::vector<int64_t> ids = m.getTokenizer().encode(s);
      if (ids.empty())
        continue;
      StringRef text = StringRef(s).ltrim();
      size_t wordEnd = 0;
      while (wordEnd < text.size() && isAlnum(text[wordEnd]))
        ++wordEnd;
      std::string first = m.getTokenizer().decode({ids[0]});
      if (wordEnd == 0 || StringRef(first).trim() != text.take_front(wordEnd))
        continue;
      if (refusalIds.insert(ids[0]).second)
        ms.refusalTokens.push_back(
            m.getTokenizer().getPiece(ids[0]).value_or("?"));
    }
    if (refusalIds.empty())
      return error("no --refusal-start has its first word as one token of " +
                   path + "'s tokenizer; give others");
    auto captured = captureLastToken(m, data->examples, layers, maxPromptTokens,
                                     "capture " + name);
    if (!captured)
      return error(toString(captured.takeError()));
    lab::Progress progress("measure " + name, tensors.size());
    for (auto [k, entry] : enumerate(tensors)) {
      auto [l, probe] = entry;
      ArrayRef<float> x = (*captured)[k];
      TensorStats t;
      t.name = probe->name;
      t.layer = l;
      LinearProbe lp = probe->getLinearProbe();
      std::vector<double> z, mal, ben;
      for (int64_t i = 0; i < n; ++i) {
        z.push_back(lp.logit(x.slice(i * D, D)));
        (data->labels[i] ? mal : ben).push_back(z.back());
      }
      t.accuracy = signAccuracy(z, data->labels);
      t.auc = rocAuc(z, data->labels);
      t.fisher = fisherRatio(x, data->labels, n, D);
      t.malMedian = quantile(mal, 0.5);
      t.malP10 = quantile(mal, 0.1);
      t.malPast = double(llvm::count_if(mal, [](double v) { return v > 0; })) /
                  double(mal.size());
      t.benMedian = quantile(ben, 0.5);
      t.benP90 = quantile(ben, 0.9);
      // The logit lens, for layer outputs (the final norm's output would
      // be normalised twice).
      if (l < L) {
        int64_t refMal = 0, refBen = 0;
        for (int64_t from = 0; from < n; from += batchSize) {
          int64_t to = std::min<int64_t>(n, from + batchSize);
          std::vector<std::vector<float>> states;
          for (int64_t i = from; i < to; ++i)
            states.emplace_back(x.begin() + i * D, x.begin() + (i + 1) * D);
          auto logits = m.engine->head(states);
          if (!logits)
            return error(toString(logits.takeError()));
          for (int64_t i = from; i < to; ++i) {
            const std::vector<float> &row = (*logits)[i - from];
            int64_t top =
                std::max_element(row.begin(), row.end()) - row.begin();
            if (refusalIds.count(top))
              ++(data->labels[i] ? refMal : refBen);
          }
        }
        t.lensMalicious = double(refMal) / double(mal.size());
        t.lensBenign = double(refBen) / double(ben.size());
      }
      if (results.empty())
        axes.push_back(principalAxes(x, n, D, 2));
      for (int64_t i = 0; i < n; ++i) {
        std::vector<double> c = axes[k].project(x.slice(i * D, D));
        t.pca.push_back({c[0], c.size() > 1 ? c[1] : 0.0});
      }
      ms.tensors.push_back(std::move(t));
      progress.update(k + 1);
    }
    progress.finish();
    results.push_back(std::move(ms));
  }

  // JSON.
  json::Array modelsJson;
  for (const ModelStats &ms : results) {
    json::Array ts;
    for (const TensorStats &t : ms.tensors) {
      json::Array pts;
      for (const auto &c : t.pca)
        pts.push_back(json::Array{c[0], c[1]});
      json::Object o{
          {"name", t.name},
          {"layer", t.layer},
          {"accuracy", jsonNumber(t.accuracy)},
          {"auc", jsonNumber(t.auc)},
          {"fisher", jsonNumber(t.fisher)},
          {"malicious_logit", json::Object{{"median", jsonNumber(t.malMedian)},
                                           {"p10", jsonNumber(t.malP10)},
                                           {"past_boundary", t.malPast}}},
          {"benign_logit", json::Object{{"median", jsonNumber(t.benMedian)},
                                        {"p90", jsonNumber(t.benP90)}}},
          {"pca", std::move(pts)}};
      if (t.lensMalicious)
        o["lens_refusal"] = json::Object{{"malicious", *t.lensMalicious},
                                         {"benign", *t.lensBenign}};
      else
        o["lens_refusal"] = nullptr;
      ts.push_back(std::move(o));
    }
    json::Array toks;
    for (const std::string &s : ms.refusalTokens)
      toks.push_back(s);
    modelsJson.push_back(json::Object{{"name", ms.name},
                                      {"path", ms.path},
                                      {"refusal_tokens", std::move(toks)},
                                      {"tensors", std::move(ts)}});
  }
  json::Array labelsJson, axesJson;
  for (int8_t y : data->labels)
    labelsJson.push_back(int64_t(y));
  for (auto [k, a] : enumerate(axes))
    axesJson.push_back(json::Object{
        {"name", tensors[k].second->name},
        {"variances",
         json::Array{a.variances[0],
                     a.variances.size() > 1 ? a.variances[1] : 0.0}}});
  json::Object report{
      {"format", "qrealign-probe-report"},
      {"probes", probesPath.getValue()},
      {"probe_penalty", probes->info.getString("penalty").value_or("?")},
      {"data", json::Object{{"name", data->name},
                            {"spec", dataSpec.getValue()},
                            {"malicious", data->count(1)},
                            {"benign", data->count(0)}}},
      {"labels", std::move(labelsJson)},
      {"pca_axes", std::move(axesJson)},
      {"pca_axes_from", results.front().name},
      {"models", std::move(modelsJson)}};

  // Markdown: one table per measure, models side by side.
  std::string md;
  raw_string_ostream os(md);
  os << formatv("# Separability report\n\nProbes: `{0}` ({1}). Prompts: {2} "
                "({3} malicious, {4} benign), last prompt token.\n",
                probesPath, probes->info.getString("penalty").value_or("?"),
                data->name, data->count(1), data->count(0));
  auto table = [&](StringRef title, StringRef note,
                   function_ref<std::string(const TensorStats &)> cell) {
    os << "\n## " << title << "\n\n";
    if (!note.empty())
      os << note << "\n\n";
    os << "| tensor |";
    for (const ModelStats &ms : results)
      os << " " << ms.name << " |";
    os << "\n|---|";
    for (size_t i = 0; i < results.size(); ++i)
      os << "---:|";
    os << "\n";
    for (size_t k = 0; k < tensors.size(); ++k) {
      os << "| " << tensors[k].second->name << " |";
      for (const ModelStats &ms : results)
        os << " " << cell(ms.tensors[k]) << " |";
      os << "\n";
    }
  };
  table("Base probe: accuracy (AUC)",
        "The probe fitted on the aligned base, applied to each model.",
        [](const TensorStats &t) {
          return fmt(t.accuracy) + " (" + fmt(t.auc) + ")";
        });
  table("Fisher ratio",
        "||mu_malicious - mu_benign|| / sqrt((s_mal^2 + s_ben^2) / 2), "
        "s^2 the mean squared distance to the class centroid.",
        [](const TensorStats &t) { return fmt(t.fisher, 2); });
  table("Malicious prompts: probe logit median (10th percentile), share "
        "past the boundary",
        "The boundary is logit 0; positive is the malicious side.",
        [](const TensorStats &t) {
          return fmt(t.malMedian, 2) + " (" + fmt(t.malP10, 2) + "), " +
                 fmt(100 * t.malPast, 0) + "%";
        });
  table("Benign prompts: probe logit median (90th percentile)", "",
        [](const TensorStats &t) {
          return fmt(t.benMedian, 2) + " (" + fmt(t.benP90, 2) + ")";
        });
  std::string tokens;
  for (const std::string &s : results.front().refusalTokens)
    tokens += (tokens.empty() ? "`" : ", `") + s + "`";
  table("Logit lens: a refusal's first token wins, malicious (benign)",
        "Each layer's state through the final norm and the LM head; refusal "
        "tokens (first tokens of refusals that are a whole word): " +
            tokens +
            ". The final norm's output has no lens (it would be "
            "normalised twice).",
        [](const TensorStats &t) {
          if (!t.lensMalicious)
            return std::string("-");
          return fmt(100 * *t.lensMalicious, 0) + "% (" +
                 fmt(100 * *t.lensBenign, 0) + "%)";
        });
  // Where the first model separates best, how the others moved.
  size_t best = 0;
  for (size_t k = 0; k < tensors.size(); ++k)
    if (results.front().tensors[k].fisher >
        results.front().tensors[best].fisher)
      best = k;
  os << formatv("\n## Where {0} separates best\n\n{1} (Fisher ratio {2}): "
                "malicious prompts' median probe logit",
                results.front().name, tensors[best].second->name,
                fmt(results.front().tensors[best].fisher, 2));
  for (const ModelStats &ms : results) {
    const TensorStats &t = ms.tensors[best];
    os << formatv("{0} {1} {2} (10th percentile {3}, {4}% past the "
                  "boundary)",
                  &ms == &results.front() ? "" : ";", ms.name,
                  fmt(t.malMedian, 2), fmt(t.malP10, 2),
                  fmt(100 * t.malPast, 0));
  }
  os << ".\n";

  if (Error err =
          writeResults(outDir, "report", json::Value(std::move(report)), md))
    return error(toString(std::move(err)));
  outs() << md;
  errs() << "qrealign-probe: wrote " << outDir << "/report.json and " << outDir
         << "/report.md; plots: /usr/bin/python3 "
         << "python/qrealign/plot_probes.py " << outDir << "\n";
  return 0;
}
