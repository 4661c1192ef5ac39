//===- QuantizeWeights.cpp - RTN weight quantization into packed storage --===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Checkpoint/Checkpoint.h"
#include "qrealign/Dialect/QRealign/IR/QRealign.h"
#include "qrealign/Dialect/QRealign/Transforms/Passes.h"
#include "qrealign/Quant/Quantizer.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/StringMap.h"

#include <cstring>

namespace mlir::qrealign {
#define GEN_PASS_DEF_QREALIGNQUANTIZEWEIGHTSPASS
#include "qrealign/Dialect/QRealign/Transforms/Passes.h.inc"
} // namespace mlir::qrealign

using namespace mlir;
using namespace mlir::qrealign;
using ::qrealign::isNibblePacked;
using ::qrealign::packWeight;
using ::qrealign::QuantizedWeight;
using ::qrealign::quantizeWeight;
using ::qrealign::WeightQuantSpec;

namespace {
/// One weight to quantize under one scheme, and the linears that read it so.
struct Job {
  ParamOp param;
  QuantSchemeAttr scheme;
  SmallVector<LinearOp> linears;
  std::string prefix; // tensor names: PREFIX.weight_packed, ...
  QuantizedWeight result;
  std::vector<uint8_t> packed;
};

struct QuantizeWeightsPass
    : public mlir::qrealign::impl::QRealignQuantizeWeightsPassBase<
          QuantizeWeightsPass> {
  using QRealignQuantizeWeightsPassBase::QRealignQuantizeWeightsPassBase;
  void runOnOperation() override;

private:
  using CheckpointCache =
      llvm::StringMap<std::unique_ptr<::qrealign::Checkpoint>>;
  FailureOr<std::vector<float>> readWeight(ParamOp param,
                                           CheckpointCache &checkpoints);
};
} // namespace

/// `count` floats from raw storage of element type `elt`.
static std::optional<std::vector<float>> toFloats(ArrayRef<char> raw, Type elt,
                                                  size_t count) {
  std::vector<float> out(count);
  if (elt.isF32() && raw.size() == count * 4) {
    memcpy(out.data(), raw.data(), raw.size());
    return out;
  }
  if ((elt.isBF16() || elt.isF16()) && raw.size() == count * 2) {
    for (size_t i = 0; i < count; ++i) {
      uint16_t bits;
      memcpy(&bits, raw.data() + 2 * i, 2);
      if (elt.isBF16()) {
        uint32_t wide = uint32_t(bits) << 16;
        memcpy(&out[i], &wide, 4);
      } else {
        out[i] = APFloat(APFloat::IEEEhalf(), APInt(16, bits)).convertToFloat();
      }
    }
    return out;
  }
  return std::nullopt;
}

FailureOr<std::vector<float>>
QuantizeWeightsPass::readWeight(ParamOp param, CheckpointCache &checkpoints) {
  RankedTensorType type = param.getTensorType();
  Type elt = type.getElementType();
  size_t count = type.getNumElements();
  ArrayRef<char> raw;
  std::vector<char> splat;
  if (ExternalAttr ext = param.getExternal()) {
    const ParamEnvironment &env =
        getContext().getOrLoadDialect<QRealignDialect>()->getParamEnvironment();
    std::unique_ptr<::qrealign::Checkpoint> &ckpt = checkpoints[ext.getScope()];
    if (!ckpt) {
      std::optional<std::string> path =
          env.resolve(getOperation(), ext.getScope());
      if (!path)
        return param.emitError("qrealign-quantize-weights: parameter scope '")
               << ext.getScope()
               << "' has no file: map it in 'qrealign.params' or pass "
                  "--params "
               << ext.getScope() << "=PATH";
      auto opened = ::qrealign::Checkpoint::open(*path);
      if (!opened)
        return param.emitError("qrealign-quantize-weights: parameter scope '")
               << ext.getScope() << "': " << toString(opened.takeError());
      ckpt = std::move(*opened);
    }
    const ::qrealign::TensorInfo *t = ckpt->lookup(ext.getKey());
    if (!t || ArrayRef<int64_t>(t->shape) != type.getShape())
      return param.emitError("qrealign-quantize-weights: tensor '")
             << ext.getKey() << "' is not a " << type << " in "
             << ckpt->getPath();
    auto data = ckpt->getData(*t);
    if (!data)
      return param.emitError("qrealign-quantize-weights: ")
             << toString(data.takeError());
    raw = ArrayRef(reinterpret_cast<const char *>(data->data()), data->size());
  } else if (auto dense = dyn_cast<DenseElementsAttr>(param.getInlineValue())) {
    raw = dense.getRawData();
    if (dense.isSplat()) {
      size_t width = raw.size();
      splat.resize(width * count);
      for (size_t i = 0; i < count; ++i)
        memcpy(splat.data() + i * width, raw.data(), width);
      raw = splat;
    }
  } else if (auto res =
                 dyn_cast<DenseResourceElementsAttr>(param.getInlineValue())) {
    AsmResourceBlob *blob = res.getRawHandle().getBlob();
    if (!blob)
      return param.emitError("qrealign-quantize-weights: dense_resource "
                             "blob has no data");
    raw = blob->getData();
  } else {
    return param.emitError("qrealign-quantize-weights: cannot read this "
                           "kind of inline value");
  }
  std::optional<std::vector<float>> values = toFloats(raw, elt, count);
  if (!values)
    return param.emitError("qrealign-quantize-weights: cannot read ")
           << type << " weights (" << raw.size() << " bytes)";
  return std::move(*values);
}

