//===- qrealign-probe.cpp - Safety-boundary probes ------------------------===//
//
// Part of the qrealign project.
//
// qrealign-probe solve DATA.csv -o probe.json
//   Fits one probe (L1- or L2-regularised logistic regression with an
//   intercept, qrealign/Probes/LogisticRegression.h) on a CSV of features
//   whose last column is the label (0 benign, 1 malicious), and writes the
//   weights, intercept, objective, iterations and the standardisation used
//   as JSON (atomically). This is the solver the per-layer probes use, on
//   data from anywhere (exported activations, tests against scikit-learn).
//
// qrealign-probe fit MODEL --data probe.jsonl -o probes.safetensors
//   Captures, for every labelled prompt (rendered with the model's chat
//   template and the lab's system prompt), the residual stream after each
//   layer and the final norm's output at the last prompt token; fits one
//   probe per tensor on a stratified training part; reports held-out
//   accuracy and AUC; writes the probes (scope `probes`: weights and
//   intercept on raw features per tensor, with what was fitted recorded in
//   the file's metadata) atomically.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Checkpoint/Checkpoint.h"
#include "qrealign/Data/Datasets.h"
#include "qrealign/Lab/Lab.h"
#include "qrealign/Probes/LogisticRegression.h"
#include "qrealign/Support/AtomicOutput.h"
#include "qrealign/Support/InputFile.h"
#include "qrealign/Support/Message.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/WithColor.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <random>

using namespace llvm;
using namespace qrealign;
using namespace qrealign::probes;

static cl::SubCommand solveCmd("solve",
                               "Fit one probe on a CSV of features and "
                               "labels (last column: 0 benign, 1 malicious)");
static cl::SubCommand fitCmd("fit",
                             "Fit one probe per layer (and the final norm) "
                             "of a model on labelled prompts");
static cl::opt<std::string> dataPath(cl::Positional, cl::Required,
                                     cl::desc("<data.csv>"), cl::sub(solveCmd));
static cl::opt<std::string> modelPath(cl::Positional, cl::Required,
                                      cl::desc("<model.mlir | model dir>"),
                                      cl::sub(fitCmd));
static cl::opt<std::string>
    promptsPath("data",
                cl::desc("Labelled prompts: JSONL with prompt and label (0 "
                         "benign, 1 malicious), as the lab's probe.jsonl"),
                cl::value_desc("file"), cl::sub(fitCmd));
static cl::list<std::string> testSets(
    "test",
    cl::desc("Also evaluate the probes on NAME=SPEC[,SPEC...]: each SPEC a "
             "labelled JSONL file, or harmful:KIND:PATH / benign:KIND:PATH "
             "for a prompt set of qrealign-data's kinds (repeatable)"),
    cl::value_desc("name=spec"), cl::sub(fitCmd));
static cl::opt<double>
    heldoutFraction("heldout",
                    cl::desc("Share of each class held out for evaluation"),
                    cl::init(0.25), cl::sub(fitCmd));
static cl::opt<unsigned long long> seed("seed",
                                        cl::desc("Seed of the held-out split"),
                                        cl::init(1), cl::sub(fitCmd));
static cl::opt<int> maxPromptTokens("max-prompt-tokens",
                                    cl::desc("Longest rendered prompt (the "
                                             "user text is cut to fit)"),
                                    cl::init(256), cl::sub(fitCmd));
static cl::opt<int> batchSize("batch-size", cl::desc("Prompts per forward"),
                              cl::init(16), cl::sub(fitCmd));
static cl::opt<int> numThreads("num-threads",
                               cl::desc("Engine threads (default: every "
                                        "core)"),
                               cl::init(0), cl::sub(fitCmd));
static cl::opt<std::string> device("device", cl::desc("cpu or cuda"),
                                   cl::init("cpu"), cl::sub(fitCmd));
static cl::opt<std::string> penaltyName("penalty", cl::desc("l1 or l2"),
                                        cl::init("l1"), cl::sub(solveCmd),
                                        cl::sub(fitCmd));
