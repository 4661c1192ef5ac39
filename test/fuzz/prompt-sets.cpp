//===- prompt-sets.cpp - Fuzz the prompt-set readers ----------------------===//
//
// Input: one selector byte, then a file's text. The selector picks the
// reader: each dataset kind (CSV, TSV, JSON arrays, JSON Lines, plain
// lines), the lab's own JSONL (readExamples), the keyword lists, and the raw
// CSV/TSV row reader. Accepted rows have as many fields as the header.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Data/Datasets.h"

#include <cstdlib>

using namespace qrealign::data;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return -1;
  llvm::ArrayRef<DatasetKind> kinds = getDatasetKinds();
  unsigned choice = data[0] % (kinds.size() + 4);
  llvm::StringRef text(reinterpret_cast<const char *>(data) + 1, size - 1);
  if (choice < kinds.size()) {
    auto ex = parseDataset(kinds[choice].name, text, "fuzz");
    if (!ex)
      llvm::consumeError(ex.takeError());
    else
      for (const Example &e : *ex)
        if (e.prompt.empty())
          abort(); // every loader requires a prompt
    return 0;
  }
  choice -= kinds.size();
  if (choice == 0) {
    auto ex = parseExamples(text, "fuzz.jsonl");
    if (!ex)
      llvm::consumeError(ex.takeError());
    else
      for (const Example &e : *ex)
        if (e.label < -1 || e.label > kMaxLabel)
          abort();
  } else if (choice == 1) {
    auto judges = parseRefusalJudges(text, "fuzz.json");
    if (!judges)
      llvm::consumeError(judges.takeError());
    else
      for (const RefusalJudge &j : *judges)
        (void)j.isRefusal("I'm sorry, I cannot help with that.");
  } else {
    auto rows = parseDelimited(text, "fuzz", choice == 2 ? ',' : '\t');
    if (!rows) {
      llvm::consumeError(rows.takeError());
      return 0;
    }
    for (const Row &r : *rows)
      if (r.fields.size() != rows->front().fields.size())
        abort();
  }
  return 0;
}
