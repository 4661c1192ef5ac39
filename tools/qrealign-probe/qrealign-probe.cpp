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
//===----------------------------------------------------------------------===//

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

#include <chrono>
#include <cmath>

using namespace llvm;
using namespace qrealign;
using namespace qrealign::probes;

static cl::SubCommand solveCmd("solve",
                               "Fit one probe on a CSV of features and "
                               "labels (last column: 0 benign, 1 malicious)");
static cl::opt<std::string> dataPath(cl::Positional, cl::Required,
                                     cl::desc("<data.csv>"), cl::sub(solveCmd));
static cl::opt<std::string> penaltyName("penalty", cl::desc("l1 or l2"),
                                        cl::init("l1"), cl::sub(solveCmd));
static cl::opt<double> inverseStrength(
    "C", cl::desc("Inverse regularisation strength (scikit-learn's C)"),
    cl::init(1.0), cl::sub(solveCmd));
static cl::opt<double> tolerance(
    "tol",
    cl::desc("Stop when every component of the proximal gradient mapping is "
             "at most this"),
    cl::init(1e-6), cl::sub(solveCmd));
static cl::opt<int> maxIterations("max-iter", cl::desc("Iteration limit"),
                                  cl::init(20000), cl::sub(solveCmd));
static cl::opt<bool> standardize("standardize",
                                 cl::desc("Centre and scale each feature "
                                          "before fitting"),
                                 cl::sub(solveCmd));
static cl::opt<std::string> outputPath("o", cl::desc("Output JSON"),
                                       cl::value_desc("file"), cl::init("-"),
                                       cl::sub(solveCmd));

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

static int solve() {
  LogRegOptions options;
  if (penaltyName == "l1")
    options.penalty = Penalty::L1;
  else if (penaltyName == "l2")
    options.penalty = Penalty::L2;
  else
    return error("--penalty must be l1 or l2, got '" + penaltyName + "'");
  options.C = inverseStrength;
  options.tol = tolerance;
  options.maxIterations = maxIterations;
  options.standardize = standardize;
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

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::ParseCommandLineOptions(argc, argv,
                              "qrealign-probe: safety-boundary probes\n");
  if (solveCmd)
    return solve();
  return error("give a subcommand: solve (see --help)");
}
