//===- ProbeTool.cpp - Pieces the qrealign-probe subcommands share --------===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#include "ProbeTool.h"

#include "qrealign/Support/AtomicOutput.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/WithColor.h"

using namespace llvm;
using namespace qrealign;
using namespace qrealign::probetool;

int qrealign::probetool::error(const Twine &msg) {
  WithColor::error(errs(), "qrealign-probe") << msg << "\n";
  return 1;
}

int64_t PromptSet::count(int8_t label) const {
  return llvm::count(labels, label);
}

Expected<PromptSet> qrealign::probetool::loadPromptSet(StringRef option,
                                                       StringRef spec) {
  auto fail = [&](const Twine &msg) {
    return createStringError(inconvertibleErrorCode(),
                             "--" + option + " " + msg);
  };
  auto [name, parts] = spec.split('=');
  if (name.empty() || parts.empty())
    return fail("'" + spec + "': expected NAME=SPEC[,SPEC...]");
  PromptSet set;
  set.name = name.str();
  SmallVector<StringRef> items;
  parts.split(items, ',');
  for (StringRef item : items) {
    int label = -1;
    Expected<std::vector<data::Example>> loaded = std::vector<data::Example>();
    if (item.starts_with("harmful:") || item.starts_with("benign:")) {
      label = item.starts_with("harmful:") ? 1 : 0;
      auto [kind, path] = item.split(':').second.split(':');
      loaded = data::loadDataset(kind, path);
    } else {
      loaded = data::readExamples(item);
    }
    if (!loaded)
      return fail(name + ": " + toString(loaded.takeError()));
    for (data::Example &e : *loaded) {
      if (label >= 0)
        e.label = label;
      if (e.label != 0 && e.label != 1)
        return fail(formatv("{0}: '{1}' has an example with label {2}; give "
                            "harmful:KIND:PATH or benign:KIND:PATH",
                            name, item, e.label)
                        .str());
      set.labels.push_back(int8_t(e.label));
      set.examples.push_back(std::move(e));
    }
  }
  if (set.examples.empty())
    return fail(name + ": no prompts");
  return set;
}

Expected<std::vector<std::vector<float>>> qrealign::probetool::captureLastToken(
    lab::LabModel &m, ArrayRef<data::Example> prompts, ArrayRef<int32_t> layers,
    int maxTokens, StringRef label) {
  int64_t count = prompts.size(), D = m.engine->getHiddenSize();
  std::vector<std::vector<float>> out(layers.size(),
                                      std::vector<float>(count * D));
  lab::Progress progress(label.str(), count);
  for (int64_t from = 0; from < count; from += batchSize) {
    int64_t to = std::min<int64_t>(count, from + batchSize);
    std::vector<std::vector<int64_t>> batch;
    for (int64_t i = from; i < to; ++i)
      batch.push_back(lab::encodePrompt(m, prompts[i].prompt, maxTokens));
    auto cap = m.engine->capture(batch, layers,
                                 std::vector<int32_t>(batch.size(), -1));
    if (!cap)
      return cap.takeError();
    for (int64_t i = from; i < to; ++i)
      for (size_t l = 0; l < layers.size(); ++l)
        std::copy((*cap)[i - from][l].begin(), (*cap)[i - from][l].end(),
                  out[l].begin() + i * D);
    progress.update(to);
  }
  progress.finish();
  return out;
}

Expected<std::unique_ptr<lab::LabModel>>
qrealign::probetool::loadModel(StringRef path, const char *argv0) {
  if (batchSize < 1 || maxPromptTokens < 8)
    return createStringError(inconvertibleErrorCode(),
                             "--batch-size must be >= 1 and "
                             "--max-prompt-tokens >= 8");
  return lab::loadModel(path,
                        lab::makeEngineOptions(device, numThreads, argv0));
}

Error qrealign::probetool::writeResults(StringRef dir, StringRef stem,
                                        json::Value report,
                                        StringRef markdown) {
  if (std::error_code ec = sys::fs::create_directories(dir))
    return createStringError(ec, "cannot create " + dir + ": " + ec.message());
  SmallString<256> jsonPath(dir), mdPath(dir);
  sys::path::append(jsonPath, stem + ".json");
  sys::path::append(mdPath, stem + ".md");
  if (Error err = writeFileAtomically(jsonPath, [&](raw_ostream &out) {
        out << formatv("{0:2}", report) << "\n";
        return Error::success();
      }))
    return err;
  return writeFileAtomically(mdPath, [&](raw_ostream &out) {
    out << markdown;
    return Error::success();
  });
}
