//===- QuantizeWeights.cpp - RTN weight quantization into packed storage --===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Checkpoint/Checkpoint.h"
#include "qrealign/Dialect/QRealign/IR/QRealign.h"
#include "qrealign/Dialect/QRealign/Transforms/ParamData.h"
#include "qrealign/Dialect/QRealign/Transforms/Passes.h"
#include "qrealign/Quant/Quantizer.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/SetVector.h"
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
  /// form=packed of a calibrated weight: the fake_quantize with learned
  /// clipping logits that the packed levels replace, and those logits.
  FakeQuantizeOp learned;
  ParamOp clipMaxParam, clipMinParam;
  SmallVector<LinearOp> linears;
  std::string prefix; // tensor names: PREFIX.weight_packed, ...
  int64_t n = 0, k = 0;
  QuantizedWeight result;      // form=packed
  std::vector<uint8_t> packed; // form=packed
  int64_t rangeRows = 0, groups = 0;
  std::vector<float> clipMax, clipMin; // form=fake with lwc
};

/// An rms_norm whose shared output edge gets a smoothing op.
struct SmoothJob {
  RMSNormOp norm;
  ParamOp normWeight; // the parameter the norm reads
  SmallVector<LinearOp> linears;
  std::string name; // NORM.smooth_scale
  std::vector<float> scale;
};

struct QuantizeWeightsPass
    : public mlir::qrealign::impl::QRealignQuantizeWeightsPassBase<
          QuantizeWeightsPass> {
  using QRealignQuantizeWeightsPassBase::QRealignQuantizeWeightsPassBase;
  void runOnOperation() override;
};

constexpr StringLiteral kPass = "qrealign-quantize-weights";
} // namespace

static WeightQuantSpec getSpec(QuantSchemeAttr scheme) {
  WeightQuantSpec spec;
  spec.bits = scheme.getWBits();
  spec.symmetric = scheme.getSymmetric();
  spec.groupSize =
      getRangeGroupSize(scheme.getGranularity(), scheme.getGroupSize());
  return spec;
}

/// The activation bits of the linear that produces `v` (directly or through
/// rope), or 16.
static unsigned producerActBits(Value v) {
  Operation *def = v.getDefiningOp();
  if (auto rope = dyn_cast_or_null<RopeOp>(def))
    def = rope.getInput().getDefiningOp();
  auto linear = dyn_cast_or_null<LinearOp>(def);
  if (!linear || !linear.getQuantAttr())
    return 16;
  return linear.getQuantAttr().getABits();
}

