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
#include "qrealign/Support/InputFile.h"
#include "qrealign/Support/JSON.h"
#include "qrealign/Support/Limits.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <tuple>

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
  // Shapes are validated when read (getCheckedNumElements).
  return getCheckedNumElements(shape).value_or(-1);
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

namespace {
using Kind = JSONScanner::Kind;

/// Reads the header's JSON straight into TensorInfo records, without
/// building llvm::json values (an 87 MB header of empty tensors took 6.3 GB
/// as llvm::json::Object maps; here it costs about twice its size).
class HeaderParser {
public:
  HeaderParser(StringRef text, uint64_t dataSize, StringRef file,
               std::vector<TensorInfo> &tensors,
               std::vector<std::pair<std::string, std::string>> &meta)
      : scanner(text, (file + ": header").str()), dataSize(dataSize),
        file(file), tensors(tensors), meta(meta) {}

  Error parse();

private:
  Error parseTensor(std::string name, size_t at);
  Error parseMetadata(size_t at);
  Error where(StringRef name, const Twine &msg) const {
    return createStringError(inconvertibleErrorCode(),
                             file + ": tensor '" + name + "': " + msg);
  }
  Expected<int64_t> parseNonNegative(StringRef name, StringRef field);

  JSONScanner scanner;
  uint64_t dataSize;
  StringRef file;
  std::vector<TensorInfo> &tensors;
  std::vector<std::pair<std::string, std::string>> &meta;
  StringMap<size_t> seen; // name -> offset of its key, for duplicates
  bool sawMetadata = false;
};
} // namespace

Error HeaderParser::parse() {
  if (Error err = scanner.forEachMember([&](JSONScanner::Token &key) {
        auto [it, inserted] = seen.try_emplace(key.text, key.offset);
        if (!inserted)
          return scanner.error(key.offset, "'" + key.text +
                                               "' appears twice in the header");
        if (seen.size() > kMaxSafeTensorsEntries)
          return createStringError(
              inconvertibleErrorCode(),
              file + ": more than " + Twine(kMaxSafeTensorsEntries) +
                  " tensors in one file (the largest published checkpoints "
                  "have about 100,000)");
        return key.text == "__metadata__"
                   ? parseMetadata(key.offset)
                   : parseTensor(std::move(key.text), key.offset);
      }))
    return err;
  if (Expected<JSONScanner::Token> end =
          scanner.expect(Kind::End, "the end of the header after '}'");
      !end)
    return end.takeError();
  return Error::success();
}

Expected<int64_t> HeaderParser::parseNonNegative(StringRef name,
                                                 StringRef field) {
  Expected<JSONScanner::Token> tok = scanner.next();
  if (!tok)
    return tok.takeError();
  std::optional<int64_t> v = tok->kind == Kind::Number
                                 ? JSONScanner::parseInteger(tok->text)
                                 : std::nullopt;
  if (!v || *v < 0)
    return where(name, field == "shape"
                           ? Twine("shape entries must be non-negative "
                                   "integers")
                           : Twine("'data_offsets' must be non-negative "
                                   "integers"));
  return *v;
}

Error HeaderParser::parseTensor(std::string name, size_t at) {
  if (name.empty())
    return scanner.error(at, "empty tensor name");
  Expected<Kind> open = scanner.peek();
  if (!open)
    return open.takeError();
  if (*open != Kind::BeginObject)
    return where(name, "entry is not an object");
  TensorInfo info;
  info.name = std::move(name);
  bool haveDType = false, haveShape = false, haveOffsets = false;
  uint64_t begin = 0, end = 0;
  auto field = [&](JSONScanner::Token &key) -> Error {
    bool *have = key.text == "dtype"          ? &haveDType
                 : key.text == "shape"        ? &haveShape
                 : key.text == "data_offsets" ? &haveOffsets
                                              : nullptr;
    if (!have)
      return where(info.name, "unknown field '" + key.text + "'");
    if (*have)
      return where(info.name, "field '" + key.text + "' appears twice");
    *have = true;
    if (key.text == "dtype") {
      Expected<JSONScanner::Token> v = scanner.next();
      if (!v)
        return v.takeError();
      if (v->kind != Kind::String)
        return where(info.name, "'dtype' is not a string");
      std::optional<DType> dt = parseDType(v->text);
      if (!dt)
        return where(info.name,
                     "unsupported dtype '" + v->text +
                         "' (supported: " + getSupportedDTypeNames() + ")");
      info.dtype = *dt;
      return Error::success();
    }
    bool isShape = key.text == "shape";
    StringRef notArray = isShape ? "'shape' is not an array"
                                 : "'data_offsets' must be an array [begin, "
                                   "end]";
    Expected<Kind> k = scanner.peek();
    if (!k)
      return k.takeError();
    if (*k != Kind::BeginArray)
      return where(info.name, notArray);
    SmallVector<int64_t, 4> values;
    if (Error err = scanner.forEachElement([&]() -> Error {
          if (values.size() >= (isShape ? 8u : 2u))
            return where(info.name, isShape ? "rank exceeds 8" : notArray);
          Expected<int64_t> v = parseNonNegative(info.name, key.text);
          if (!v)
            return v.takeError();
          values.push_back(*v);
          return Error::success();
        }))
      return err;
    if (isShape) {
      info.shape = std::move(values);
    } else {
      if (values.size() != 2)
        return where(info.name, notArray);
      begin = uint64_t(values[0]);
      end = uint64_t(values[1]);
    }
    return Error::success();
  };
  if (Error err = scanner.forEachMember(field))
    return err;
  if (!haveDType)
    return where(info.name, "missing string field 'dtype'");
  if (!haveShape)
    return where(info.name, "missing array field 'shape'");
  if (!haveOffsets)
    return where(info.name, "'data_offsets' must be an array [begin, end]");
  if (begin > end)
    return where(info.name,
                 formatv("data_offsets [{0}, {1}] are reversed", begin, end));
  if (end > dataSize)
    return where(info.name, formatv("data_offsets [{0}, {1}] exceed the data "
                                    "section ({2} bytes)",
                                    begin, end, dataSize));
  std::optional<uint64_t> expected =
      getCheckedByteSize(info.shape, getDTypeSize(info.dtype));
  if (!expected)
    return where(info.name, getDTypeName(info.dtype) + " x " +
                                info.getShapeString() +
                                " overflows 64-bit byte sizes");
  if (end - begin != *expected)
    return where(info.name,
                 formatv("{0} x {1} needs {2} bytes but "
                         "data_offsets span {3}",
                         getDTypeName(info.dtype), info.getShapeString(),
                         *expected, end - begin));
  info.offset = begin;
  info.size = *expected;
  tensors.push_back(std::move(info));
  return Error::success();
}

