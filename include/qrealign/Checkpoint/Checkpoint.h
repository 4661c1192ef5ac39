//===- Checkpoint.h - Named tensors from model checkpoints ------*- C++ -*-===//
//
// Readers and a writer for the checkpoint formats qrealign imports:
//
//  - safetensors files (https://github.com/huggingface/safetensors), single or
//    sharded through `model.safetensors.index.json`;
//  - llama2.c legacy (version 0) `.bin` checkpoints, exposed under Hugging
//    Face tensor names so that imported IR looks the same for both.
//
// Opening a checkpoint reads and validates headers only. Tensor data is
// memory-mapped on first access (zero copy), so opening a 7B checkpoint costs
// the same as opening a 7K one. Every malformed input is reported as an
// llvm::Error whose message starts with the file name; nothing here aborts or
// reads out of bounds.
//
// This library depends on LLVM Support only (no MLIR, no libtorch).
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_CHECKPOINT_CHECKPOINT_H
#define QREALIGN_CHECKPOINT_CHECKPOINT_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace qrealign {
/// Element types of stored tensors.
enum class DType { F32, F16, BF16, I8, U8, I32, I64 };

/// Bytes per element.
size_t getDTypeSize(DType dtype);
/// The safetensors spelling ("F32", "BF16", ...).
llvm::StringRef getDTypeName(DType dtype);
/// Parses a safetensors dtype string; std::nullopt if unsupported.
std::optional<DType> parseDType(llvm::StringRef name);
/// The list of supported dtype names, for diagnostics.
llvm::StringRef getSupportedDTypeNames();

/// "[4096, 4096]".
std::string formatShape(llvm::ArrayRef<int64_t> shape);

/// The most entries (tensors and `__metadata__`) one safetensors header may
/// hold: ten times the largest published checkpoints.
constexpr size_t kMaxSafeTensorsEntries = size_t(1) << 20;

/// One tensor of a checkpoint.
struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  llvm::SmallVector<int64_t, 4> shape;
  /// Index of the file (shard) holding the data.
  unsigned file = 0;
  /// Absolute byte offset of the data in that file, and its length.
  uint64_t offset = 0;
  uint64_t size = 0;

  /// The element count (shapes are checked when read, so it fits).
  int64_t getNumElements() const;
  /// "[4096, 4096]".
  std::string getShapeString() const;
};

/// Checkpoint formats.
enum class CheckpointFormat { SafeTensors, ShardedSafeTensors, Llama2C };

/// The model hyper-parameters a llama2.c header carries.
struct Llama2CConfig {
  int64_t dim = 0, hiddenDim = 0, numLayers = 0, numHeads = 0, numKVHeads = 0,
          vocabSize = 0, seqLen = 0;
  bool sharedClassifier = true;
};

/// A set of named tensors read from one checkpoint (one or several files).
class Checkpoint {
public:
  /// Opens `path`: a `.safetensors` file, a `*.safetensors.index.json`
  /// sharding index, a llama2.c `.bin`, or a directory holding
  /// `model.safetensors` or `model.safetensors.index.json`.
  static llvm::Expected<std::unique_ptr<Checkpoint>> open(llvm::StringRef path);
  /// Opens a single safetensors file.
  static llvm::Expected<std::unique_ptr<Checkpoint>>
  openSafeTensors(llvm::StringRef path);
  /// Opens a sharded checkpoint from its index JSON.
  static llvm::Expected<std::unique_ptr<Checkpoint>>
  openShardIndex(llvm::StringRef indexPath);
  /// Opens a llama2.c legacy checkpoint.
  static llvm::Expected<std::unique_ptr<Checkpoint>>
  openLlama2C(llvm::StringRef path);

  ~Checkpoint();

