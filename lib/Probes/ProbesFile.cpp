//===- ProbesFile.cpp - The probes file of qrealign-probe fit -------------===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Probes/ProbesFile.h"
#include "qrealign/Checkpoint/Checkpoint.h"
#include "qrealign/Checkpoint/ModelConfig.h"
#include "qrealign/Support/Message.h"

#include "llvm/Support/FormatVariadic.h"

#include <cmath>

#include <cstring>

using namespace llvm;
using namespace qrealign;
using namespace qrealign::probes;

std::string qrealign::probes::getLayerProbeName(int64_t layer) {
  return "layers." + std::to_string(layer);
}

std::string qrealign::probes::getLayerProbeTensor(int64_t layer) {
  return "output of qrealign.layer " + std::to_string(layer);
}

StringRef qrealign::probes::getFinalNormProbeName() { return "final_norm"; }

StringRef qrealign::probes::getFinalNormProbeTensor() {
  return "the final norm's output (the LM head's input)";
}

std::string qrealign::probes::getProbeName(int64_t index, int64_t numLayers) {
  return index < numLayers ? getLayerProbeName(index)
                           : getFinalNormProbeName().str();
}

std::string qrealign::probes::getProbeTensor(int64_t index, int64_t numLayers) {
  return index < numLayers ? getLayerProbeTensor(index)
                           : getFinalNormProbeTensor().str();
}

const ProbeRecord *ProbesFile::lookup(StringRef name) const {
  for (const ProbeRecord &p : probes)
    if (p.name == name)
      return &p;
  return nullptr;
}

static Error fail(StringRef path, const Twine &msg) {
  return createStringError(inconvertibleErrorCode(), path + ": " + msg);
}

Expected<ProbesFile> qrealign::probes::parseProbesMetadata(StringRef text,
                                                           StringRef path) {
  Expected<json::Value> parsed = json::parse(text);
  if (!parsed)
    return fail(path, "the 'probes' metadata is not JSON: " +
                          toString(parsed.takeError()));
  json::Object *meta = parsed->getAsObject();
  std::optional<int64_t> hidden =
      meta ? meta->getInteger("hidden_size") : std::nullopt;
  std::optional<int64_t> layers =
      meta ? meta->getInteger("num_layers") : std::nullopt;
  json::Array *list = meta ? meta->getArray("probes") : nullptr;
  if (!hidden || !layers || !list || *hidden <= 0 || *layers <= 0 ||
      *hidden > ModelLimits::kMaxHiddenSize ||
      *layers > ModelLimits::kMaxLayers)
    return fail(path, "the 'probes' metadata lacks hidden_size, num_layers "
                      "or probes (positive, at most " +
                          Twine(ModelLimits::kMaxHiddenSize) + " and " +
                          Twine(ModelLimits::kMaxLayers) + ")");
  ProbesFile file;
  file.hiddenSize = *hidden;
  file.numLayers = *layers;
  for (auto [i, v] : enumerate(*list)) {
    json::Object *o = v.getAsObject();
    std::optional<StringRef> name = o ? o->getString("name") : std::nullopt;
    std::optional<StringRef> tensor = o ? o->getString("tensor") : std::nullopt;
    std::optional<int64_t> position =
        o ? o->getInteger("position") : std::nullopt;
    if (!name || !tensor || !position)
      return fail(path, "probe record " + Twine(i) +
                            " lacks name, tensor or position");
    ProbeRecord r;
    r.name = name->str();
    r.tensor = tensor->str();
    r.position = *position;
    for (auto &[key, value] : *o)
      if (key != "name" && key != "tensor" && key != "position")
        r.info[key] = value;
    file.probes.push_back(std::move(r));
  }
  for (auto &[key, value] : *meta)
    if (key != "hidden_size" && key != "num_layers" && key != "probes")
      file.info[key] = value;
  return file;
}

