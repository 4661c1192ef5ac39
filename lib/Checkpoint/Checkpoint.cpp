//===- Checkpoint.cpp - Checkpoint dispatch, shards and llama2.c ----------===//

#include "qrealign/Checkpoint/Checkpoint.h"
#include "qrealign/Checkpoint/ModelConfig.h"
#include "qrealign/Support/InputFile.h"
#include "qrealign/Support/JSON.h"
#include "qrealign/Support/Limits.h"
#include "qrealign/Support/Message.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"

using namespace llvm;

namespace qrealign {
static Error fail(StringRef file, const Twine &msg) {
  return createStringError(inconvertibleErrorCode(), file + ": " + msg);
}

Expected<std::unique_ptr<Checkpoint>> Checkpoint::open(StringRef path) {
  if (sys::fs::is_directory(path)) {
    SmallString<256> single(path), index(path);
    sys::path::append(single, "model.safetensors");
    sys::path::append(index, "model.safetensors.index.json");
    if (sys::fs::exists(index))
      return openShardIndex(index);
    if (sys::fs::exists(single))
      return openSafeTensors(single);
    return fail(path, "directory has neither model.safetensors nor "
                      "model.safetensors.index.json");
  }
  if (!sys::fs::exists(path))
    return fail(path, "no such file or directory");
  if (path.ends_with(".index.json"))
    return openShardIndex(path);
  if (path.ends_with(".bin"))
    return openLlama2C(path);
  return openSafeTensors(path);
}

Expected<ShardIndex> parseShardIndex(StringRef text, StringRef indexPath) {
  JSONLimits limits;
  limits.maxDepth = 16;
  Expected<json::Value> parsed = parseJSON(text, indexPath, limits);
  if (!parsed)
    return parsed.takeError();
  const json::Object *root = parsed->getAsObject();
  const json::Object *map = root ? root->getObject("weight_map") : nullptr;
  if (!map)
    return fail(indexPath, "missing object 'weight_map'");
  ShardIndex index;
  for (const auto &kv : *map) {
    std::optional<StringRef> shard = kv.second.getAsString();
    if (!shard)
      return fail(indexPath, "weight_map['" + quoteForMessage(kv.first) +
                                 "'] is not a string");
    if (shard->empty() || shard->contains('/') || shard->contains('\\') ||
        *shard == "." || *shard == ".." || shard->contains('\0'))
      return fail(indexPath, "weight_map['" + quoteForMessage(kv.first) +
                                 "'] names '" + quoteForMessage(*shard) +
                                 "', not a file beside the index");
    index.tensorToShard.emplace_back(kv.first.str(), shard->str());
    index.shards.push_back(shard->str());
  }
  // Shards in sorted order, so that the tensor order is deterministic.
  llvm::sort(index.shards);
  index.shards.erase(std::unique(index.shards.begin(), index.shards.end()),
                     index.shards.end());
  if (index.shards.empty())
    return fail(indexPath, "weight_map is empty");
  llvm::sort(index.tensorToShard);
  if (const json::Object *meta = root->getObject("metadata"))
    for (const auto &kv : *meta) {
      std::string value;
      if (std::optional<StringRef> s = kv.second.getAsString())
        value = s->str();
      else
        raw_string_ostream(value) << kv.second;
      index.metadata.emplace_back("index." + kv.first.str(), value);
    }
  return index;
}

Expected<std::unique_ptr<Checkpoint>>
Checkpoint::openShardIndex(StringRef indexPath) {
  Expected<std::unique_ptr<MemoryBuffer>> buf =
      readRegularFile(indexPath, kMaxShardIndexSize, "a shard index");
  if (!buf)
    return buf.takeError();
  Expected<ShardIndex> index = parseShardIndex((*buf)->getBuffer(), indexPath);
  if (!index)
    return index.takeError();

  std::unique_ptr<Checkpoint> ckpt(new Checkpoint());
  ckpt->format = CheckpointFormat::ShardedSafeTensors;
  ckpt->path = indexPath.str();
  StringRef dir = sys::path::parent_path(indexPath);
  StringMap<std::string> expectedShard;
  for (const auto &[tensor, shard] : index->tensorToShard)
    expectedShard[tensor] = shard;
  const std::vector<std::string> &shards = index->shards;
  for (const std::string &shard : shards) {
    SmallString<256> file(dir);
    sys::path::append(file, shard);
    if (Error err = ckpt->addSafeTensorsFile(file))
      return std::move(err);
  }
  if (Error err = ckpt->buildIndex())
    return std::move(err);
  for (const TensorInfo &t : ckpt->tensors) {
    auto it = expectedShard.find(t.name);
    if (it == expectedShard.end())
      return fail(indexPath, "tensor '" + t.name + "' of " +
                                 ckpt->files[t.file] +
                                 " is missing from weight_map");
    if (sys::path::filename(ckpt->files[t.file]) != it->second)
      return fail(indexPath, "weight_map puts '" + t.name + "' in " +
                                 it->second + " but it is in " +
                                 ckpt->files[t.file]);
  }
  for (const auto &kv : expectedShard)
    if (!ckpt->lookup(kv.first()))
      return fail(indexPath, "weight_map lists '" + kv.first() + "' but " +
                                 kv.second + " does not hold it");
  for (auto &kv : index->metadata)
    ckpt->metadata.push_back(std::move(kv));
  return std::move(ckpt);
}

Expected<std::unique_ptr<Checkpoint>> Checkpoint::openLlama2C(StringRef file) {
  Expected<uint64_t> size = getRegularFileSize(file);
  if (!size)
    return size.takeError();
  uint64_t fileSize = *size;
  if (fileSize < 28)
    return fail(file, formatv("truncated: {0} bytes, too short for the "
                              "28-byte llama2.c header",
                              fileSize));
  Expected<std::unique_ptr<MemoryBuffer>> hdr =
      readRegularFileSlice(file, 28, 0);
  if (!hdr)
    return hdr.takeError();
  Llama2CConfig config;
  Expected<std::vector<TensorInfo>> tensors = parseLlama2CHeader(
      ArrayRef<uint8_t>(
          reinterpret_cast<const uint8_t *>((*hdr)->getBufferStart()), 28),
      fileSize, file, config);
  if (!tensors)
    return tensors.takeError();
  std::unique_ptr<Checkpoint> ckpt(new Checkpoint());
  ckpt->format = CheckpointFormat::Llama2C;
  ckpt->path = file.str();
  ckpt->llama2c = config;
  ckpt->tensors = std::move(*tensors);
  ckpt->files.push_back(file.str());
  ckpt->fileSizes.push_back(fileSize);
  ckpt->mapped.emplace_back();
  if (Error err = ckpt->buildIndex())
    return std::move(err);
  return std::move(ckpt);
}

Expected<std::vector<TensorInfo>> parseLlama2CHeader(ArrayRef<uint8_t> header,
                                                     uint64_t fileSize,
                                                     StringRef file,
                                                     Llama2CConfig &config) {
  if (header.size() != 28)
    return fail(file, "a llama2.c header has 28 bytes");
  int32_t h[7];
  for (int i = 0; i < 7; ++i)
    h[i] =
        static_cast<int32_t>(support::endian::read32le(header.data() + 4 * i));
  Llama2CConfig c;
  c.dim = h[0];
  c.hiddenDim = h[1];
  c.numLayers = h[2];
  c.numHeads = h[3];
  c.numKVHeads = h[4];
  c.sharedClassifier = h[5] > 0;
  c.vocabSize = h[5] < 0 ? -int64_t(h[5]) : h[5];
  c.seqLen = h[6];
  std::string hdrText =
      formatv("dim={0} hidden_dim={1} n_layers={2} n_heads={3} n_kv_heads={4} "
              "vocab_size={5} seq_len={6}",
              h[0], h[1], h[2], h[3], h[4], h[5], h[6]);
  const int64_t kLimit = 1 << 20;
  for (int64_t v : {c.dim, c.hiddenDim, c.numLayers, c.numHeads, c.numKVHeads,
                    c.vocabSize, c.seqLen})
    if (v <= 0 || v > kLimit)
      return fail(file, "implausible llama2.c header (" + hdrText +
                            "); is this a version-0 llama2.c checkpoint?");
  if (c.dim % c.numHeads || c.numHeads % c.numKVHeads ||
      (c.dim / c.numHeads) % 2)
    return fail(file, "inconsistent llama2.c header (" + hdrText +
                          "): dim must divide into n_heads heads of even "
                          "size and n_heads into n_kv_heads groups");
  // The bounds every importer applies (ModelLimits).
  if (Error err = getLlama2CModelConfig(c).validate(file))
    return std::move(err);
  int64_t headSize = c.dim / c.numHeads, kvDim = headSize * c.numKVHeads;
  int64_t L = c.numLayers, D = c.dim, F = c.hiddenDim, V = c.vocabSize;

  // The size the header implies, with checked arithmetic, before anything
  // is allocated from it: a 36-byte file must not become 9.4 M tensors.
  std::optional<uint64_t> floats = uint64_t(0);
  auto addFloats = [&](std::initializer_list<int64_t> factors) {
    std::optional<uint64_t> n = uint64_t(1);
    for (int64_t f : factors)
      n = n ? checkedMul(*n, uint64_t(f)) : std::nullopt;
    floats = n && floats ? checkedAdd(*floats, *n) : std::nullopt;
  };
  addFloats({V, D});                      // embedding
  addFloats({L, D});                      // input norms
  addFloats({L, D, D});                   // q
  addFloats({L, kvDim, D});               // k
  addFloats({L, kvDim, D});               // v
  addFloats({L, D, D});                   // o
  addFloats({L, D});                      // post-attention norms
  addFloats({L, F, D});                   // gate
  addFloats({L, D, F});                   // down
  addFloats({L, F, D});                   // up
  addFloats({D});                         // final norm
  addFloats({c.seqLen, headSize / 2, 2}); // legacy RoPE tables
  if (!c.sharedClassifier)
    addFloats({V, D}); // classifier
  std::optional<uint64_t> expectedSize =
      floats ? checkedMul(*floats, 4) : std::nullopt;
  if (expectedSize)
    expectedSize = checkedAdd(*expectedSize, 28);
  if (!expectedSize)
    return fail(file,
                "the header (" + hdrText + ") implies a size beyond 64 bits");
  if (*expectedSize != fileSize)
    return fail(file, formatv("size is {0} bytes but the header ({1}) implies "
                              "{2}",
                              fileSize, hdrText, *expectedSize));

  config = c;
  std::vector<TensorInfo> tensors;
  uint64_t offset = 28;
  auto add = [&](std::string name, SmallVector<int64_t, 4> shape) {
    TensorInfo t;
    t.name = std::move(name);
    t.shape = std::move(shape);
    t.offset = offset;
    t.size = uint64_t(t.getNumElements()) * 4;
    offset += t.size;
    tensors.push_back(std::move(t));
  };
  // llama2.c stores each kind of weight for all layers contiguously.
  auto perLayer = [&](StringRef suffix, SmallVector<int64_t, 4> shape) {
    for (int64_t i = 0; i < L; ++i)
      add(formatv("model.layers.{0}.{1}", i, suffix).str(), shape);
  };
  add("model.embed_tokens.weight", {V, D});
  perLayer("input_layernorm.weight", {D});
  perLayer("self_attn.q_proj.weight", {D, D});
  perLayer("self_attn.k_proj.weight", {kvDim, D});
  perLayer("self_attn.v_proj.weight", {kvDim, D});
  perLayer("self_attn.o_proj.weight", {D, D});
  perLayer("post_attention_layernorm.weight", {D});
  perLayer("mlp.gate_proj.weight", {F, D});
  perLayer("mlp.down_proj.weight", {D, F});
  perLayer("mlp.up_proj.weight", {F, D});
  add("model.norm.weight", {D});
  // Legacy RoPE tables (freq_cis_real, freq_cis_imag): skipped.
  offset += uint64_t(c.seqLen) * uint64_t(headSize / 2) * 4 * 2;
  if (!c.sharedClassifier)
    add("lm_head.weight", {V, D});
  assert(offset == fileSize && "layout disagrees with the size check");
  (void)offset;
  return tensors;
}
} // namespace qrealign
