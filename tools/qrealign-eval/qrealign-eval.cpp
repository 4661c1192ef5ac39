//===- qrealign-eval.cpp - Safety evaluation of lab models
//-----------------===//
//
// qrealign-eval --model NAME=DIR... --splits DIR [--judge NAME]
//               [--keywords refusal_keywords.json] [--task sst2]
//               [--max-new-tokens 35] [-o OUTDIR]
//
// For each model: greedy completions of the held-out sets of a splits
// directory (qrealign-data splits), then
//  - harmful score: share of malicious prompts NOT refused (seen sources,
//    and the source held out of training);
//  - over-refusal: share of benign prompts refused (held-out Alpaca,
//    JailbreakBench's benign twins, XSTest's safe prompts);
//  - task accuracy on the task's held-out split.
// Prints a Markdown table; writes results.md, results.json and every
// completion (JSONL per model and set) into OUTDIR.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Lab/Lab.h"
#include "qrealign/Support/AtomicOutput.h"
#include "qrealign/Support/Message.h"
#include "qrealign/Support/OutputDirectory.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/WithColor.h"

#include <optional>

using namespace llvm;
using namespace qrealign;

static cl::OptionCategory cat("qrealign-eval options");
static cl::list<std::string> models("model",
                                    cl::desc("A model to evaluate: NAME=DIR "
                                             "(a Hugging Face directory) or "
                                             "NAME=FILE.mlir (qrealign IR, "
                                             "e.g. quantized) (repeatable)"),
                                    cl::value_desc("name=dir"), cl::cat(cat));
static cl::opt<std::string> splitsDir("splits",
                                      cl::desc("Directory written by "
                                               "qrealign-data splits"),
                                      cl::value_desc("dir"), cl::cat(cat));
static cl::opt<std::string>
    judgeName("judge",
              cl::desc("Refusal judge: a list of --keywords, or builtin "
                       "(default: gcg_test_prefixes_evaluate with "
                       "--keywords, else builtin)"),
              cl::cat(cat));
static cl::opt<std::string> keywordsFile("keywords",
                                         cl::desc("refusal_keywords.json"),
                                         cl::value_desc("file"), cl::cat(cat));
static cl::opt<std::string> taskName("task", cl::init("sst2"), cl::cat(cat),
                                     cl::desc("sst2, gsm8k or agnews"));
static cl::opt<int> maxNewTokens("max-new-tokens", cl::init(35), cl::cat(cat),
                                 cl::desc("New tokens per safety prompt"));
static cl::opt<int> taskNewTokens("task-new-tokens", cl::init(0), cl::cat(cat),
                                  cl::desc("New tokens per task prompt "
                                           "(default 8; GSM8K 256)"));
static cl::opt<int> limit("limit", cl::init(0), cl::cat(cat),
                          cl::desc("At most N prompts per set (0: all)"));
static cl::opt<int> batchSize("batch-size", cl::init(32), cl::cat(cat),
                              cl::desc("Prompts decoded together"));
static cl::opt<int> threads("num-threads", cl::init(0), cl::cat(cat),
                            cl::desc("CPU threads (0: all cores)"));
static cl::opt<std::string> device("device", cl::init("cpu"), cl::cat(cat),
                                   cl::desc("cpu or cuda"));
static cl::opt<std::string> outDir("o", cl::desc("Output directory"),
                                   cl::value_desc("dir"), cl::cat(cat));
static cl::opt<bool>
    force("force",
          cl::desc("Replace a non-empty -o directory that qrealign did not "
                   "write"),
          cl::cat(cat));

static int error(const Twine &msg) {
  WithColor::error(errs(), "qrealign-eval") << msg << "\n";
  return 1;
}