Expected<ProbesFile> qrealign::probes::readProbesFile(StringRef path) {
  auto opened = Checkpoint::open(path);
  if (!opened)
    return opened.takeError();
  Checkpoint &ckpt = **opened;
  std::optional<StringRef> format = ckpt.getMetadataValue("format");
  std::optional<StringRef> text = ckpt.getMetadataValue("probes");
  if (!format || *format != "qrealign-probes" || !text)
    return createStringError(inconvertibleErrorCode(),
                             path + " is not a probes file (no 'format: "
                                    "qrealign-probes' and 'probes' metadata; "
                                    "write one with qrealign-probe fit)");
  Expected<ProbesFile> file = parseProbesMetadata(*text, path);
  if (!file)
    return file.takeError();
  int64_t hidden = file->hiddenSize;
  auto wellShaped = [&](const TensorInfo *t, int64_t size) {
    return t && t->dtype == DType::F32 && t->shape.size() == 1 &&
           t->shape[0] == size;
  };
  for (ProbeRecord &r : file->probes) {
    const TensorInfo *w = ckpt.lookup(r.name + ".weight");
    const TensorInfo *b = ckpt.lookup(r.name + ".bias");
    if (!wellShaped(w, hidden) || !wellShaped(b, 1))
      continue;
    Expected<ArrayRef<uint8_t>> wd = ckpt.getData(*w);
    if (!wd)
      return wd.takeError();
    Expected<ArrayRef<uint8_t>> bd = ckpt.getData(*b);
    if (!bd)
      return bd.takeError();
    r.weight.resize(hidden);
    std::memcpy(r.weight.data(), wd->data(), hidden * sizeof(float));
    std::memcpy(&r.bias, bd->data(), sizeof(float));
  }
  return file;
}

Error qrealign::probes::writeProbesFile(StringRef path,
                                        const ProbesFile &file) {
  json::Array records;
  std::vector<TensorToWrite> tensors;
  for (const ProbeRecord &p : file.probes) {
    if (int64_t(p.weight.size()) != file.hiddenSize)
      return fail(path, "probe '" + p.name + "' has " + Twine(p.weight.size()) +
                            " weights, not " + Twine(file.hiddenSize));
    tensors.push_back(
        {p.name + ".weight",
         DType::F32,
         {file.hiddenSize},
         ArrayRef(reinterpret_cast<const uint8_t *>(p.weight.data()),
                  p.weight.size() * sizeof(float))});
    tensors.push_back(
        {p.name + ".bias",
         DType::F32,
         {1},
         ArrayRef(reinterpret_cast<const uint8_t *>(&p.bias), sizeof(float))});
    json::Object record = p.info;
    record["name"] = p.name;
    record["tensor"] = p.tensor;
    record["position"] = p.position;
    records.push_back(std::move(record));
  }
  json::Object meta = file.info;
  meta["hidden_size"] = file.hiddenSize;
  meta["num_layers"] = file.numLayers;
  meta["probes"] = std::move(records);
  std::string text;
  raw_string_ostream(text) << json::Value(std::move(meta));
  return writeSafeTensors(path, tensors,
                          {{"format", "qrealign-probes"}, {"probes", text}});
}

Error qrealign::probes::parseFeatureCSV(StringRef path, StringRef text,
                                        std::vector<float> &x,
                                        std::vector<int8_t> &y, int64_t &d) {
  d = -1;
  int64_t lineNo = 0;
  for (StringRef rest = text; !rest.empty();) {
    StringRef line;
    std::tie(line, rest) = rest.split('\n');
    ++lineNo;
    line = line.rtrim("\r");
    if (line.trim().empty() || line.trim().starts_with("#"))
      continue;
    SmallVector<StringRef> cells;
    line.split(cells, ',');
    auto at = [&](StringRef cell) {
      return formatv("{0}:{1}:{2}: ", path, lineNo,
                     cell.data() - line.data() + 1)
          .str();
    };
    if (cells.size() < 2)
      return createStringError(inconvertibleErrorCode(),
                               at(line) + "a row needs at least one feature "
                                          "and a label");
    int64_t width = cells.size() - 1;
    if (d < 0)
      d = width;
    else if (width != d)
      return createStringError(
          inconvertibleErrorCode(),
          at(line) +
              formatv("{0} features, but the first row has {1}", width, d)
                  .str());
    for (size_t c = 0; c < cells.size(); ++c) {
      StringRef cell = cells[c].trim();
      double v;
      if (cell.empty() || cell.getAsDouble(v) || !std::isfinite(v))
        return createStringError(inconvertibleErrorCode(),
                                 at(cells[c]) + "'" + quoteForMessage(cell) +
                                     "' is not a finite number");
      if (c + 1 < cells.size()) {
        // Features are float32: a finite double can still overflow it.
        if (!std::isfinite(float(v)))
          return createStringError(inconvertibleErrorCode(),
                                   at(cells[c]) + "'" + quoteForMessage(cell) +
                                       "' is outside float32's range");
        x.push_back(float(v));
        continue;
      }
      if (v != 0 && v != 1)
        return createStringError(inconvertibleErrorCode(),
                                 at(cells[c]) + "label '" +
                                     quoteForMessage(cell) + "' is not 0 or 1");
      y.push_back(int8_t(v));
    }
  }
  if (y.empty())
    return createStringError(inconvertibleErrorCode(), path + ": no examples");
  return Error::success();
}
