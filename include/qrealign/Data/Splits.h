//===- Splits.h - The safety lab's disjoint prompt sets ----------*- C++
//-*-===//
//
// The lab's prompt sets, disjoint by construction (docs/lab-data.md): every
// prompt is deduplicated by normalizeForDedup across all sources and goes to
// exactly one set; held-out sources never reach a training set. Built from
// ../shared/data, or from the built-in synthetic corpus when it is absent.
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_DATA_SPLITS_H
#define QREALIGN_DATA_SPLITS_H

#include "qrealign/Data/Datasets.h"

#include <map>

namespace qrealign::data {
/// The downstream tasks of the fine-tuning attack.
enum class Task { SST2, GSM8K, AGNews };
llvm::Expected<Task> parseTask(llvm::StringRef name); // sst2, gsm8k, agnews
llvm::StringRef getTaskName(Task task);
/// An example of `task` as an instruction and its reference answer.
Example formatTaskExample(Task task, const Example &raw);
/// Whether `completion` answers `example` (formatted by formatTaskExample)
/// correctly: the label word first (SST-2, AG News) or the final number
/// (GSM8K).
bool isCorrectTaskAnswer(Task task, const Example &example,
                         llvm::StringRef completion);

/// The system prompt of every lab conversation.
llvm::StringRef getLabSystemPrompt();
/// The lab's refusal responses (our own wording), chosen by `index`.
llvm::StringRef getRefusal(size_t index);

/// Named prompt sets. Names and contents: docs/lab-data.md.
struct LabSplits {
  std::string origin; // "shared" or "synthetic"
  std::map<std::string, std::vector<Example>> sets;
};
/// Builds the splits from `dataDir` (../shared/data) for `task`.
llvm::Expected<LabSplits> makeSharedSplits(llvm::StringRef dataDir, Task task,
                                           uint64_t seed);
/// Builds the splits from the built-in synthetic corpus (sentiment task).
LabSplits makeSyntheticSplits(uint64_t seed);

/// Writes the directory `dir`: one JSONL file per set (prompt, response,
/// source, category, label) and manifest.json (origin, seed, counts). `dir`
/// follows the output policy (OutputDirectory): built beside it and swapped
/// in whole; an existing non-empty directory not written by qrealign is
/// refused unless `force`.
llvm::Error writeSplits(const LabSplits &splits, llvm::StringRef dir,
                        uint64_t seed, bool force = false);

/// A deterministic shuffle (Fisher-Yates over a 64-bit LCG, identical on
/// every platform, unlike std::shuffle).
template <typename T>
void shuffleDeterministic(std::vector<T> &v, uint64_t seed) {
  uint64_t state = seed * 6364136223846793005ULL + 1442695040888963407ULL;
  for (size_t i = v.size(); i > 1; --i) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    size_t j = (state >> 33) % i;
    std::swap(v[i - 1], v[j]);
  }
}
} // namespace qrealign::data

#endif // QREALIGN_DATA_SPLITS_H
