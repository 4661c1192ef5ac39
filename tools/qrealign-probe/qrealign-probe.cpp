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
// qrealign-probe report --probes P --model NAME=PATH... --data NAME=SPEC
//   Separability of each model's activations by the base probes, layer by
//   layer (Report.cpp).
//
// qrealign-probe patch --base B --model M --probes NAME=P... --data SPEC
//   Does crossing a boundary change behaviour (Patch.cpp)?
//
//===----------------------------------------------------------------------===//

#include "ProbeTool.h"

#include "qrealign/Probes/LogisticRegression.h"
#include "qrealign/Probes/ProbesFile.h"
#include "qrealign/Probes/Separability.h"
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
using namespace qrealign::probetool;

static cl::SubCommand solveCmd("solve",
                               "Fit one probe on a CSV of features and "
                               "labels (last column: 0 benign, 1 malicious)");
cl::SubCommand probetool::fitCmd("fit",
                                 "Fit one probe per layer (and the final "
                                 "norm) of a model on labelled prompts");
cl::SubCommand probetool::reportCmd(
    "report",
    "Separability of models' activations by the base probes, per "
    "layer: JSON and Markdown (plots: python/qrealign/plot_probes.py)");
cl::SubCommand probetool::patchCmd(
    "patch", "Causal check: replace a fine-tuned model's state (whole, or "
             "along a probe) by the base's at one layer, and count refusals");
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
cl::opt<int> probetool::maxPromptTokens(
    "max-prompt-tokens",
    cl::desc("Longest rendered prompt (the user text is "
             "cut to fit)"),
    cl::init(256), cl::sub(fitCmd), cl::sub(reportCmd), cl::sub(patchCmd));
cl::opt<int> probetool::batchSize("batch-size", cl::desc("Prompts per forward"),
                                  cl::init(16), cl::sub(fitCmd),
                                  cl::sub(reportCmd), cl::sub(patchCmd));
cl::opt<int> probetool::numThreads("num-threads",
                                   cl::desc("Engine threads (default: every "
                                            "core)"),
                                   cl::init(0), cl::sub(fitCmd),
                                   cl::sub(reportCmd), cl::sub(patchCmd));
cl::opt<std::string> probetool::device("device", cl::desc("cpu or cuda"),
                                       cl::init("cpu"), cl::sub(fitCmd),
                                       cl::sub(reportCmd), cl::sub(patchCmd));
