//===- Export.cpp - qrealign IR to compressed-tensors directories ---------===//

#include "qrealign/Export/Export.h"
#include "qrealign/Checkpoint/Checkpoint.h"
#include "qrealign/Checkpoint/CompressedTensors.h"
#include "qrealign/Checkpoint/ModelConfig.h"
#include "qrealign/Dialect/QRealign/IR/QRealign.h"
#include "qrealign/Dialect/QRealign/Transforms/ParamData.h"
#include "qrealign/Import/Import.h"
#include "qrealign/Quant/Quantizer.h"
#include "qrealign/Support/AtomicOutput.h"
#include "qrealign/Support/JSON.h"
#include "qrealign/Support/OutputDirectory.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"

#include <cstring>
#include <deque>
#include <map>

using namespace llvm;
using namespace mlir;
using namespace mlir::qrealign;

namespace qrealign {
namespace {
/// One tensor of the output, owning or viewing its bytes.
struct OutTensor {
  DType dtype;
  SmallVector<int64_t, 2> shape;
  ArrayRef<uint8_t> data;
};

/// A quantized linear of the module: what compressed-tensors stores for it.
struct Linear {
  std::string module;
  CTScheme scheme;
  Operation *op;
};

class Exporter {
public:
  Exporter(ModuleOp module, const ExportOptions &options)
      : module(module), options(options), reader(module, "qrealign-export") {}
  LogicalResult run();

private:
  LogicalResult addTensor(Operation *at, StringRef name, OutTensor t);
  LogicalResult addFloatParam(Operation *at, GetParamOp get, StringRef name);
  LogicalResult addQuantized(LinearOp linear, DequantizeOp dq);
  FailureOr<std::string> findSourceDir();
  LogicalResult checkAgainstConfig(StringRef configPath,
                                   const json::Object &config);
  LogicalResult write(StringRef sourceDir, json::Object config);
  /// An error about the whole model or its files (printed as
  /// `qrealign-export: error: ...`).
  InFlightDiagnostic topError() {
    return mlir::emitError(UnknownLoc::get(module.getContext()));
  }
  ArrayRef<uint8_t> own(std::vector<uint8_t> bytes) {
    return owned.emplace_back(std::move(bytes));
  }
  template <typename T>
  ArrayRef<uint8_t> own(const std::vector<T> &v) {
    std::vector<uint8_t> bytes(v.size() * sizeof(T));
    memcpy(bytes.data(), v.data(), bytes.size());
    return own(std::move(bytes));
  }

