//===- shard-index.cpp - Fuzz the shard index parser ----------------------===//
//
// Input: the text of a model.safetensors.index.json. Accepted indexes name
// only plain files beside the index.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Checkpoint/Checkpoint.h"

#include <cstdlib>

using namespace qrealign;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef text(reinterpret_cast<const char *>(data), size);
  llvm::Expected<ShardIndex> index = parseShardIndex(text, "fuzz.index.json");
  if (!index) {
    llvm::consumeError(index.takeError());
    return 0;
  }
  for (const std::string &shard : index->shards)
    if (shard.empty() || shard == "." || shard == ".." ||
        llvm::StringRef(shard).contains('/'))
      abort(); // would open a file outside the checkpoint directory
  return 0;
}