static cl::opt<double> inverseStrength(
    "C", cl::desc("Inverse regularisation strength (scikit-learn's C)"),
    cl::init(1.0), cl::sub(solveCmd), cl::sub(fitCmd));
static cl::opt<double> tolerance(
    "tol",
    cl::desc("Stop when every component of the proximal gradient mapping is "
             "at most this"),
    cl::init(1e-6), cl::sub(solveCmd), cl::sub(fitCmd));
static cl::opt<int> maxIterations("max-iter", cl::desc("Iteration limit"),
                                  cl::init(20000), cl::sub(solveCmd),
                                  cl::sub(fitCmd));
static cl::opt<bool> standardize("standardize",
                                 cl::desc("Centre and scale each feature "
                                          "before fitting"),
                                 cl::sub(solveCmd), cl::sub(fitCmd));
static cl::opt<std::string> outputPath("o",
                                       cl::desc("Output (solve: JSON; fit: "
                                                "safetensors)"),
                                       cl::value_desc("file"), cl::init("-"),
                                       cl::sub(solveCmd), cl::sub(fitCmd));

static int error(const Twine &msg) {
  WithColor::error(errs(), "qrealign-probe") << msg << "\n";
  return 1;
}

/// Features [n, d] and labels of a CSV: numbers separated by commas, the
/// last one the label; blank lines and lines starting with '#' skipped.
/// Errors are located (PATH:LINE:COLUMN).
static Error parseCSV(StringRef path, StringRef text, std::vector<float> &x,
                      std::vector<int8_t> &y, int64_t &d) {
  d = -1;
  int64_t lineNo = 0;
  for (StringRef rest = text; !rest.empty();) {
    StringRef line;
    std::tie(line, rest) = rest.split('\n');
    ++lineNo;
    line = line.rtrim("\r");
    if (line.trim().empty() || line.trim().starts_with("#"))
      continue;
    SmallVector<StringRef> cells;
    line.split(cells, ',');
    auto at = [&](StringRef cell) {
      return formatv("{0}:{1}:{2}: ", path, lineNo,
                     cell.data() - line.data() + 1)
          .str();
    };
    if (cells.size() < 2)
      return createStringError(inconvertibleErrorCode(),
                               at(line) + "a row needs at least one feature "
                                          "and a label");
    int64_t width = cells.size() - 1;
    if (d < 0)
      d = width;
    else if (width != d)
      return createStringError(
          inconvertibleErrorCode(),
          at(line) +
              formatv("{0} features, but the first row has {1}", width, d)
                  .str());
    for (size_t c = 0; c < cells.size(); ++c) {
      StringRef cell = cells[c].trim();
      double v;
      if (cell.empty() || cell.getAsDouble(v) || !std::isfinite(v))
        return createStringError(inconvertibleErrorCode(),
                                 at(cells[c]) + "'" + quoteForMessage(cell) +
                                     "' is not a finite number");
      if (c + 1 < cells.size()) {
        x.push_back(float(v));
        continue;
      }
      if (v != 0 && v != 1)
        return createStringError(inconvertibleErrorCode(),
                                 at(cells[c]) + "label '" +
                                     quoteForMessage(cell) + "' is not 0 or 1");
      y.push_back(int8_t(v));
    }
  }
  if (y.empty())
    return createStringError(inconvertibleErrorCode(), path + ": no examples");
  return Error::success();
}

/// The solver options of the command line.
static Expected<LogRegOptions> getOptions() {
  LogRegOptions options;
  if (penaltyName == "l1")
    options.penalty = Penalty::L1;
  else if (penaltyName == "l2")
    options.penalty = Penalty::L2;
  else
    return createStringError(inconvertibleErrorCode(),
                             "--penalty must be l1 or l2, got '" + penaltyName +
                                 "'");
  options.C = inverseStrength;
  options.tol = tolerance;
  options.maxIterations = maxIterations;
  options.standardize = standardize;
  return options;
}