  ModuleOp module;
  const ExportOptions &options;
  ParamReader reader;
  std::map<std::string, OutTensor> tensors;
  std::deque<std::vector<uint8_t>> owned;
  std::vector<Linear> quantized;
  std::vector<std::string> floatLinears;
};
} // namespace

static std::optional<DType> toDType(Type elt) {
  if (elt.isF32())
    return DType::F32;
  if (elt.isF16())
    return DType::F16;
  if (elt.isBF16())
    return DType::BF16;
  if (elt.isInteger(8))
    return cast<IntegerType>(elt).isUnsigned() ? DType::U8 : DType::I8;
  if (elt.isInteger(32))
    return DType::I32;
  if (elt.isInteger(64))
    return DType::I64;
  return std::nullopt;
}

static ParamOp lookupParam(GetParamOp get) {
  return SymbolTable::lookupNearestSymbolFrom<ParamOp>(get, get.getNameAttr());
}

LogicalResult Exporter::addTensor(Operation *at, StringRef name, OutTensor t) {
  auto [it, inserted] = tensors.try_emplace(name.str(), t);
  if (inserted)
    return success();
  const OutTensor &old = it->second;
  if (old.dtype == t.dtype && old.shape == t.shape && old.data == t.data)
    return success();
  return at->emitError("qrealign-export: two different tensors would be "
                       "written as '")
         << name << "'";
}

LogicalResult Exporter::addFloatParam(Operation *at, GetParamOp get,
                                      StringRef name) {
  ParamOp param = lookupParam(get);
  if (!param)
    return get.emitError("qrealign-export: no parameter ") << get.getName();
  RankedTensorType type = param.getTensorType();
  std::optional<DType> dtype = toDType(type.getElementType());
  if (!dtype)
    return param.emitError("qrealign-export: cannot store element type ")
           << type.getElementType();
  FailureOr<ArrayRef<char>> bytes = reader.readBytes(param);
  if (failed(bytes))
    return failure();
  OutTensor t{*dtype, SmallVector<int64_t, 2>(type.getShape()),
              ArrayRef(reinterpret_cast<const uint8_t *>(bytes->data()),
                       bytes->size())};
  return addTensor(at, name, t);
}

/// The module a quantized linear's tensors are named after: the key of its
/// stored levels without `.weight_packed` (qrealign-quantize-weights, or an
/// imported pack-quantized checkpoint) or `.weight` (int-quantized).
static std::string moduleOf(ParamOp levels) {
  StringRef key = getTensorName(levels);
  if (key.consume_back(".weight_packed") || key.consume_back(".weight"))
    return key.str();
  return {};
}

LogicalResult Exporter::addQuantized(LinearOp linear, DequantizeOp dq) {
  auto error = [&]() { return linear.emitError("qrealign-export: "); };
  SmallVector<ParamOp, 3> params;
  for (Value v : dq->getOperands()) {
    auto get = v.getDefiningOp<GetParamOp>();
    ParamOp p = get ? lookupParam(get) : ParamOp();
    if (!p)
      return error() << "the stored levels, scales and zero points must be "
                        "parameters (qrealign.get_param)";
    params.push_back(p);
  }
  std::string name = moduleOf(params[0]);
  if (linear.getName() == "lm_head")
    return error() << "a quantized lm_head is not exported (compressed-"
                      "tensors checkpoints keep it in floating point)";
  if (name.empty())
    return error() << "cannot name the module of this linear: its levels are "
                      "stored as '"
                   << getTensorName(params[0])
                   << "', not as MODULE.weight_packed";
  auto expectKey = [&](ParamOp p, StringRef suffix) -> LogicalResult {
    if (getTensorName(p) == name + suffix.str())
      return success();
    return error() << "the tensors of one linear must share its module's "
                      "name: expected '"
                   << name << suffix << "', got '" << getTensorName(p) << "'";
  };
  if (failed(expectKey(params[1], ".weight_scale")) ||
      (params.size() > 2 && failed(expectKey(params[2], ".weight_zero_point"))))
    return failure();

  int64_t n = linear.getOutFeatures(), k = linear.getInFeatures();
  RankedTensorType scaleType = params[1].getTensorType();
  int64_t rows = scaleType.getDimSize(0), groups = scaleType.getDimSize(1);
  int bits = dq.getBits();
  if (rows != n)
    return error() << "per-tensor weight ranges are not exported (compressed-"
                      "tensors stores their zero point unpacked); quantize "
                      "per channel or per group";
  CTScheme scheme;
  scheme.weightBits = bits;
  scheme.weightSymmetric = params.size() == 2;
  scheme.groupSize = groups == 1 ? 0 : k / groups;
  if (QuantSchemeAttr q = linear.getQuantAttr();
      q && q.quantizesActivations()) {
    if (q.getAct() != ActQuantMode::Dynamic)
      return error() << "static activation ranges are not exported (compressed-"
                        "tensors' W8A8 has dynamic per-token ranges)";
    scheme.actBits = q.getABits();
    scheme.actSymmetric = q.getActSymmetric();
  }
  Expected<StringRef> format = scheme.getFormat();
  if (!format)
    return error() << toString(format.takeError());

  // The levels as [N, K] i8 when they must be repacked.
  FailureOr<ArrayRef<char>> levelBytes = reader.readBytes(params[0]);
  if (failed(levelBytes))
    return failure();
  ArrayRef<uint8_t> stored(
      reinterpret_cast<const uint8_t *>(levelBytes->data()),
      levelBytes->size());
  // Bytes may hold anything (an imported int-quantized checkpoint's
  // 4-bit levels); nibbles and words cannot leave the range.
  if (!dq.isWordPacked() && !dq.isNibblePacked())
    if (std::optional<size_t> bad = findLevelOutOfRange(
            ArrayRef(reinterpret_cast<const int8_t *>(stored.data()),
                     stored.size()),
            bits))
      return error() << "level " << int(int8_t(stored[*bad])) << " of row "
                     << *bad / k << ", column " << *bad % k << " of '"
                     << getTensorName(params[0]) << "' is outside the range of "
                     << bits << "-bit levels";
  auto levels = [&]() -> std::vector<int8_t> {
    if (dq.isWordPacked())
      return unpackInt32(
          ArrayRef(reinterpret_cast<const int32_t *>(stored.data()),
                   stored.size() / 4),
          n, k, bits, /*alongRows=*/false);
    return unpackWeight(stored, n, k,
                        dq.isNibblePacked() ? LevelStorage::Nibbles
                                            : LevelStorage::Bytes);
  };
  std::optional<ArrayRef<uint8_t>> zeroBytes;
  if (params.size() > 2) {
    FailureOr<ArrayRef<char>> z = reader.readBytes(params[2]);
    if (failed(z))
      return failure();
    zeroBytes =
        ArrayRef(reinterpret_cast<const uint8_t *>(z->data()), z->size());
  }
  auto zeroLevels = [&]() -> std::vector<int8_t> {
    if (dq.isWordPacked())
      return unpackInt32(
          ArrayRef(reinterpret_cast<const int32_t *>(zeroBytes->data()),
                   zeroBytes->size() / 4),
          rows, groups, bits, /*alongRows=*/true);
    return std::vector<int8_t>(zeroBytes->begin(), zeroBytes->end());
  };

  if (*format == kPackQuantized) {
    int64_t perWord = 32 / bits;
    if (k % perWord)
      return error() << k << " input channels do not fill whole words of "
                     << perWord << " levels";
    // Words as stored, 4-bit nibbles (the same bytes), or 8-bit levels
    // repacked offset-binary.
    ArrayRef<uint8_t> words =
        dq.isWordPacked() || (dq.isNibblePacked() && bits == 4)
            ? stored
            : own(packInt32(levels(), n, k, bits, /*alongRows=*/false));
    if (failed(addTensor(linear, name + ".weight_packed",
                         {DType::I32, {n, k / perWord}, words})))
      return failure();
    if (zeroBytes) {
      ArrayRef<uint8_t> zw =
          dq.isWordPacked()
              ? *zeroBytes
              : own(packInt32(zeroLevels(), rows, groups, bits, true));
      if (failed(addTensor(
              linear, name + ".weight_zero_point",
              {DType::I32, {(rows + perWord - 1) / perWord, groups}, zw})))
        return failure();
    }
    std::vector<int64_t> shape = {n, k};
    if (failed(addTensor(linear, name + ".weight_shape",
                         {DType::I64, {2}, own(shape)})))
      return failure();
  } else {
    auto asBytes = [](const std::vector<int8_t> &v) {
      return std::vector<uint8_t>(v.begin(), v.end());
    };
    // One level per byte: as stored, or unpacked from nibbles or words.
    ArrayRef<uint8_t> bytes = dq.isWordPacked() || dq.isNibblePacked()
                                  ? own(asBytes(levels()))
                                  : stored;
    if (failed(addTensor(linear, name + ".weight", {DType::I8, {n, k}, bytes})))
      return failure();
    if (zeroBytes) {
      ArrayRef<uint8_t> z =
          dq.isWordPacked() ? own(asBytes(zeroLevels())) : *zeroBytes;
      if (failed(addTensor(linear, name + ".weight_zero_point",
                           {DType::I8, {rows, groups}, z})))
        return failure();
    }
  }
  auto get = dq.getScale().getDefiningOp<GetParamOp>();
  if (failed(addFloatParam(linear, get, name + ".weight_scale")))
    return failure();
  quantized.push_back({name, scheme, linear});
  return success();
}

FailureOr<std::string> Exporter::findSourceDir() {
  if (!options.sourceDir.empty())
    return options.sourceDir;
  const ParamEnvironment &env = module.getContext()
                                    ->getOrLoadDialect<QRealignDialect>()
                                    ->getParamEnvironment();
  std::optional<std::string> path =
      env.resolve(module, QRealignDialect::getModelScope());
  if (!path)
    return topError()
           << ("the module maps no '") << QRealignDialect::getModelScope()
           << "' scope: pass --source DIR (the Hugging Face directory whose "
              "config.json describes the model)";
  if (sys::fs::is_directory(*path))
    return *path;
  return sys::path::parent_path(*path).str();
}

LogicalResult Exporter::checkAgainstConfig(StringRef configPath,
                                           const json::Object &config) {
  std::string text = formatv("{0}", json::Value(json::Object(config))).str();
  Expected<ModelConfig> c = parseHFConfigText(text, configPath);
  if (!c)
    return topError() << toString(c.takeError());
  // Every tensor the config implies, and nothing else: a quantized
  // linear's weight is replaced by its stored tensors.
  StringMap<bool> quantizedModules;
  for (const Linear &l : quantized)
    quantizedModules[l.module] = true;
  StringMap<bool> expected;
  for (const auto &[name, shape] : getExpectedTensors(*c)) {
    StringRef moduleName = StringRef(name).rsplit('.').first;
    if (StringRef(name).ends_with(".weight") &&
        quantizedModules.count(moduleName)) {
      for (StringRef suffix : {".weight_packed", ".weight", ".weight_scale",
                               ".weight_zero_point", ".weight_shape"})
        expected[(moduleName + suffix).str()] = true;
      continue;
    }
    expected[name] = true;
    auto it = tensors.find(name);
    if (it == tensors.end())
      return topError() << ("") << configPath << " implies tensor '" << name
                        << "', which the module does not use";
    if (ArrayRef<int64_t>(it->second.shape) != ArrayRef<int64_t>(shape))
      return topError() << ("tensor '") << name << "' is "
                        << formatShape(it->second.shape) << "; " << configPath
                        << " implies " << formatShape(shape);
  }
  for (const auto &[name, t] : tensors)
    if (!expected.count(name))
      return topError() << ("tensor '") << name << "' is not part of the model "
                        << configPath << " describes";
  return success();
}

LogicalResult Exporter::write(StringRef sourceDir, json::Object config) {
  Expected<OutputDirectory> out = OutputDirectory::create(
      options.outputDir, "qrealign-export", options.force);
  if (!out)
    return topError() << toString(out.takeError());
  StringRef staging = out->getStagingPath();
  std::vector<TensorToWrite> list;
  for (const auto &[name, t] : tensors)
    list.push_back({name, t.dtype,
                    SmallVector<int64_t, 4>(ArrayRef<int64_t>(t.shape)),
                    t.data});
  SmallString<256> weights(staging);
  sys::path::append(weights, "model.safetensors");
  if (Error err = writeSafeTensors(weights, list, {{"format", "pt"}}))
    return topError() << toString(std::move(err));
  SmallString<256> cfgPath(staging);
  sys::path::append(cfgPath, "config.json");
  if (Error err = writeFileAtomically(cfgPath, [&](raw_ostream &os) {
        os << formatv("{0:2}", json::Value(std::move(config))) << "\n";
        return Error::success();
      }))
    return topError() << toString(std::move(err));
  for (StringRef file :
       {"tokenizer.model", "tokenizer.json", "tokenizer_config.json",
        "special_tokens_map.json", "generation_config.json"}) {
    SmallString<256> from(sourceDir), to(staging);
    sys::path::append(from, file);
    sys::path::append(to, file);
    if (!sys::fs::exists(from))
      continue;
    if (std::error_code ec = sys::fs::copy_file(from, to))
      return topError() << ("") << from << ": cannot copy: " << ec.message();
  }
  if (Error err = out->commit())
    return topError() << toString(std::move(err));
  return success();
}

LogicalResult Exporter::run() {
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  if (!forward)
    return topError() << ("the module has no "
                          "func.func @forward");
  // Float parameters first (norms, embeddings, float linears and biases),
  // then what each quantized linear stores.
  WalkResult walk = forward.walk([&](Operation *op) -> WalkResult {
    if (auto get = dyn_cast<GetParamOp>(op)) {
      bool onlyDequantized =
          !get->use_empty() && llvm::all_of(get->getUsers(), [](Operation *u) {
            return isa<DequantizeOp>(u);
          });
      if (onlyDequantized)
        return WalkResult::advance();
      ParamOp p = lookupParam(get);
      if (!p)
        return WalkResult::interrupt();
      return failed(addFloatParam(op, get, getTensorName(p)))
                 ? WalkResult::interrupt()
                 : WalkResult::advance();
    }
    auto linear = dyn_cast<LinearOp>(op);
    if (!linear)
      return WalkResult::advance();
    Operation *def = linear.getWeight().getDefiningOp();
    if (auto dq = dyn_cast_or_null<DequantizeOp>(def))
      return failed(addQuantized(linear, dq)) ? WalkResult::interrupt()
                                              : WalkResult::advance();
    if (auto get = dyn_cast_or_null<GetParamOp>(def)) {
      ParamOp p = lookupParam(get);
      StringRef key = p ? getTensorName(p) : StringRef();
      floatLinears.push_back(
          linear.getName() == "lm_head"
              ? std::string("lm_head")
              : key.drop_back(key.ends_with(".weight") ? strlen(".weight") : 0)
                    .str());
      return WalkResult::advance();
    }
    linear.emitError("qrealign-export: the weight must be a parameter or "
                     "stored levels (qrealign.dequantize of parameters); "
                     "run qrealign-fold-smoothing and "
                     "qrealign-quantize-weights first");
    return WalkResult::interrupt();
  });
  if (walk.wasInterrupted())
    return failure();
  if (quantized.empty())
    return topError() << ("no linear is quantized (run "
                          "qrealign-assign-quant and "
                          "qrealign-quantize-weights first)");

  // One config group per scheme, in order of first use.
  CompressedTensorsConfig ct;
  std::vector<std::vector<std::string>> targets;
  for (const Linear &l : quantized) {
    auto it = llvm::find_if(
        ct.groups, [&](const CTGroup &g) { return g.scheme == l.scheme; });
    size_t index = it - ct.groups.begin();
    if (it == ct.groups.end()) {
      ct.groups.push_back({formatv("group_{0}", index).str(), {}, l.scheme});
      targets.emplace_back();
    }
    if (!llvm::is_contained(targets[index], l.module))
      targets[index].push_back(l.module);
  }
  ct.format = ct.groups[0].scheme.getFormat()->str();
  for (const CTGroup &g : ct.groups)
    if (*g.scheme.getFormat() != ct.format)
      return topError()
             << ("the module mixes ") << ct.format << " and "
             << *g.scheme.getFormat()
             << " schemes; one compressed-tensors format per model is "
                "exported";
  for (size_t i = 0; i < ct.groups.size(); ++i)
    ct.groups[i].targets = ct.groups.size() == 1
                               ? std::vector<std::string>{"Linear"}
                               : std::move(targets[i]);
  llvm::sort(floatLinears);
  floatLinears.erase(llvm::unique(floatLinears), floatLinears.end());
  ct.ignore = floatLinears;

  FailureOr<std::string> sourceDir = findSourceDir();
  if (failed(sourceDir))
    return failure();
  SmallString<256> cfgPath(*sourceDir);
  sys::path::append(cfgPath, "config.json");
  Expected<json::Value> cfg = readJSONFile(cfgPath, {}, "a config.json");
  if (!cfg)
    return topError() << toString(cfg.takeError());
  json::Object *config = cfg->getAsObject();
  if (!config)
    return topError() << cfgPath << ": expected a JSON object";
  (*config)["quantization_config"] = ct.toJSON();
  if (failed(checkAgainstConfig(cfgPath, *config)))
    return failure();
  return write(*sourceDir, std::move(*config));
}

LogicalResult exportCompressedTensors(ModuleOp module,
                                      const ExportOptions &options) {
  Exporter exporter(module, options);
  return exporter.run();
}
} // namespace qrealign
