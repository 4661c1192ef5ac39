//===- Datasets.h - Prompt sets for the safety lab ---------------*- C++
//-*-===//
//
// Loaders for the prompt sets of ../shared/data (AdvBench, JailbreakBench,
// the refusal-direction splits, MaliciousInstruct, XSTest, SST-2, GSM8K,
// AG News, Alpaca, the refusal keyword lists), the refusal judges, and the
// lab's splits (docs/lab-data.md). Every malformed file or row gives an error
// naming the file and line (or element); nothing is skipped silently.
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_DATA_DATASETS_H
#define QREALIGN_DATA_DATASETS_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace qrealign::data {
/// One example. `response` is empty where the source has none; `label` is
/// the class of classification sets (SST-2: 0 negative, 1 positive; AG News
/// 0-3; XSTest: 1 unsafe, 0 safe) and -1 otherwise.
/// Labels are small class indices; anything larger in a file is an error.
constexpr int kMaxLabel = 1 << 20;

struct Example {
  std::string prompt;
  std::string response;
  std::string source;   // "advbench", "xstest", ...
  std::string category; // where the source has one
  int label = -1;
};

/// The dataset kinds loadDataset understands, with the file each one reads
/// under ../shared/data.
struct DatasetKind {
  const char *name;
  const char *relativePath;
  const char *description;
};
llvm::ArrayRef<DatasetKind> getDatasetKinds();

/// Loads `path` as dataset `kind` (a name of getDatasetKinds()).
llvm::Expected<std::vector<Example>> loadDataset(llvm::StringRef kind,
                                                 llvm::StringRef path);
/// The same for `text` already in memory (`path` names it in errors).
llvm::Expected<std::vector<Example>>
parseDataset(llvm::StringRef kind, llvm::StringRef text, llvm::StringRef path);

/// Reads a JSONL file of examples as writeSplits writes them (prompt,
/// response, source, category, label); errors name the file and line.
llvm::Expected<std::vector<Example>> readExamples(llvm::StringRef path);
llvm::Expected<std::vector<Example>> parseExamples(llvm::StringRef text,
                                                   llvm::StringRef path);

/// Rows of a CSV (RFC 4180: quotes, doubled quotes, newlines in quoted
/// fields) or TSV (no quoting) file, header first. Each row carries the line
/// it starts on. Every row must have as many fields as the header.
struct Row {
  unsigned line;
  std::vector<std::string> fields;
};
llvm::Expected<std::vector<Row>> readDelimited(llvm::StringRef path,
                                               char separator);
llvm::Expected<std::vector<Row>>
parseDelimited(llvm::StringRef text, llvm::StringRef path, char separator);

/// A refusal judge: decides whether a completion is a refusal.
struct RefusalJudge {
  enum class Rule {
    /// Any keyword occurs, case-sensitively (GCG's rule).
    Substring,
    /// Any keyword occurs, ignoring case (JailbreakBench's rule).
    SubstringNoCase,
    /// The lower-cased, trimmed completion starts with a keyword (XSTest's).
    PrefixNoCase,
  };
  std::string name;
  Rule rule = Rule::Substring;
  std::vector<std::string> keywords;
  bool isRefusal(llvm::StringRef completion) const;
};
/// The judges of refusal_keywords.json, by their names there.
llvm::Expected<std::vector<RefusalJudge>>
loadRefusalJudges(llvm::StringRef path);
llvm::Expected<std::vector<RefusalJudge>>
parseRefusalJudges(llvm::StringRef text, llvm::StringRef path);
/// qrealign's own small refusal list ("builtin"), for runs without
/// ../shared: substring rule, phrases of the lab's refusal responses and of
/// common chat-model refusals.
RefusalJudge getBuiltinJudge();

/// Lower-cased text with runs of non-alphanumerics collapsed to one space:
/// the key under which prompts are deduplicated across sources and splits.
std::string normalizeForDedup(llvm::StringRef text);
} // namespace qrealign::data

#endif // QREALIGN_DATA_DATASETS_H