Error HeaderParser::parseMetadata(size_t at) {
  if (sawMetadata)
    return scanner.error(at, "'__metadata__' appears twice");
  sawMetadata = true;
  Expected<Kind> open = scanner.peek();
  if (!open)
    return open.takeError();
  if (*open != Kind::BeginObject)
    return createStringError(inconvertibleErrorCode(),
                             file + ": '__metadata__' is not an object");
  StringSet<> keys;
  if (Error err = scanner.forEachMember([&](JSONScanner::Token &key) -> Error {
        if (!keys.insert(key.text).second)
          return scanner.error(key.offset, "'__metadata__' key '" + key.text +
                                               "' appears twice");
        Expected<JSONScanner::Token> value = scanner.next();
        if (!value)
          return value.takeError();
        if (value->kind != Kind::String)
          return createStringError(inconvertibleErrorCode(),
                                   file + ": '__metadata__' value '" +
                                       key.text + "' is not a string");
        meta.emplace_back(std::move(key.text), std::move(value->text));
        return Error::success();
      }))
    return err;
  llvm::sort(meta);
  return Error::success();
}

Error parseSafeTensorsHeader(
    StringRef text, uint64_t dataSize, StringRef file,
    std::vector<TensorInfo> &tensors,
    std::vector<std::pair<std::string, std::string>> &meta) {
  if (Error err = HeaderParser(text, dataSize, file, tensors, meta).parse())
    return err;

  // The data section must be tiled exactly: no overlaps, no holes. Sorting
  // by (offset, size, name) puts the tensors in file order, deterministically
  // (the reference implementation lists them by offset).
  llvm::sort(tensors, [](const TensorInfo &a, const TensorInfo &b) {
    return std::tie(a.offset, a.size, a.name) <
           std::tie(b.offset, b.size, b.name);
  });
  uint64_t cursor = 0;
  const TensorInfo *prev = nullptr;
  for (const TensorInfo &t : tensors) {
    if (t.offset < cursor)
      return fail(file,
                  "tensors '" + prev->name + "' and '" + t.name + "' overlap");
    if (t.offset > cursor)
      return fail(file, formatv("bytes [{0}, {1}) of the data section belong "
                                "to no tensor",
                                cursor, t.offset));
    cursor = t.offset + t.size; // both within dataSize: no overflow
    prev = &t;
  }
  if (cursor != dataSize)
    return fail(file, formatv("the data section has {0} bytes but the tensors "
                              "cover {1}",
                              dataSize, cursor));
  return Error::success();
}

Error Checkpoint::addSafeTensorsFile(StringRef file) {
  unsigned index = files.size();
  Expected<uint64_t> size = getRegularFileSize(file);
  if (!size)
    return size.takeError();
  uint64_t fileSize = *size;
  if (fileSize < 8)
    return fail(file, formatv("truncated: {0} bytes, too short for the 8-byte "
                              "header length",
                              fileSize));
  // Read only the header; the data is mapped lazily.
  Expected<std::unique_ptr<MemoryBuffer>> lenBuf =
      readRegularFileSlice(file, 8, 0);
  if (!lenBuf)
    return lenBuf.takeError();
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
  Expected<std::unique_ptr<MemoryBuffer>> header =
      readRegularFileSlice(file, headerLen, 8);
  if (!header)
    return header.takeError();
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
    Expected<std::unique_ptr<MemoryBuffer>> m =
        readRegularFile(files[tensor.file]);
    if (!m)
      return m.takeError();
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