static int solve() {
  Expected<LogRegOptions> parsed = getOptions();
  if (!parsed)
    return error(toString(parsed.takeError()));
  LogRegOptions options = *parsed;
  Expected<std::unique_ptr<MemoryBuffer>> file =
      readRegularFileOrStdin(dataPath, uint64_t(4) << 30, "a probe data file");
  if (!file)
    return error(toString(file.takeError()));
  std::vector<float> x;
  std::vector<int8_t> y;
  int64_t d = 0;
  if (Error err = parseCSV(dataPath, (*file)->getBuffer(), x, y, d))
    return error(toString(std::move(err)));
  int64_t n = y.size();
  auto start = std::chrono::steady_clock::now();
  Expected<LogRegResult> r = fitLogisticRegression(x, y, n, d, options);
  if (!r)
    return error(dataPath + ": " + toString(r.takeError()));
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  auto array = [](ArrayRef<double> v) {
    json::Array a;
    for (double e : v)
      a.push_back(e);
    return a;
  };
  json::Object out{{"penalty", penaltyName.getValue()},
                   {"C", options.C},
                   {"tol", options.tol},
                   {"standardize", options.standardize},
                   {"examples", n},
                   {"features", d},
                   {"weights", array(r->weights)},
                   {"bias", r->bias},
                   {"objective", r->objective},
                   {"iterations", r->iterations},
                   {"converged", r->converged},
                   {"gradient_mapping", r->gradientMapping},
                   {"nonzeros", r->nonZeros}};
  if (options.standardize) {
    out["fitted_weights"] = array(r->fittedWeights);
    out["fitted_bias"] = r->fittedBias;
    out["mean"] = array(r->mean);
    out["scale"] = array(r->scale);
  }
  if (Error err = writeFileAtomically(outputPath, [&](raw_ostream &os) {
        os << formatv("{0:2}", json::Value(std::move(out))) << "\n";
        return Error::success();
      }))
    return error(toString(std::move(err)));
  errs() << formatv("qrealign-probe: {0} examples x {1} features: {2} "
                    "iterations ({3}), objective {4:e6}, {5} of {1} weights "
                    "non-zero, {6:f2} s\n",
                    n, d, r->iterations,
                    r->converged ? "converged" : "NOT converged", r->objective,
                    r->nonZeros, seconds);
  if (!r->converged)
    WithColor::warning(errs(), "qrealign-probe")
        << formatv("stopped at --max-iter {0} with gradient mapping {1:e2} > "
                   "--tol {2:e2}\n",
                   options.maxIterations, r->gradientMapping, options.tol);
  return 0;
}

/// Area under the ROC curve of `scores` for `labels` (ties count half).
static double auc(ArrayRef<double> scores, ArrayRef<int8_t> labels) {
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  double rankSum = 0, positives = 0;
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j < order.size() && scores[order[j]] == scores[order[i]])
      ++j;
    double rank = (i + j + 1) / 2.0; // average 1-based rank of the tie
    for (size_t k = i; k < j; ++k)
      if (labels[order[k]]) {
        rankSum += rank;
        ++positives;
      }
    i = j;
  }
  double negatives = scores.size() - positives;
  if (positives == 0 || negatives == 0)
    return NAN;
  return (rankSum - positives * (positives + 1) / 2) / (positives * negatives);
}

/// `v` for JSON: null when undefined (an AUC of a single class).
static json::Value number(double v) {
  return std::isnan(v) ? json::Value(nullptr) : json::Value(v);
}