  CheckpointFormat getFormat() const { return format; }
  /// The path the checkpoint was opened from.
  llvm::StringRef getPath() const { return path; }
  /// All tensors, in file order.
  llvm::ArrayRef<TensorInfo> getTensors() const { return tensors; }
  /// The tensor called `name`, or nullptr.
  const TensorInfo *lookup(llvm::StringRef name) const;
  /// The data of `tensor` (memory-mapped on first use; stays valid as long
  /// as this object lives).
  llvm::Expected<llvm::ArrayRef<uint8_t>> getData(const TensorInfo &tensor);
  /// `__metadata__` of a safetensors file (the first shard's for sharded
  /// checkpoints; the index's `metadata` values are merged in).
  const std::vector<std::pair<std::string, std::string>> &getMetadata() const {
    return metadata;
  }
  /// The `__metadata__` value of `key`, if present.
  std::optional<llvm::StringRef> getMetadataValue(llvm::StringRef key) const {
    for (const auto &[k, v] : metadata)
      if (k == key)
        return llvm::StringRef(v);
    return std::nullopt;
  }
  /// The files the tensors live in.
  llvm::ArrayRef<std::string> getFiles() const { return files; }
  /// The llama2.c header, for Llama2C checkpoints.
  const std::optional<Llama2CConfig> &getLlama2CConfig() const {
    return llama2c;
  }
  /// Total bytes of tensor data.
  uint64_t getTotalDataSize() const;

private:
  Checkpoint() = default;
  llvm::Error addSafeTensorsFile(llvm::StringRef file);
  llvm::Error buildIndex();

  CheckpointFormat format = CheckpointFormat::SafeTensors;
  std::string path;
  std::vector<std::string> files;
  std::vector<uint64_t> fileSizes;
  std::vector<std::unique_ptr<llvm::MemoryBuffer>> mapped;
  std::vector<TensorInfo> tensors;
  llvm::StringMap<size_t> byName;
  std::vector<std::pair<std::string, std::string>> metadata;
  std::optional<Llama2CConfig> llama2c;
};

/// Parses and validates a safetensors header (the JSON text that follows the
/// 8-byte length). `dataSize` is the number of bytes after the header;
/// offsets in the result are relative to the start of the data section.
/// `file` names the file in diagnostics.
llvm::Error
parseSafeTensorsHeader(llvm::StringRef json, uint64_t dataSize,
                       llvm::StringRef file, std::vector<TensorInfo> &tensors,
                       std::vector<std::pair<std::string, std::string>> &meta);

/// The largest shard index (model.safetensors.index.json) read.
constexpr uint64_t kMaxShardIndexSize = uint64_t(64) << 20;

/// What a shard index says: each tensor's shard (sorted by tensor), the
/// distinct shards (sorted), and its `metadata` as "index.KEY" entries.
struct ShardIndex {
  std::vector<std::pair<std::string, std::string>> tensorToShard;
  std::vector<std::string> shards;
  std::vector<std::pair<std::string, std::string>> metadata;
};
/// Parses and checks the text of a shard index (no files are opened):
/// shard names must be plain file names beside the index.
llvm::Expected<ShardIndex> parseShardIndex(llvm::StringRef text,
                                           llvm::StringRef indexPath);

/// Checks a llama2.c header (its first 28 bytes) against the file size
/// with checked arithmetic and returns the tensors it implies, under Hugging
/// Face names, with absolute offsets. Nothing is sized from the header
/// before the sizes are checked.
llvm::Expected<std::vector<TensorInfo>>
parseLlama2CHeader(llvm::ArrayRef<uint8_t> header, uint64_t fileSize,
                   llvm::StringRef file, Llama2CConfig &config);

/// A tensor to write.
struct TensorToWrite {
  std::string name;
  DType dtype = DType::F32;
  llvm::SmallVector<int64_t, 4> shape;
  llvm::ArrayRef<uint8_t> data;
};

/// Writes a safetensors file atomically (a temporary file in the same
/// directory, renamed over `path` once complete). Tensors are stored in the
/// given order; the header is padded to 8 bytes.
llvm::Error writeSafeTensors(
    llvm::StringRef path, llvm::ArrayRef<TensorToWrite> tensors,
    llvm::ArrayRef<std::pair<std::string, std::string>> metadata = {});
} // namespace qrealign

#endif // QREALIGN_CHECKPOINT_CHECKPOINT_H
