//===- ProbeTool.h - Pieces the qrealign-probe subcommands share -*- C++
//-*-===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_TOOLS_PROBETOOL_H
#define QREALIGN_TOOLS_PROBETOOL_H

#include "qrealign/Data/Datasets.h"
#include "qrealign/Lab/Lab.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

#include <cmath>
#include <string>
#include <vector>

namespace qrealign::probetool {
extern llvm::cl::SubCommand fitCmd, reportCmd, patchCmd;
/// Options of every subcommand that runs a model.
extern llvm::cl::opt<int> batchSize, numThreads, maxPromptTokens;
extern llvm::cl::opt<std::string> device;

/// Prints `qrealign-probe: error: msg` and returns 1.
int error(const llvm::Twine &msg);

/// `v` for JSON: null when not finite (the AUC of a single class, say).
inline llvm::json::Value jsonNumber(double v) {
  return std::isfinite(v) ? llvm::json::Value(v) : llvm::json::Value(nullptr);
}

/// A named, labelled prompt set (1 malicious, 0 benign).
struct PromptSet {
  std::string name;
  std::vector<data::Example> examples;
  std::vector<int8_t> labels;
  int64_t count(int8_t label) const;
};
/// Parses NAME=SPEC[,SPEC...]: each SPEC a labelled JSONL file, or
/// harmful:KIND:PATH / benign:KIND:PATH, a prompt set of qrealign-data's
/// kinds with every prompt labelled. `option` names the flag in errors.
llvm::Expected<PromptSet> loadPromptSet(llvm::StringRef option,
                                        llvm::StringRef spec);

/// The states of `layers` (qrealign.layer indices; num_layers is the final
/// norm's output) at the last token of each rendered prompt, per layer
/// [prompt * hidden], with a progress line labelled `label`.
llvm::Expected<std::vector<std::vector<float>>>
captureLastToken(lab::LabModel &model, llvm::ArrayRef<data::Example> prompts,
                 llvm::ArrayRef<int32_t> layers, int maxTokens,
                 llvm::StringRef label);

/// Loads a model for a subcommand, with the shared engine options.
llvm::Expected<std::unique_ptr<lab::LabModel>> loadModel(llvm::StringRef path,
                                                         const char *argv0);

/// Writes DIR/STEM.json (`report`, indented) and DIR/STEM.md (`markdown`),
/// each atomically, creating DIR.
llvm::Error writeResults(llvm::StringRef dir, llvm::StringRef stem,
                         llvm::json::Value report, llvm::StringRef markdown);

int runFit(const char *argv0);
int runReport(const char *argv0);
int runPatch(const char *argv0);
} // namespace qrealign::probetool

#endif // QREALIGN_TOOLS_PROBETOOL_H