void QuantizeWeightsPass::runOnOperation() {
  ModuleOp module = getOperation();
  MLIRContext *ctx = &getContext();
  if (file.empty()) {
    module.emitError("qrealign-quantize-weights: set file=PATH, the "
                     "safetensors file to write the quantized weights to");
    return signalPassFailure();
  }
  if (!ExternalAttr::isValidScope(scope)) {
    module.emitError("qrealign-quantize-weights: scope '")
        << scope << "' is not a name ([A-Za-z_][A-Za-z0-9_-]*)";
    return signalPassFailure();
  }
  auto scopes = module->getAttrOfType<DictionaryAttr>(
      QRealignDialect::getParamsAttrName());
  if (scopes && scopes.get(scope)) {
    module.emitError("qrealign-quantize-weights: scope '")
        << scope << "' is already mapped (to " << scopes.get(scope)
        << "); choose another scope=";
    return signalPassFailure();
  }

  // One job per (weight, scheme).
  SymbolTable symbols(module);
  llvm::MapVector<std::pair<Operation *, Attribute>, Job> jobs;
  module.walk([&](LinearOp linear) {
    QuantSchemeAttr scheme = linear.getQuantAttr();
    if (!scheme || !scheme.quantizesWeights())
      return;
    auto get = linear.getWeight().getDefiningOp<GetParamOp>();
    if (!get)
      return; // already dequantized, or computed
    auto param = symbols.lookup<ParamOp>(get.getName());
    if (!param)
      return;
    Job &job = jobs[{param.getOperation(), scheme}];
    job.param = param;
    job.scheme = scheme;
    job.linears.push_back(linear);
  });
  if (jobs.empty()) {
    module.emitWarning("qrealign-quantize-weights: no linear has a weight "
                       "to quantize (run qrealign-assign-quant first); "
                       "nothing written");
    return;
  }

  bool ok = true;
  llvm::StringMap<unsigned> prefixes;
  CheckpointCache checkpoints;
  for (auto &[key, job] : jobs) {
    FailureOr<std::vector<float>> w = readWeight(job.param, checkpoints);
    if (failed(w)) {
      ok = false;
      continue;
    }
    RankedTensorType type = job.param.getTensorType();
    int64_t n = type.getDimSize(0), k = type.getDimSize(1);
    WeightQuantSpec spec;
    spec.bits = job.scheme.getWBits();
    spec.symmetric = job.scheme.getSymmetric();
    switch (job.scheme.getGranularity()) {
    case Granularity::PerTensor:
      spec.groupSize = -1;
      break;
    case Granularity::PerChannel:
      spec.groupSize = 0;
      break;
    case Granularity::PerGroup:
      spec.groupSize = job.scheme.getGroupSize();
      break;
    }
    if (isNibblePacked(spec.bits) && k % 2) {
      job.linears.front().emitError("qrealign-quantize-weights: ")
          << spec.bits << "-bit levels are packed two per byte along the " << k
          << " input channels, which must be even";
      ok = false;
      continue;
    }
    job.result = quantizeWeight(*w, n, k, spec);
    job.packed = packWeight(job.result.q, n, k, spec.bits);
    StringRef name = job.param.getExternal() ? job.param.getExternal().getKey()
                                             : job.param.getSymName();
    std::string prefix = name.str();
    if (StringRef(prefix).ends_with(".weight"))
      prefix.resize(prefix.size() - strlen(".weight"));
    // The same weight under two schemes (a tied embedding read by two
    // linears) gets distinct names.
    unsigned seen = prefixes[prefix]++;
    job.prefix = seen ? prefix + ".w" + std::to_string(job.scheme.getWBits()) +
                            "_" + std::to_string(seen)
                      : prefix;
  }
  if (!ok)
    return signalPassFailure();

  // Write the file, then change the IR.
  std::vector<::qrealign::TensorToWrite> tensors;
  for (auto &[key, job] : jobs) {
    const QuantizedWeight &r = job.result;
    ::qrealign::TensorToWrite packed;
    packed.name = job.prefix + ".weight_packed";
    packed.dtype = isNibblePacked(job.scheme.getWBits())
                       ? ::qrealign::DType::U8
                       : ::qrealign::DType::I8;
    packed.shape = {r.rows, int64_t(job.packed.size()) / r.rows};
    packed.data = job.packed;
    tensors.push_back(packed);
    ::qrealign::TensorToWrite scale;
    scale.name = job.prefix + ".weight_scale";
    scale.dtype = ::qrealign::DType::F32;
    scale.shape = {r.scaleRows, r.groups};
    scale.data = ArrayRef(reinterpret_cast<const uint8_t *>(r.scale.data()),
                          r.scale.size() * sizeof(float));
    tensors.push_back(scale);
    if (!r.zeroPoint.empty()) {
      ::qrealign::TensorToWrite zp;
      zp.name = job.prefix + ".weight_zero_point";
      zp.dtype = ::qrealign::DType::I8;
      zp.shape = {r.scaleRows, r.groups};
      zp.data = ArrayRef(reinterpret_cast<const uint8_t *>(r.zeroPoint.data()),
                         r.zeroPoint.size());
      tensors.push_back(zp);
    }
  }
  for (const auto &t : tensors)
    numBytes += t.data.size();
  if (llvm::Error err = ::qrealign::writeSafeTensors(
          file, tensors,
          {{"format", "qrealign-rtn"},
           {"layout", "levels signed; <=4 bits: u8, two per byte, low nibble "
                      "first, offset-binary (q + 8); else i8"}})) {
    module.emitError("qrealign-quantize-weights: ") << toString(std::move(err));
    return signalPassFailure();
  }

  const ParamEnvironment &env =
      ctx->getOrLoadDialect<QRealignDialect>()->getParamEnvironment();
  SmallVector<NamedAttribute> entries;
  if (scopes)
    entries.append(scopes.begin(), scopes.end());
  entries.push_back(
      NamedAttribute(StringAttr::get(ctx, scope),
                     StringAttr::get(ctx, env.recordedPath(file))));
  module->setAttr(QRealignDialect::getParamsAttrName(),
                  DictionaryAttr::get(ctx, entries));

  // New parameters follow the weight they come from, in job order.
  DenseMap<Operation *, Operation *> lastDeclared;
  for (auto &[key, job] : jobs) {
    const QuantizedWeight &r = job.result;
    int bits = job.scheme.getWBits();
    OpBuilder b(job.param);
    Operation *&after = lastDeclared[job.param];
    if (!after)
      after = job.param;
    auto declare = [&](StringRef suffix, RankedTensorType type) {
      std::string name = job.prefix + "." + suffix.str();
      b.setInsertionPointAfter(after);
      auto p = ParamOp::create(b, NameLoc::get(b.getStringAttr(name)), name,
                               type, ExternalAttr::get(ctx, scope, name));
      symbols.insert(p);
      after = p;
      return p;
    };
    Type i8 = IntegerType::get(ctx, 8);
    Type storage = isNibblePacked(bits)
                       ? IntegerType::get(ctx, 8, IntegerType::Unsigned)
                       : i8;
    auto packedType = RankedTensorType::get(
        {r.rows, int64_t(job.packed.size()) / r.rows}, storage);
    auto scaleType =
        RankedTensorType::get({r.scaleRows, r.groups}, b.getF32Type());
    ParamOp packed = declare("weight_packed", packedType);
    ParamOp scaleParam = declare("weight_scale", scaleType);
    ParamOp zero;
    if (!r.zeroPoint.empty())
      zero = declare("weight_zero_point",
                     RankedTensorType::get({r.scaleRows, r.groups}, i8));
    for (LinearOp linear : job.linears) {
      OpBuilder lb(linear);
      Location loc = linear.getLoc();
      auto read = [&](ParamOp p) -> Value {
        if (!p)
          return Value();
        return GetParamOp::create(lb, loc, p.getTensorType(), p.getSymName());
      };
      auto weightType = cast<RankedTensorType>(linear.getWeight().getType());
      Value packedValue = read(packed);
      Value scaleValue = read(scaleParam);
      Value zeroValue = read(zero);
      Value w = DequantizeOp::create(
          lb, loc,
          RankedTensorType::get(weightType.getShape(), lb.getF32Type()),
          packedValue, scaleValue, zeroValue, bits);
      Operation *old = linear.getWeight().getDefiningOp();
      linear.getWeightMutable().assign(w);
      if (old->use_empty())
        old->erase();
    }
    ++numQuantized;
  }
  // A float weight that no op reads any more goes (the embedding may still
  // read the one the LM head shares).
  for (auto &[key, job] : jobs)
    if (job.param && SymbolTable::symbolKnownUseEmpty(job.param, module)) {
      symbols.erase(job.param);
      job.param = nullptr;
    }
}