void QuantizeWeightsPass::runOnOperation() {
  ModuleOp module = getOperation();
  MLIRContext *ctx = &getContext();
  if (form != "packed" && form != "fake") {
    module.emitError(kPass)
        << ": form must be packed or fake, got '" << form << "'";
    return signalPassFailure();
  }
  bool fake = form == "fake";
  if (!fake && (lwc || smooth)) {
    module.emitError(kPass)
        << ": " << (lwc ? "lwc" : "smooth")
        << " belongs to the calibration form: add form=fake";
    return signalPassFailure();
  }
  if (failed(checkNewScope(module, kPass, scope)))
    return signalPassFailure();

  // One job per (weight, scheme).
  SymbolTable symbols(module);
  llvm::MapVector<std::pair<Operation *, Attribute>, Job> jobs;
  bool collected = true;
  module.walk([&](LinearOp linear) {
    QuantSchemeAttr scheme = linear.getQuantAttr();
    if (!scheme || !scheme.quantizesWeights())
      return;
    ParamOp param = lookupReadParam(linear.getWeight(), symbols);
    // form=packed also materializes the calibration form: a fake_quantize
    // with dynamic ranges and (learned) clipping logits of a parameter.
    auto fq = linear.getWeight().getDefiningOp<FakeQuantizeOp>();
    if (!param && !fake && fq && fq.isDynamic()) {
      if (fq.getInput().getDefiningOp<SmoothWeightOp>()) {
        fq.emitError(kPass) << ": a smoothed weight cannot be packed: run "
                               "qrealign-fold-smoothing first";
        collected = false;
        return;
      }
      param = lookupReadParam(fq.getInput(), symbols);
      ParamOp cmax = fq.getClipMax() ? lookupReadParam(fq.getClipMax(), symbols)
                                     : ParamOp();
      ParamOp cmin = fq.getClipMin() ? lookupReadParam(fq.getClipMin(), symbols)
                                     : ParamOp();
      if (!param || bool(fq.getClipMax()) != bool(cmax) ||
          bool(fq.getClipMin()) != bool(cmin))
        return;
      Job &job = jobs[{fq.getOperation(), scheme}];
      job.param = param;
      job.scheme = scheme;
      job.learned = fq;
      job.clipMaxParam = cmax;
      job.clipMinParam = cmin;
      job.linears.push_back(linear);
      return;
    }
    if (!param)
      return; // already quantized, or computed
    Job &job = jobs[{param.getOperation(), scheme}];
    job.param = param;
    job.scheme = scheme;
    job.linears.push_back(linear);
  });
  if (!collected)
    return signalPassFailure();

  // Shared edges to smooth: rms_norms that only quantized linears read.
  std::vector<SmoothJob> smoothJobs;
  if (smooth)
    module.walk([&](RMSNormOp norm) {
      SmoothJob sj;
      sj.norm = norm;
      for (OpOperand &use : norm.getResult().getUses()) {
        auto linear = dyn_cast<LinearOp>(use.getOwner());
        if (!linear || use.getOperandNumber() != 0 || !linear.getQuantAttr() ||
            !linear.getQuantAttr().quantizesWeights() ||
            !linear.getWeight().getDefiningOp<GetParamOp>())
          return;
        sj.linears.push_back(linear);
      }
      sj.normWeight = lookupReadParam(norm.getWeight(), symbols);
      if (sj.linears.empty() || !sj.normWeight)
        return;
      StringRef name = getTensorName(sj.normWeight);
      name.consume_back(".weight");
      sj.name = name.str() + ".smooth_scale";
      sj.scale.assign(norm.getResult().getType().getShape().back(), 1.0f);
      smoothJobs.push_back(std::move(sj));
    });

  // Attention operands to quantize at the activation width.
  SmallVector<std::pair<OpOperand *, unsigned>> qkOperands;
  if (qk)
    module.walk([&](AttentionOp at) {
      for (OpOperand *operand : {&at.getQueryMutable(), &at.getKeyMutable()}) {
        if (operand->get().getDefiningOp<FakeQuantizeOp>())
          continue;
        unsigned bits = producerActBits(operand->get());
        if (bits < 16)
          qkOperands.push_back({operand, bits});
      }
    });

  if (jobs.empty() && qkOperands.empty()) {
    module.emitWarning(kPass) << ": no linear has a weight to quantize (run "
                                 "qrealign-assign-quant first); nothing "
                                 "written";
    return;
  }

  bool ok = true;
  llvm::StringMap<unsigned> prefixes;
  ParamReader reader(module, kPass);
  for (auto &[key, job] : jobs) {
    RankedTensorType type = job.param.getTensorType();
    job.n = type.getDimSize(0);
    job.k = type.getDimSize(1);
    WeightQuantSpec spec = getSpec(job.scheme);
    job.rangeRows = spec.groupSize < 0 ? 1 : job.n;
    job.groups = spec.groupSize > 0 ? job.k / spec.groupSize : 1;
    StringRef name = getTensorName(job.param);
    std::string prefix = name.str();
    if (StringRef(prefix).ends_with(".weight"))
      prefix.resize(prefix.size() - strlen(".weight"));
    // The same weight under two schemes (a tied embedding read by two
    // linears) gets distinct names.
    unsigned seen = prefixes[prefix]++;
    job.prefix = seen ? prefix + ".w" + std::to_string(job.scheme.getWBits()) +
                            "_" + std::to_string(seen)
                      : prefix;
    if (fake) {
      if (lwc) {
        size_t count = job.rangeRows * job.groups;
        job.clipMax.assign(count, float(lwcInit));
        if (!spec.symmetric)
          job.clipMin.assign(count, float(lwcInit));
      }
      continue;
    }
    if (isNibblePacked(spec.bits) && job.k % 2) {
      job.linears.front().emitError(kPass)
          << ": " << spec.bits
          << "-bit levels are packed two per byte along the " << job.k
          << " input channels, which must be even";
      ok = false;
      continue;
    }
    FailureOr<std::vector<float>> w = reader.readFloats(job.param);
    if (failed(w)) {
      ok = false;
      continue;
    }
    // A calibrated weight keeps the ranges its fake_quantize computed:
    // its own width and granularity, and its clipping factors.
    std::vector<float> cmax, cmin;
    if (job.learned) {
      spec.bits = job.learned.getBits();
      spec.symmetric = job.learned.getSymmetric();
      spec.groupSize = getRangeGroupSize(
          job.learned.getGranularity(), job.learned.getGroupSize().value_or(0));
      for (auto [param, into] : {std::pair{job.clipMaxParam, &cmax},
                                 std::pair{job.clipMinParam, &cmin}}) {
        if (!param)
          continue;
        FailureOr<std::vector<float>> c = reader.readFloats(param);
        if (failed(c)) {
          ok = false;
          break;
        }
        *into = std::move(*c);
      }
      if (!ok)
        continue;
      spec.clipMax = cmax;
      spec.clipMin = cmin;
    }
    job.result = quantizeWeight(*w, job.n, job.k, spec);
    job.packed = packWeight(job.result.q, job.n, job.k, spec.bits);
  }
  if (!ok)
    return signalPassFailure();

  // Write the file, then change the IR.
  std::vector<::qrealign::TensorToWrite> tensors;
  for (auto &[key, job] : jobs) {
    if (fake) {
      if (!job.clipMax.empty())
        tensors.push_back(f32Tensor(job.prefix + ".weight_clip_max",
                                    {job.rangeRows, job.groups}, job.clipMax));
      if (!job.clipMin.empty())
        tensors.push_back(f32Tensor(job.prefix + ".weight_clip_min",
                                    {job.rangeRows, job.groups}, job.clipMin));
      continue;
    }
    const QuantizedWeight &r = job.result;
    ::qrealign::TensorToWrite packed;
    packed.name = job.prefix + ".weight_packed";
    packed.dtype = isNibblePacked(job.scheme.getWBits())
                       ? ::qrealign::DType::U8
                       : ::qrealign::DType::I8;
    packed.shape = {r.rows, int64_t(job.packed.size()) / r.rows};
    packed.data = job.packed;
    tensors.push_back(packed);
    tensors.push_back(f32Tensor(job.prefix + ".weight_scale",
                                {r.scaleRows, r.groups}, r.scale));
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
  for (const SmoothJob &sj : smoothJobs)
    tensors.push_back(f32Tensor(sj.name, {int64_t(sj.scale.size())}, sj.scale));
  if (!tensors.empty()) {
    if (file.empty()) {
      module.emitError(kPass) << ": set file=PATH, the safetensors file to "
                                 "write the "
                              << tensors.size() << " new tensors to";
      return signalPassFailure();
    }
    for (const auto &t : tensors)
      numBytes += t.data.size();
    if (failed(writeScope(
            module, kPass, file, scope, tensors,
            {{"format", fake ? "qrealign-fake-quant" : "qrealign-rtn"},
             {"layout", "levels signed; <=4 bits: u8, two per byte, low "
                        "nibble first, offset-binary (q + 8); else i8"}})))
      return signalPassFailure();
  }

  // New parameters follow the tensor they come from, in job order.
  ExternalParamDeclarer declarer(symbols, scope);
  Type i8 = IntegerType::get(ctx, 8);
  Type f32 = Float32Type::get(ctx);
  for (auto &[key, job] : jobs) {
    int bits = job.learned ? int(job.learned.getBits()) : job.scheme.getWBits();
    auto declare = [&](StringRef name, RankedTensorType type) {
      return declarer.declare(job.param, name, type);
    };
    ParamOp packed, scaleParam, zero, clipMax, clipMin;
    if (fake) {
      auto rangeType = RankedTensorType::get({job.rangeRows, job.groups}, f32);
      if (!job.clipMax.empty())
        clipMax = declare(job.prefix + ".weight_clip_max", rangeType);
      if (!job.clipMin.empty())
        clipMin = declare(job.prefix + ".weight_clip_min", rangeType);
    } else {
      const QuantizedWeight &r = job.result;
      Type storage = isNibblePacked(bits)
                         ? IntegerType::get(ctx, 8, IntegerType::Unsigned)
                         : i8;
      packed =
          declare(job.prefix + ".weight_packed",
                  RankedTensorType::get(
                      {r.rows, int64_t(job.packed.size()) / r.rows}, storage));
      scaleParam = declare(job.prefix + ".weight_scale",
                           RankedTensorType::get({r.scaleRows, r.groups}, f32));
      if (!r.zeroPoint.empty())
        zero = declare(job.prefix + ".weight_zero_point",
                       RankedTensorType::get({r.scaleRows, r.groups}, i8));
    }
    for (LinearOp linear : job.linears) {
      OpBuilder lb(linear);
      Location loc = linear.getLoc();
      auto read = [&](ParamOp p) {
        return p ? createGetParam(lb, loc, p) : Value();
      };
      auto weightType = cast<RankedTensorType>(linear.getWeight().getType());
      auto resultType = RankedTensorType::get(weightType.getShape(), f32);
      Value w;
      if (fake) {
        Value cmax = read(clipMax), cmin = read(clipMin);
        IntegerAttr group;
        if (job.scheme.getGranularity() == Granularity::PerGroup)
          group = lb.getI64IntegerAttr(job.scheme.getGroupSize());
        w = FakeQuantizeOp::create(
            lb, loc, resultType, linear.getWeight(), Value(), Value(), cmax,
            cmin, bits, job.scheme.getGranularity(), group,
            job.scheme.getSymmetric() ? lb.getUnitAttr() : UnitAttr());
        linear.getWeightMutable().assign(w);
        continue;
      }
      Value packedValue = read(packed);
      Value scaleValue = read(scaleParam);
      Value zeroValue = read(zero);
      w = DequantizeOp::create(lb, loc, resultType, packedValue, scaleValue,
                               zeroValue, bits);
      Operation *old = linear.getWeight().getDefiningOp();
      linear.getWeightMutable().assign(w);
      if (old->use_empty()) {
        SmallVector<Operation *> reads;
        for (Value v : old->getOperands())
          if (Operation *def = v.getDefiningOp())
            reads.push_back(def);
        old->erase();
        for (Operation *read : reads)
          if (read->use_empty())
            read->erase();
      }
    }
    ++numQuantized;
  }
  for (SmoothJob &sj : smoothJobs) {
    ParamOp scaleParam = declarer.declare(
        sj.normWeight, sj.name,
        RankedTensorType::get({int64_t(sj.scale.size())}, f32));
    OpBuilder b(sj.norm);
    b.setInsertionPointAfter(sj.norm);
    Location loc = sj.norm.getLoc();
    Value scaleValue = createGetParam(b, loc, scaleParam);
    auto sm = SmoothOp::create(b, loc, sj.norm.getResult().getType(),
                               sj.norm.getResult(), scaleValue);
    // Each consumer takes the edge's scale into its weight, before the
    // fake_quantize that form=fake put there.
    for (LinearOp linear : sj.linears) {
      linear.getInputMutable().assign(sm);
      auto fq = linear.getWeight().getDefiningOp<FakeQuantizeOp>();
      OpBuilder wb(fq);
      Value w = fq.getInput();
      auto wType = cast<RankedTensorType>(w.getType());
      Value ws = SmoothWeightOp::create(
          wb, linear.getLoc(), RankedTensorType::get(wType.getShape(), f32), w,
          scaleValue);
      fq.getInputMutable().assign(ws);
    }
    ++numSmoothed;
  }
  for (auto [operand, bits] : qkOperands) {
    auto at = cast<AttentionOp>(operand->getOwner());
    OpBuilder b(at);
    Value v = operand->get();
    Value q = FakeQuantizeOp::create(
        b, at.getLoc(), v.getType(), v, Value(), Value(), Value(), Value(),
        bits, Granularity::PerGroup, b.getI64IntegerAttr(at.getHeadDim()),
        UnitAttr());
    operand->set(q);
    ++numQK;
  }
  // A float weight that no op reads any more goes (the embedding may still
  // read the one the LM head shares).
  // So do the clipping logits of materialized calibrated weights.
  llvm::SetVector<Operation *> readBefore;
  for (auto &[key, job] : jobs)
    for (ParamOp p : {job.param, job.clipMaxParam, job.clipMinParam})
      if (p)
        readBefore.insert(p);
  for (auto &[key, job] : jobs)
    job.param = job.clipMaxParam = job.clipMinParam = nullptr;
  for (Operation *p : readBefore)
    if (SymbolTable::symbolKnownUseEmpty(p, module))
      symbols.erase(p);
}
