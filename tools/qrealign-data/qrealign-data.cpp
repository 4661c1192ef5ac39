//===- qrealign-data.cpp - The safety lab's prompt sets
//--------------------===//
//
// qrealign-data list   --data-dir DIR        load every set, print counts
// qrealign-data check  KIND FILE             load one file as KIND
// qrealign-data splits (--data-dir DIR | --synthetic) [--task sst2]
//                      [--seed N] -o OUTDIR  write the lab's disjoint sets
//
//===----------------------------------------------------------------------===//

#include "qrealign/Data/Splits.h"
#include "qrealign/Support/OutputDirectory.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/WithColor.h"

using namespace llvm;
using namespace qrealign::data;

static cl::SubCommand listCmd("list", "Load every prompt set of a data "
                                      "directory and print its size");
static cl::SubCommand checkCmd("check", "Load one file as a given kind");
static cl::SubCommand splitsCmd("splits", "Write the lab's disjoint sets");

static cl::opt<std::string> dataDir("data-dir",
                                    cl::desc("The shared data directory "
                                             "(../shared/data)"),
                                    cl::sub(listCmd), cl::sub(splitsCmd));
static cl::opt<std::string> checkKind(cl::Positional, cl::Required,
                                      cl::desc("<kind>"), cl::sub(checkCmd));
static cl::opt<std::string> checkFile(cl::Positional, cl::Required,
                                      cl::desc("<file>"), cl::sub(checkCmd));
static cl::opt<bool> synthetic("synthetic",
                               cl::desc("Use the built-in synthetic corpus"),
                               cl::sub(splitsCmd));
static cl::opt<std::string> taskName("task", cl::desc("sst2, gsm8k or agnews"),
                                     cl::init("sst2"), cl::sub(splitsCmd));
static cl::opt<unsigned long long> seed("seed", cl::desc("Shuffle seed"),
                                        cl::init(1), cl::sub(splitsCmd));
static cl::opt<std::string> outDir("o", cl::desc("Output directory"),
                                   cl::value_desc("dir"), cl::sub(splitsCmd));
static cl::opt<bool>
    force("force",
          cl::desc("Replace a non-empty -o directory that qrealign did not "
                   "write"),
          cl::sub(splitsCmd));

static int error(const Twine &msg) {
  WithColor::error(errs(), "qrealign-data") << msg << "\n";
  return 1;
}

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::ParseCommandLineOptions(argc, argv,
                              "qrealign-data: prompt sets of the safety lab\n");
  if (listCmd) {
    if (dataDir.empty())
      return error("list needs --data-dir");
    outs() << formatv("| {0,-24} | {1,7} | {2} |\n", "set", "rows", "file");
    outs() << "|---|---:|---|\n";
    for (const DatasetKind &k : getDatasetKinds()) {
      SmallString<256> path(dataDir);
      sys::path::append(path, k.relativePath);
      Expected<std::vector<Example>> ex = loadDataset(k.name, path);
      if (!ex)
        return error(toString(ex.takeError()));
      outs() << formatv("| {0,-24} | {1,7} | {2} |\n", k.name, ex->size(),
                        k.relativePath);
    }
    SmallString<256> kw(dataDir);
    sys::path::append(kw, "refusal_keywords", "refusal_keywords.json");
    Expected<std::vector<RefusalJudge>> judges = loadRefusalJudges(kw);
    if (!judges)
      return error(toString(judges.takeError()));
    for (const RefusalJudge &j : *judges)
      outs() << formatv("| judge {0,-18} | {1,7} | {2} |\n", j.name,
                        j.keywords.size(),
                        "refusal_keywords/refusal_keywords.json");
    return 0;
  }
  if (checkCmd) {
    Expected<std::vector<Example>> ex = loadDataset(checkKind, checkFile);
    if (!ex)
      return error(toString(ex.takeError()));
    outs() << checkFile << ": " << ex->size() << " " << checkKind
           << " examples\n";
    return 0;
  }
  if (splitsCmd) {
    if (outDir.empty())
      return error("splits needs -o DIR");
    if (Error err = qrealign::checkOutputDirectory(outDir, force))
      return error(toString(std::move(err)));
    Expected<Task> task = parseTask(taskName);
    if (!task)
      return error(toString(task.takeError()));
    LabSplits splits;
    if (synthetic) {
      if (*task != Task::SST2)
        return error("the synthetic corpus has only the sentiment task");
      splits = makeSyntheticSplits(seed);
    } else {
      if (dataDir.empty())
        return error("splits needs --data-dir DIR or --synthetic");
      if (!sys::fs::is_directory(dataDir))
        return error(dataDir + ": no such directory (pass --synthetic to use "
                               "the built-in corpus)");
      Expected<LabSplits> s = makeSharedSplits(dataDir, *task, seed);
      if (!s)
        return error(toString(s.takeError()));
      splits = std::move(*s);
    }
    if (Error err = writeSplits(splits, outDir, seed, force))
      return error(toString(std::move(err)));
    outs() << formatv("splits of the {0} corpus in {1}:\n", splits.origin,
                      outDir);
    for (const auto &[name, set] : splits.sets)
      outs() << formatv("  {0,-20} {1,6}\n", name, set.size());
    return 0;
  }
  return error("no command: use list, check or splits (see --help)");
}