static int fit(const char *argv0) {
  Expected<LogRegOptions> parsed = getOptions();
  if (!parsed)
    return error(toString(parsed.takeError()));
  if (promptsPath.empty())
    return error("fit needs --data FILE (JSONL with prompt and label)");
  if (!(heldoutFraction > 0 && heldoutFraction < 1))
    return error("--heldout must be in (0, 1)");
  if (batchSize < 1 || maxPromptTokens < 8)
    return error("--batch-size must be >= 1 and --max-prompt-tokens >= 8");
  Expected<std::vector<data::Example>> examples =
      data::readExamples(promptsPath);
  if (!examples)
    return error(toString(examples.takeError()));
  std::vector<int8_t> labels;
  for (auto [i, e] : enumerate(*examples)) {
    if (e.label != 0 && e.label != 1)
      return error(formatv("{0}: example {1} has label {2}; probes need 0 "
                           "(benign) or 1 (malicious)",
                           promptsPath, i + 1, e.label));
    labels.push_back(int8_t(e.label));
  }
  auto model = lab::loadModel(
      modelPath, lab::makeEngineOptions(device, numThreads, argv0));
  if (!model) {
    reportError("qrealign-probe", model.takeError());
    return 1;
  }
  lab::LabModel &m = **model;
  int32_t L = m.engine->getNumLayers();
  int64_t D = m.engine->getHiddenSize(), n = examples->size();

  // Capture: every layer's output and the final norm's (layer L), at the
  // last prompt token.
  std::vector<int32_t> layers(L + 1);
  std::iota(layers.begin(), layers.end(), 0);
  auto captureAll =
      [&](ArrayRef<data::Example> set,
          StringRef label) -> Expected<std::vector<std::vector<float>>> {
    int64_t count = set.size();
    std::vector<std::vector<float>> out(L + 1, std::vector<float>(count * D));
    lab::Progress progress(label.str(), count);
    for (int64_t from = 0; from < count; from += batchSize) {
      int64_t to = std::min<int64_t>(count, from + batchSize);
      std::vector<std::vector<int64_t>> batch;
      for (int64_t i = from; i < to; ++i)
        batch.push_back(lab::encodePrompt(m, set[i].prompt, maxPromptTokens));
      auto cap = m.engine->capture(batch, layers,
                                   std::vector<int32_t>(batch.size(), -1));
      if (!cap)
        return cap.takeError();
      for (int64_t i = from; i < to; ++i)
        for (int32_t l = 0; l <= L; ++l)
          std::copy((*cap)[i - from][l].begin(), (*cap)[i - from][l].end(),
                    out[l].begin() + i * D);
      progress.update(to);
    }
    progress.finish();
    return out;
  };

  // The extra test sets, loaded before anything runs.
  struct TestSet {
    std::string name;
    std::vector<data::Example> examples;
    std::vector<int8_t> labels;
    std::vector<std::vector<float>> features;
  };
  std::vector<TestSet> extra;
  for (StringRef spec : testSets) {
    auto [name, parts] = spec.split('=');
    if (name.empty() || parts.empty())
      return error("--test '" + spec + "': expected NAME=SPEC[,SPEC...]");
    TestSet t;
    t.name = name.str();
    SmallVector<StringRef> items;
    parts.split(items, ',');
    for (StringRef item : items) {
      int label = -1;
      Expected<std::vector<data::Example>> loaded =
          std::vector<data::Example>();
      if (item.starts_with("harmful:") || item.starts_with("benign:")) {
        label = item.starts_with("harmful:") ? 1 : 0;
        auto [kind, path] = item.split(':').second.split(':');
        loaded = data::loadDataset(kind, path);
      } else {
        loaded = data::readExamples(item);
      }
      if (!loaded)
        return error("--test " + name + ": " + toString(loaded.takeError()));
      for (data::Example &e : *loaded) {
        if (label >= 0)
          e.label = label;
        if (e.label != 0 && e.label != 1)
          return error(formatv("--test {0}: '{1}' has an example with label "
                               "{2}; give harmful:KIND:PATH or "
                               "benign:KIND:PATH",
                               name, item, e.label));
        t.labels.push_back(int8_t(e.label));
        t.examples.push_back(std::move(e));
      }
    }
    extra.push_back(std::move(t));
  }

  Expected<std::vector<std::vector<float>>> captured =
      captureAll(*examples, "capture");
  if (!captured)
    return error(toString(captured.takeError()));
  std::vector<std::vector<float>> &features = *captured;
  for (TestSet &t : extra) {
    auto f = captureAll(t.examples, "capture " + t.name);
    if (!f)
      return error(toString(f.takeError()));
    t.features = std::move(*f);
  }

  // A stratified held-out split.
  std::mt19937_64 rng(seed);
  std::vector<int64_t> train, test;
  for (int8_t cls : {0, 1}) {
    std::vector<int64_t> idx;
    for (int64_t i = 0; i < n; ++i)
      if (labels[i] == cls)
        idx.push_back(i);
    std::shuffle(idx.begin(), idx.end(), rng);
    size_t held = std::max<size_t>(1, size_t(idx.size() * heldoutFraction));
    if (idx.size() < 2)
      return error(formatv("{0}: {1} example(s) of class {2}; need at least "
                           "2 per class",
                           promptsPath, idx.size(), int(cls)));
    test.insert(test.end(), idx.begin(), idx.begin() + held);
    train.insert(train.end(), idx.begin() + held, idx.end());
  }
  auto gather = [&](ArrayRef<float> x, ArrayRef<int64_t> rows) {
    std::vector<float> out;
    out.reserve(rows.size() * D);
    for (int64_t r : rows)
      out.insert(out.end(), x.begin() + r * D, x.begin() + (r + 1) * D);
    return out;
  };
  std::vector<int8_t> yTrain, yTest;
  for (int64_t r : train)
    yTrain.push_back(labels[r]);
  for (int64_t r : test)
    yTest.push_back(labels[r]);

  // One probe per tensor.
  struct Fitted {
    std::string name, tensor;
    std::vector<float> weight;
    float bias;
    double trainAcc, testAcc, testAuc;
    std::vector<std::pair<double, double>> extra; // accuracy, AUC
    LogRegResult r;
  };
  std::vector<Fitted> fitted;
  lab::Progress fitting("fit", L + 1);
  for (int32_t l = 0; l <= L; ++l) {
    std::vector<float> xTrain = gather(features[l], train);
    Expected<LogRegResult> r =
        fitLogisticRegression(xTrain, yTrain, train.size(), D, *parsed);
    if (!r)
      return error(formatv("layer {0}: {1}", l, toString(r.takeError())));
    // The probe's logit w . h + b on row `row` of the features `x`.
    auto logit = [&](ArrayRef<float> x, int64_t row) {
      double z = r->bias;
      for (int64_t k = 0; k < D; ++k)
        z += r->weights[k] * x[row * D + k];
      return z;
    };
    auto scores = [&](ArrayRef<int64_t> rows) {
      std::vector<double> out;
      for (int64_t row : rows)
        out.push_back(logit(features[l], row));
      return out;
    };
    auto accuracy = [](ArrayRef<double> z, ArrayRef<int8_t> y) {
      size_t right = 0;
      for (size_t i = 0; i < z.size(); ++i)
        right += (z[i] > 0) == (y[i] == 1);
      return double(right) / double(z.size());
    };
    std::vector<double> zTrain = scores(train), zTest = scores(test);
    std::vector<std::pair<double, double>> extraScores;
    for (const TestSet &t : extra) {
      std::vector<double> z;
      for (size_t row = 0; row < t.examples.size(); ++row)
        z.push_back(logit(t.features[l], row));
      extraScores.push_back({accuracy(z, t.labels), auc(z, t.labels)});
    }
    Fitted f;
    f.name = l < L ? formatv("layers.{0}", l).str() : "final_norm";
    f.tensor = l < L ? formatv("output of qrealign.layer {0}", l).str()
                     : "the final norm's output (the LM head's input)";
    f.weight.assign(r->weights.begin(), r->weights.end());
    f.bias = float(r->bias);
    f.trainAcc = accuracy(zTrain, yTrain);
    f.testAcc = accuracy(zTest, yTest);
    f.testAuc = auc(zTest, yTest);
    f.extra = std::move(extraScores);
    f.r = std::move(*r);
    fitted.push_back(std::move(f));
    fitting.update(l + 1);
  }
  fitting.finish();

  // The probes file: weights and intercept on raw features per tensor, and
  // what was fitted, on what, in its metadata.
  json::Array records;
  std::vector<TensorToWrite> tensors;
  for (const Fitted &f : fitted) {
    tensors.push_back(
        {f.name + ".weight",
         DType::F32,
         {D},
         ArrayRef(reinterpret_cast<const uint8_t *>(f.weight.data()),
                  f.weight.size() * sizeof(float))});
    tensors.push_back(
        {f.name + ".bias",
         DType::F32,
         {1},
         ArrayRef(reinterpret_cast<const uint8_t *>(&f.bias), sizeof(float))});
    json::Object tests;
    for (auto [t, score] : zip(extra, f.extra))
      tests[t.name] = json::Object{{"accuracy", score.first},
                                   {"auc", number(score.second)},
                                   {"examples", int64_t(t.labels.size())}};
    records.push_back(json::Object{{"name", f.name},
                                   {"tests", std::move(tests)},
                                   {"tensor", f.tensor},
                                   {"position", -1},
                                   {"train_accuracy", f.trainAcc},
                                   {"heldout_accuracy", f.testAcc},
                                   {"heldout_auc", number(f.testAuc)},
                                   {"nonzeros", f.r.nonZeros},
                                   {"iterations", f.r.iterations},
                                   {"converged", f.r.converged},
                                   {"objective", f.r.objective}});
  }
  json::Object meta{{"model", modelPath.getValue()},
                    {"data", promptsPath.getValue()},
                    {"hidden_size", D},
                    {"num_layers", L},
                    {"position", "last prompt token (-1), after the chat "
                                 "template's generation prompt"},
                    {"penalty", penaltyName.getValue()},
                    {"C", parsed->C},
                    {"tol", parsed->tol},
                    {"standardize", parsed->standardize},
                    {"weights_on", "raw features (standardisation folded in)"},
                    {"examples", n},
                    {"train", int64_t(train.size())},
                    {"heldout", int64_t(test.size())},
                    {"seed", int64_t(seed)},
                    {"probes", std::move(records)}};
  std::string metaText;
  raw_string_ostream(metaText) << json::Value(std::move(meta));
  if (Error err = writeSafeTensors(
          outputPath, tensors,
          {{"format", "qrealign-probes"}, {"probes", metaText}}))
    return error(toString(std::move(err)));

  outs() << formatv("Probes of {0} on {1} prompts ({2} held out), {3} C = "
                    "{4}{5}:\n\n",
                    modelPath, n, test.size(), penaltyName, parsed->C,
                    parsed->standardize ? ", standardised" : "");
  outs() << "| tensor | train acc | held-out acc | held-out AUC | non-zero "
            "weights |\n|---|---:|---:|---:|---:|\n";
  for (const Fitted &f : fitted)
    outs() << formatv("| {0} | {1:f3} | {2:f3} | {3:f3} | {4} / {5} |\n",
                      f.name, f.trainAcc, f.testAcc, f.testAuc, f.r.nonZeros,
                      D);
  for (auto [k, t] : enumerate(extra)) {
    int64_t pos = llvm::count(t.labels, int8_t(1));
    outs() << formatv("\nTest set {0} ({1} malicious, {2} benign):\n\n"
                      "| tensor | accuracy | AUC |\n|---|---:|---:|\n",
                      t.name, pos, int64_t(t.labels.size()) - pos);
    for (const Fitted &f : fitted)
      outs() << formatv("| {0} | {1:f3} | {2:f3} |\n", f.name, f.extra[k].first,
                        f.extra[k].second);
  }
  return 0;
}

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::ParseCommandLineOptions(argc, argv,
                              "qrealign-probe: safety-boundary probes\n");
  if (solveCmd)
    return solve();
  if (fitCmd)
    return fit(argv[0]);
  return error("give a subcommand: solve or fit (see --help)");
}