static cl::opt<std::string> penaltyName("penalty",
                                        cl::desc("l1 or l2 (fit: also "
                                                 "mean-diff, the difference "
                                                 "of class means)"),
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
  if (Error err = parseFeatureCSV(dataPath, (*file)->getBuffer(), x, y, d))
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

int probetool::runFit(const char *argv0) {
  bool meanDiff = penaltyName == "mean-diff";
  Expected<LogRegOptions> parsed = LogRegOptions();
  if (!meanDiff)
    parsed = getOptions();
  if (!parsed)
    return error(toString(parsed.takeError()) + " (or mean-diff)");
  if (promptsPath.empty())
    return error("fit needs --data FILE (JSONL with prompt and label)");
  if (!(heldoutFraction > 0 && heldoutFraction < 1))
    return error("--heldout must be in (0, 1)");
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
  // The extra test sets, loaded before anything runs.
  std::vector<PromptSet> extra;
  for (StringRef spec : testSets) {
    Expected<PromptSet> set = loadPromptSet("test", spec);
    if (!set)
      return error(toString(set.takeError()));
    extra.push_back(std::move(*set));
  }
  auto model = probetool::loadModel(modelPath, argv0);
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
  Expected<std::vector<std::vector<float>>> captured =
      captureLastToken(m, *examples, layers, maxPromptTokens, "capture");
  if (!captured)
    return error(toString(captured.takeError()));
  std::vector<std::vector<float>> &features = *captured;
  std::vector<std::vector<std::vector<float>>> extraFeatures;
  for (PromptSet &t : extra) {
    auto f = captureLastToken(m, t.examples, layers, maxPromptTokens,
                              "capture " + t.name);
    if (!f)
      return error(toString(f.takeError()));
    extraFeatures.push_back(std::move(*f));
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
  ProbesFile file;
  file.hiddenSize = D;
  file.numLayers = L;
  struct Scores {
    double trainAcc, testAcc, testAuc;
    int64_t nonZeros;
    std::vector<std::pair<double, double>> extra; // accuracy, AUC
  };
  std::vector<Scores> scores;
  lab::Progress fitting("fit", L + 1);
  for (int32_t l = 0; l <= L; ++l) {
    std::vector<float> xTrain = gather(features[l], train);
    LinearProbe probe;
    json::Object info;
    if (meanDiff) {
      Expected<LinearProbe> p =
          meanDifferenceProbe(xTrain, yTrain, train.size(), D);
      if (!p)
        return error(formatv("layer {0}: {1}", l, toString(p.takeError())));
      probe = std::move(*p);
    } else {
      Expected<LogRegResult> r =
          fitLogisticRegression(xTrain, yTrain, train.size(), D, *parsed);
      if (!r)
        return error(formatv("layer {0}: {1}", l, toString(r.takeError())));
      probe = {r->weights, r->bias};
      info = json::Object{{"iterations", r->iterations},
                          {"converged", r->converged},
                          {"objective", r->objective}};
    }
    auto logits = [&](ArrayRef<float> x, size_t rows) {
      std::vector<double> z;
      for (size_t row = 0; row < rows; ++row)
        z.push_back(probe.logit(x.slice(row * D, D)));
      return z;
    };
    std::vector<double> zTrain = logits(xTrain, train.size());
    std::vector<float> xTest = gather(features[l], test);
    std::vector<double> zTest = logits(xTest, test.size());
    Scores sc{
        signAccuracy(zTrain, yTrain),
        signAccuracy(zTest, yTest),
        rocAuc(zTest, yTest),
        int64_t(llvm::count_if(probe.weights, [](double w) { return w != 0; })),
        {}};
    json::Object tests;
    for (auto [t, x] : zip(extra, extraFeatures)) {
      std::vector<double> z = logits(x[l], t.examples.size());
      sc.extra.push_back({signAccuracy(z, t.labels), rocAuc(z, t.labels)});
      tests[t.name] = json::Object{{"accuracy", sc.extra.back().first},
                                   {"auc", jsonNumber(sc.extra.back().second)},
                                   {"examples", int64_t(t.labels.size())}};
    }
    ProbeRecord record;
    record.name = getProbeName(l, L);
    record.tensor = getProbeTensor(l, L);
    record.position = -1;
    record.weight.assign(probe.weights.begin(), probe.weights.end());
    record.bias = float(probe.bias);
    record.info = std::move(info);
    record.info["tests"] = std::move(tests);
    record.info["train_accuracy"] = sc.trainAcc;
    record.info["heldout_accuracy"] = sc.testAcc;
    record.info["heldout_auc"] = jsonNumber(sc.testAuc);
    record.info["nonzeros"] = sc.nonZeros;
    file.probes.push_back(std::move(record));
    scores.push_back(std::move(sc));
    fitting.update(l + 1);
  }
  fitting.finish();

  // What was fitted, on what, in the file's metadata.
  file.info = json::Object{
      {"model", modelPath.getValue()},
      {"data", promptsPath.getValue()},
      {"position", "last prompt token (-1), after the chat template's "
                   "generation prompt"},
      {"penalty", penaltyName.getValue()},
      {"weights_on", "raw features (standardisation folded in)"},
      {"examples", n},
      {"train", int64_t(train.size())},
      {"heldout", int64_t(test.size())},
      {"seed", int64_t(seed)}};
  if (!meanDiff) {
    file.info["C"] = parsed->C;
    file.info["tol"] = parsed->tol;
    file.info["standardize"] = parsed->standardize;
  }
  if (Error err = writeProbesFile(outputPath, file))
    return error(toString(std::move(err)));

  outs() << formatv("Probes of {0} on {1} prompts ({2} held out), {3}{4}{5}:"
                    "\n\n",
                    modelPath, n, test.size(), penaltyName,
                    meanDiff ? "" : formatv(" C = {0}", parsed->C).str(),
                    !meanDiff && parsed->standardize ? ", standardised" : "");
  outs() << "| tensor | train acc | held-out acc | held-out AUC | non-zero "
            "weights |\n|---|---:|---:|---:|---:|\n";
  for (auto [p, sc] : zip(file.probes, scores))
    outs() << formatv("| {0} | {1:f3} | {2:f3} | {3:f3} | {4} / {5} |\n",
                      p.name, sc.trainAcc, sc.testAcc, sc.testAuc, sc.nonZeros,
                      D);
  for (auto [k, t] : enumerate(extra)) {
    outs() << formatv("\nTest set {0} ({1} malicious, {2} benign):\n\n"
                      "| tensor | accuracy | AUC |\n|---|---:|---:|\n",
                      t.name, t.count(1), t.count(0));
    for (auto [p, sc] : zip(file.probes, scores))
      outs() << formatv("| {0} | {1:f3} | {2:f3} |\n", p.name,
                        sc.extra[k].first, sc.extra[k].second);
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
    return runFit(argv[0]);
  if (reportCmd)
    return runReport(argv[0]);
  if (patchCmd)
    return runPatch(argv[0]);
  return error("give a subcommand: solve, fit, report or patch (see --help)");
}
