//===- SafeTensors.cpp - safetensors header parsing and writing -----------===//
//
// Format: an 8-byte little-endian header length N, N bytes of JSON, then the
// data section. The JSON maps tensor names to {dtype, shape, data_offsets}
// (offsets relative to the data section) plus an optional `__metadata__`
// string map. The data section must be covered exactly, without holes or
// overlaps.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Checkpoint/Checkpoint.h"
#include "qrealign/Support/AtomicOutput.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>

using namespace llvm;

namespace qrealign {
size_t getDTypeSize(DType dtype) {
  switch (dtype) {
  case DType::F32:
  case DType::I32:
    return 4;
  case DType::F16:
  case DType::BF16:
    return 2;
  case DType::I8:
  case DType::U8:
    return 1;
  case DType::I64:
    return 8;
  }
  llvm_unreachable("unknown dtype");
}

StringRef getDTypeName(DType dtype) {
  switch (dtype) {
  case DType::F32:
    return "F32";
  case DType::F16:
    return "F16";
  case DType::BF16:
    return "BF16";
  case DType::I8:
    return "I8";
  case DType::U8:
    return "U8";
  case DType::I32:
    return "I32";
  case DType::I64:
    return "I64";
  }
  llvm_unreachable("unknown dtype");
}

std::optional<DType> parseDType(StringRef name) {
  return StringSwitch<std::optional<DType>>(name)
      .Case("F32", DType::F32)
      .Case("F16", DType::F16)
      .Case("BF16", DType::BF16)
      .Case("I8", DType::I8)
      .Case("U8", DType::U8)
      .Case("I32", DType::I32)
      .Case("I64", DType::I64)
      .Default(std::nullopt);
}

StringRef getSupportedDTypeNames() {
  return "F32, F16, BF16, I8, U8, I32, I64";
}

int64_t TensorInfo::getNumElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

std::string formatShape(ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (auto [i, d] : llvm::enumerate(shape))
    s += (i ? ", " : "") + std::to_string(d);
  return s + "]";
}

std::string TensorInfo::getShapeString() const { return formatShape(shape); }

static Error fail(StringRef file, const Twine &msg) {
  return createStringError(inconvertibleErrorCode(), file + ": " + msg);
}

/// The largest header the reference implementation accepts.
static constexpr uint64_t kMaxHeaderSize = 100 * 1024 * 1024;

Error parseSafeTensorsHeader(
    StringRef text, uint64_t dataSize, StringRef file,
    std::vector<TensorInfo> &tensors,
    std::vector<std::pair<std::string, std::string>> &meta) {
  Expected<json::Value> parsed = json::parse(text);
  if (!parsed)
    return fail(file,
                "header is not valid JSON: " + toString(parsed.takeError()));
  const json::Object *root = parsed->getAsObject();
  if (!root)
    return fail(file, "header is not a JSON object");

  // Deterministic order for diagnostics: sort the keys.
  std::vector<std::string> keys;
  for (const auto &kv : *root)
    keys.push_back(kv.first.str());
  llvm::sort(keys);

  for (const std::string &key : keys) {
    const json::Value &value = *root->get(key);
    if (key == "__metadata__") {
      const json::Object *m = value.getAsObject();
      if (!m)
        return fail(file, "'__metadata__' is not an object");
      for (const auto &kv : *m) {
        std::optional<StringRef> s = kv.second.getAsString();
        if (!s)
          return fail(file, "'__metadata__' value '" + kv.first.str() +
                                "' is not a string");
        meta.emplace_back(kv.first.str(), s->str());
      }
      llvm::sort(meta);
      continue;
    }
    auto where = [&](const Twine &msg) {
      return fail(file, "tensor '" + key + "': " + msg);
    };
    if (key.empty())
      return fail(file, "empty tensor name");
    const json::Object *t = value.getAsObject();
    if (!t)
      return where("entry is not an object");
    for (const auto &kv : *t)
      if (kv.first != "dtype" && kv.first != "shape" &&
          kv.first != "data_offsets")
        return where("unknown field '" + kv.first.str() + "'");
    TensorInfo info;
    info.name = key;
    std::optional<StringRef> dtype = t->getString("dtype");
    if (!dtype)
      return where("missing string field 'dtype'");
    std::optional<DType> dt = parseDType(*dtype);
    if (!dt)
      return where("unsupported dtype '" + *dtype +
                   "' (supported: " + getSupportedDTypeNames() + ")");
    info.dtype = *dt;

    const json::Array *shape = t->getArray("shape");
    if (!shape)
      return where("missing array field 'shape'");
    if (shape->size() > 8)
      return where("rank " + Twine(shape->size()) + " exceeds 8");
    uint64_t numel = 1;
    for (const json::Value &d : *shape) {
      std::optional<int64_t> dim = d.getAsInteger();
      if (!dim || *dim < 0)
        return where("shape entries must be non-negative integers");
      if (*dim != 0 && numel > (uint64_t(1) << 62) / uint64_t(*dim))
        return where("shape " + Twine(numel) + " x " + Twine(*dim) +
                     " overflows");
      numel *= uint64_t(*dim);
      info.shape.push_back(*dim);
    }

    const json::Array *offsets = t->getArray("data_offsets");
    if (!offsets || offsets->size() != 2)
      return where("'data_offsets' must be an array [begin, end]");
    std::optional<int64_t> begin = (*offsets)[0].getAsInteger();
    std::optional<int64_t> end = (*offsets)[1].getAsInteger();
    if (!begin || !end || *begin < 0 || *end < 0)
      return where("'data_offsets' must be non-negative integers");
    if (*begin > *end)
      return where(
          formatv("data_offsets [{0}, {1}] are reversed", *begin, *end));
    if (uint64_t(*end) > dataSize)
      return where(formatv("data_offsets [{0}, {1}] exceed the data section "
                           "({2} bytes)",
                           *begin, *end, dataSize));
    uint64_t expected = numel * getDTypeSize(info.dtype);
    if (uint64_t(*end - *begin) != expected)
      return where(formatv("{0} x {1} needs {2} bytes but data_offsets span "
                           "{3}",
                           *dtype, info.getShapeString(), expected,
                           *end - *begin));
    info.offset = uint64_t(*begin);
    info.size = expected;
    tensors.push_back(std::move(info));
  }

  // The data section must be tiled exactly: no overlaps, no holes.
  std::vector<const TensorInfo *> order;
  for (const TensorInfo &t : tensors)
    order.push_back(&t);
  llvm::stable_sort(order, [](const TensorInfo *a, const TensorInfo *b) {
    return std::make_pair(a->offset, a->size) <
           std::make_pair(b->offset, b->size);
  });
  uint64_t cursor = 0;
  const TensorInfo *prev = nullptr;
  for (const TensorInfo *t : order) {
    if (t->offset < cursor)
      return fail(file,
                  "tensors '" + prev->name + "' and '" + t->name + "' overlap");
    if (t->offset > cursor)
      return fail(file, formatv("bytes [{0}, {1}) of the data section belong "
                                "to no tensor",
                                cursor, t->offset));
    cursor = t->offset + t->size;
    prev = t;
  }
  if (cursor != dataSize)
    return fail(file, formatv("the data section has {0} bytes but the tensors "
                              "cover {1}",
                              dataSize, cursor));
  // Keep file order (by offset), as the reference implementation lists them.
  std::vector<TensorInfo> sorted;
  sorted.reserve(tensors.size());
  for (const TensorInfo *t : order)
    sorted.push_back(*t);
  tensors = std::move(sorted);
  return Error::success();
}

Error Checkpoint::addSafeTensorsFile(StringRef file) {
  unsigned index = files.size();
  uint64_t fileSize = 0;
  if (std::error_code ec = sys::fs::file_size(file, fileSize))
    return fail(file, "cannot open: " + ec.message());
  if (fileSize < 8)
    return fail(file, formatv("truncated: {0} bytes, too short for the 8-byte "
                              "header length",
                              fileSize));
  // Read only the header; the data is mapped lazily.
  ErrorOr<std::unique_ptr<MemoryBuffer>> lenBuf =
      MemoryBuffer::getFileSlice(file, 8, 0, /*IsVolatile=*/false);
  if (!lenBuf)
    return fail(file, "cannot read: " + lenBuf.getError().message());
  uint64_t headerLen = support::endian::read64le((*lenBuf)->getBufferStart());
  if (headerLen > kMaxHeaderSize)
    return fail(file, formatv("header length {0} exceeds the 100 MiB limit",
                              headerLen));
  if (headerLen > fileSize - 8)
    return fail(file, formatv("header length {0} runs past the end of the file "
                              "({1} bytes)",
                              headerLen, fileSize));
  if (headerLen < 2)
    return fail(file, formatv("header length {0} is too small", headerLen));
  ErrorOr<std::unique_ptr<MemoryBuffer>> header =
      MemoryBuffer::getFileSlice(file, headerLen, 8, /*IsVolatile=*/false);
  if (!header)
    return fail(file, "cannot read: " + header.getError().message());
  StringRef text = (*header)->getBuffer();
  // The reference implementation allows trailing spaces as padding.
  text = text.rtrim(' ');
  if (!text.starts_with("{"))
    return fail(file, "header does not start with '{' (not a safetensors "
                      "file?)");

  std::vector<TensorInfo> found;
  std::vector<std::pair<std::string, std::string>> meta;
  if (Error err = parseSafeTensorsHeader(text, fileSize - 8 - headerLen, file,
                                         found, meta))
    return err;
  for (TensorInfo &t : found) {
    t.file = index;
    t.offset += 8 + headerLen;
    tensors.push_back(std::move(t));
  }
  if (index == 0)
    metadata = std::move(meta);
  files.push_back(file.str());
  fileSizes.push_back(fileSize);
  mapped.emplace_back();
  return Error::success();
}

Error Checkpoint::buildIndex() {
  for (auto [i, t] : llvm::enumerate(tensors)) {
    auto [it, inserted] = byName.try_emplace(t.name, i);
    if (!inserted)
      return fail(path, "tensor '" + t.name + "' appears in both " +
                            files[tensors[it->second].file] + " and " +
                            files[t.file]);
  }
  return Error::success();
}

Checkpoint::~Checkpoint() = default;

const TensorInfo *Checkpoint::lookup(StringRef name) const {
  auto it = byName.find(name);
  return it == byName.end() ? nullptr : &tensors[it->second];
}

uint64_t Checkpoint::getTotalDataSize() const {
  uint64_t n = 0;
  for (const TensorInfo &t : tensors)
    n += t.size;
  return n;
}

Expected<ArrayRef<uint8_t>> Checkpoint::getData(const TensorInfo &tensor) {
  if (tensor.file >= files.size())
    return fail(path, "tensor '" + tensor.name + "' has no file");
  std::unique_ptr<MemoryBuffer> &buf = mapped[tensor.file];
  if (!buf) {
    ErrorOr<std::unique_ptr<MemoryBuffer>> m =
        MemoryBuffer::getFile(files[tensor.file], /*IsText=*/false,
                              /*RequiresNullTerminator=*/false);
    if (!m)
      return fail(files[tensor.file], "cannot map: " + m.getError().message());
    // The file may have changed since its header was read.
    if ((*m)->getBufferSize() != fileSizes[tensor.file])
      return fail(files[tensor.file], "file changed size while open");
    buf = std::move(*m);
  }
  if (tensor.offset + tensor.size > buf->getBufferSize())
    return fail(files[tensor.file],
                "tensor '" + tensor.name + "' lies outside the file");
  return ArrayRef<uint8_t>(
      reinterpret_cast<const uint8_t *>(buf->getBufferStart()) + tensor.offset,
      tensor.size);
}

Expected<std::unique_ptr<Checkpoint>>
Checkpoint::openSafeTensors(StringRef file) {
  std::unique_ptr<Checkpoint> ckpt(new Checkpoint());
  ckpt->format = CheckpointFormat::SafeTensors;
  ckpt->path = file.str();
  if (Error err = ckpt->addSafeTensorsFile(file))
    return std::move(err);
  if (Error err = ckpt->buildIndex())
    return std::move(err);
  return std::move(ckpt);
}

Error writeSafeTensors(StringRef path, ArrayRef<TensorToWrite> tensors,
                       ArrayRef<std::pair<std::string, std::string>> metadata) {
  json::Object root;
  uint64_t offset = 0;
  StringSet<> seen;
  for (const TensorToWrite &t : tensors) {
    if (!seen.insert(t.name).second)
      return fail(path, "duplicate tensor '" + t.name + "'");
    uint64_t numel = 1;
    json::Array shape;
    for (int64_t d : t.shape) {
      if (d < 0)
        return fail(path, "tensor '" + t.name + "' has a negative dimension");
      numel *= uint64_t(d);
      shape.push_back(d);
    }
    uint64_t bytes = numel * getDTypeSize(t.dtype);
    if (bytes != t.data.size())
      return fail(path, formatv("tensor '{0}': shape needs {1} bytes, {2} "
                                "given",
                                t.name, bytes, t.data.size()));
    root[t.name] =
        json::Object{{"dtype", getDTypeName(t.dtype)},
                     {"shape", std::move(shape)},
                     {"data_offsets",
                      json::Array{int64_t(offset), int64_t(offset + bytes)}}};
    offset += bytes;
  }
  if (!metadata.empty()) {
    json::Object meta;
    for (const auto &[k, v] : metadata)
      meta[k] = v;
    root["__metadata__"] = std::move(meta);
  }
  std::string header;
  raw_string_ostream(header) << json::Value(std::move(root));
  while (header.size() % 8)
    header.push_back(' ');
  return writeFileAtomically(path, [&](raw_ostream &os) -> Error {
    char len[8];
    support::endian::write64le(len, header.size());
    os.write(len, 8);
    os << header;
    for (const TensorToWrite &t : tensors)
      os.write(reinterpret_cast<const char *>(t.data.data()), t.data.size());
    return Error::success();
  });
}
} // namespace qrealign