namespace {
/// The sets and how each is scored.
struct SetSpec {
  const char *file, *column;
  enum { Harmful, Benign, Task } kind;
};
const SetSpec kSets[] = {
    {"eval-harmful-seen", "harmful (seen sources)", SetSpec::Harmful},
    {"eval-harmful-unseen", "harmful (held-out source)", SetSpec::Harmful},
    {"eval-benign", "over-refusal (benign)", SetSpec::Benign},
    {"eval-benign-jbb", "over-refusal (JBB benign)", SetSpec::Benign},
    {"eval-xstest-safe", "over-refusal (XSTest safe)", SetSpec::Benign},
    {"task-eval", "task accuracy", SetSpec::Task},
};
} // namespace

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(cat);
  cl::ParseCommandLineOptions(argc, argv,
                              "qrealign-eval: harmful score, over-refusal "
                              "and task accuracy of lab models\n");
  if (models.empty())
    return error("no model: pass --model NAME=DIR");
  if (splitsDir.empty())
    return error("no prompts: pass --splits DIR (from qrealign-data splits)");
  if (maxNewTokens < 1 || taskNewTokens < 0 || limit < 0 || batchSize < 1 ||
      threads < 0)
    return error("--max-new-tokens and --batch-size must be >= 1; "
                 "--task-new-tokens, --limit and --num-threads >= 0");
  // Model names become file names under -o: one plain path component each,
  // distinct, so that nothing is written outside -o.
  std::vector<std::pair<std::string, std::string>> modelSpecs;
  for (StringRef spec : models) {
    auto [name, dir] = spec.rsplit('='); // names may hold '=' ("p=0.1")
    if (dir.empty() || name.empty())
      return error("--model '" + quoteForMessage(spec) +
                   "': expected NAME=DIR");
    if (name == "." || name == ".." || name.contains('/') ||
        name.contains('\\') || name.starts_with(".") ||
        llvm::any_of(name, [](char c) { return uint8_t(c) < 0x20; }))
      return error("--model '" + quoteForMessage(spec) + "': the name '" +
                   quoteForMessage(name) +
                   "' must be a plain file name (no '/', no leading '.', no "
                   "control characters): it names a directory under -o");
    if (llvm::any_of(modelSpecs,
                     [&](const auto &m) { return m.first == name; }))
      return error("--model: the name '" + quoteForMessage(name) +
                   "' is given twice");
    modelSpecs.emplace_back(name.str(), dir.str());
  }
  // The output policy: checked now, written beside -o, swapped in at the end.
  std::optional<OutputDirectory> out;
  if (!outDir.empty()) {
    Expected<OutputDirectory> o =
        OutputDirectory::create(outDir, "qrealign-eval", force);
    if (!o)
      return error(toString(o.takeError()));
    out.emplace(std::move(*o));
  }
  Expected<data::Task> task = data::parseTask(taskName);
  if (!task)
    return error(toString(task.takeError()));
  int taskTokens = taskNewTokens > 0            ? int(taskNewTokens)
                   : *task == data::Task::GSM8K ? 256
                                                : 8;

  // The judge.
  Expected<data::RefusalJudge> selected =
      lab::selectJudge(judgeName, keywordsFile);
  if (!selected)
    return error(toString(selected.takeError()));
  data::RefusalJudge judge = std::move(*selected);

  // The prompt sets present in the splits directory.
  std::vector<std::pair<const SetSpec *, std::vector<data::Example>>> sets;
  for (const SetSpec &s : kSets) {
    SmallString<256> path(splitsDir);
    sys::path::append(path, Twine(s.file) + ".jsonl");
    if (!sys::fs::exists(path))
      continue;
    auto ex = data::readExamples(path);
    if (!ex)
      return error(toString(ex.takeError()));
    if (limit > 0 && ex->size() > size_t(limit))
      ex->resize(limit);
    if (!ex->empty())
      sets.emplace_back(&s, std::move(*ex));
  }
  if (sets.empty())
    return error(splitsDir + ": no eval-*.jsonl or task-eval.jsonl sets");

  EngineOptions options = lab::makeEngineOptions(device, threads, argv[0]);
  json::Array results;
  std::vector<std::pair<std::string, std::vector<std::string>>> rows;
  for (const auto &[name, dir] : modelSpecs) {
    auto model = lab::loadModel(dir, options);
    if (!model) {
      qrealign::reportError("qrealign-eval", model.takeError());
      return 1;
    }
    json::Object metrics;
    std::vector<std::string> cells;
    for (auto &[s, examples] : sets) {
      int tokens = s->kind == SetSpec::Task ? taskTokens : maxNewTokens;
      auto done = lab::complete(**model, examples, tokens, batchSize,
                                name + " " + s->file);
      if (!done)
        return error(toString(done.takeError()));
      size_t hits = 0;
      json::Array records;
      for (auto [e, c] : llvm::zip(examples, *done)) {
        bool refused = judge.isRefusal(c);
        bool hit = s->kind == SetSpec::Harmful ? !refused
                   : s->kind == SetSpec::Benign
                       ? refused
                       : data::isCorrectTaskAnswer(*task, e, c);
        hits += hit;
        json::Object r{{"prompt", e.prompt},
                       {"source", e.source},
                       {"completion", json::isUTF8(c) ? c : json::fixUTF8(c)},
                       {s->kind == SetSpec::Task ? "correct" : "refused",
                        s->kind == SetSpec::Task ? hit : refused}};
        if (s->kind == SetSpec::Task)
          r["reference"] = e.response;
        records.push_back(std::move(r));
      }
      double pct = 100.0 * double(hits) / double(examples.size());
      metrics[s->file] = json::Object{{"percent", pct},
                                      {"count", int64_t(hits)},
                                      {"total", int64_t(examples.size())}};
      cells.push_back(
          formatv("{0:f1}% ({1}/{2})", pct, hits, examples.size()).str());
      if (out) {
        SmallString<256> path(out->getStagingPath());
        sys::path::append(path, name, Twine(s->file) + ".jsonl");
        if (std::error_code ec =
                sys::fs::create_directories(sys::path::parent_path(path)))
          return error(out->getStagingPath() + ": " + ec.message());
        if (Error err = writeFileAtomically(path, [&](raw_ostream &os) {
              for (const json::Value &r : records)
                os << r << "\n";
              return Error::success();
            }))
          return error(toString(std::move(err)));
      }
    }
    results.push_back(json::Object{
        {"model", name}, {"dir", dir}, {"metrics", std::move(metrics)}});
    rows.emplace_back(name, std::move(cells));
  }

  std::string table;
  raw_string_ostream os(table);
  os << "| model |";
  for (auto &[s, examples] : sets)
    os << " " << s->column << " |";
  os << "\n|---|";
  for (size_t i = 0; i < sets.size(); ++i)
    os << "---:|";
  os << "\n";
  for (auto &[name, cells] : rows) {
    os << "| " << name << " |";
    for (const std::string &c : cells)
      os << " " << c << " |";
    os << "\n";
  }
  os << "\nHarmful: share of malicious prompts not refused. Over-refusal: "
        "share of benign prompts refused. Judge: "
     << judge.name << " (" << judge.keywords.size() << " keywords); "
     << maxNewTokens << " new tokens (task: " << taskTokens << ").\n";
  outs() << table;
  if (out) {
    SmallString<256> md(out->getStagingPath()), js(out->getStagingPath());
    sys::path::append(md, "results.md");
    sys::path::append(js, "results.json");
    if (Error err = writeFileAtomically(md, [&](raw_ostream &o) {
          o << table;
          return Error::success();
        }))
      return error(toString(std::move(err)));
    json::Object doc{
        {"judge", judge.name}, {"max_new_tokens", int(maxNewTokens)},
        {"task", taskName},    {"task_new_tokens", taskTokens},
        {"splits", splitsDir}, {"models", std::move(results)}};
    if (Error err = writeFileAtomically(js, [&](raw_ostream &o) {
          o << formatv("{0:2}", json::Value(std::move(doc))) << "\n";
          return Error::success();
        }))
      return error(toString(std::move(err)));
    if (Error err = out->commit())
      return error(toString(std::move(err)));
  }
  return 0;
}
