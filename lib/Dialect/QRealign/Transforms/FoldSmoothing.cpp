//===- FoldSmoothing.cpp - Fold qrealign.smooth into its neighbours -------===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Dialect/QRealign/IR/QRealign.h"
#include "qrealign/Dialect/QRealign/Transforms/ParamData.h"
#include "qrealign/Dialect/QRealign/Transforms/Passes.h"
#include "qrealign/Quant/Quantizer.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/ADT/StringMap.h"

#include <cmath>
#include <deque>

namespace mlir::qrealign {
#define GEN_PASS_DEF_QREALIGNFOLDSMOOTHINGPASS
#include "qrealign/Dialect/QRealign/Transforms/Passes.h.inc"
} // namespace mlir::qrealign

using namespace mlir;
using namespace mlir::qrealign;

namespace {
constexpr StringLiteral kPass = "qrealign-fold-smoothing";

/// A float tensor computed by the fold, and the parameter it replaces.
struct Folded {
  ParamOp origin;
  std::string name;
  SmallVector<int64_t, 2> shape;
  std::vector<float> values;
  ParamOp param; // declared once written
};

/// One smoothing op and what it folds into.
struct Fold {
  SmoothOp smooth;
  RMSNormOp norm;
  Folded *normWeight = nullptr;
  SmallVector<std::pair<SmoothWeightOp, Folded *>> linears;
};

struct FoldSmoothingPass
    : public mlir::qrealign::impl::QRealignFoldSmoothingPassBase<
          FoldSmoothingPass> {
  using QRealignFoldSmoothingPassBase::QRealignFoldSmoothingPassBase;
  void runOnOperation() override;
};
} // namespace

/// The smooth_weight that carries the inverse of a smoothing into
/// `linear`'s weight: the weight itself, or the input of its fake_quantize.
static SmoothWeightOp findSmoothWeight(LinearOp linear) {
  Value w = linear.getWeight();
  if (auto fq = w.getDefiningOp<FakeQuantizeOp>())
    w = fq.getInput();
  return w.getDefiningOp<SmoothWeightOp>();
}

void FoldSmoothingPass::runOnOperation() {
  ModuleOp module = getOperation();
  if (failed(checkNewScope(module, kPass, scope)))
    return signalPassFailure();
  SymbolTable symbols(module);
  ParamReader reader(module, kPass);
  std::deque<Folded> folded;
  llvm::StringMap<unsigned> names;
  std::vector<Fold> folds;
  bool ok = true;

  auto newFolded = [&](ParamOp origin) -> FailureOr<Folded *> {
    FailureOr<std::vector<float>> values = reader.readFloats(origin);
    if (failed(values))
      return failure();
    Folded &f = folded.emplace_back();
    f.origin = origin;
    std::string name = getTensorName(origin).str();
    unsigned seen = names[name]++;
    f.name = seen ? name + ".smoothed_" + std::to_string(seen) : name;
    f.shape.assign(origin.getTensorType().getShape().begin(),
                   origin.getTensorType().getShape().end());
    f.values = std::move(*values);
    return &f;
  };

  module.walk([&](SmoothOp smooth) {
    auto fail = [&](const Twine &why) {
      smooth.emitError(kPass) << ": " << why;
      ok = false;
    };
    Fold fold;
    fold.smooth = smooth;
    fold.norm = smooth.getInput().getDefiningOp<RMSNormOp>();
    if (!fold.norm)
      return fail("the input must come from a qrealign.rms_norm to fold "
                  "the scale into");
    ParamOp normParam = lookupReadParam(fold.norm.getWeight(), symbols);
    ParamOp scaleParam = lookupReadParam(smooth.getScale(), symbols);
    if (!normParam || !scaleParam)
      return fail("the rms_norm weight and the scale must be parameters "
                  "(qrealign.get_param)");
    if (smooth.getResult().use_empty())
      return fail("nothing reads the smoothed edge");
    // Every offending user is reported, in program order.
    SmallVector<OpOperand *> uses;
    for (OpOperand &use : smooth.getResult().getUses())
      uses.push_back(&use);
    llvm::sort(uses, [](OpOperand *a, OpOperand *b) {
      return a->getOwner()->isBeforeInBlock(b->getOwner());
    });
    bool usersOk = true;
    llvm::SmallPtrSet<Operation *, 4> reported;
    for (OpOperand *use : uses) {
      if (reported.contains(use->getOwner()))
        continue;
      auto linear = dyn_cast<LinearOp>(use->getOwner());
      SmoothWeightOp sw = linear && use->getOperandNumber() == 0
                              ? findSmoothWeight(linear)
                              : SmoothWeightOp();
      if (!sw || lookupReadParam(sw.getScale(), symbols) != scaleParam) {
        InFlightDiagnostic diag =
            use->getOwner()->emitError(kPass)
            << ": reads a smoothed edge without the inverse on its weight "
               "(a qrealign.linear whose weight is qrealign.smooth_weight, "
               "or a fake_quantize of one, with the same scale @"
            << scaleParam.getSymName() << ")";
        diag.attachNote(smooth.getLoc()) << "the smoothing op";
        reported.insert(use->getOwner());
        usersOk = false;
        continue;
      }
      ParamOp w = lookupReadParam(sw.getWeight(), symbols);
      if (!w) {
        InFlightDiagnostic diag = sw.emitError(kPass)
                                  << ": the weight must be a parameter "
                                     "(qrealign.get_param)";
        diag.attachNote(smooth.getLoc()) << "the smoothing op";
        usersOk = false;
        continue;
      }
      FailureOr<Folded *> f = newFolded(w);
      if (failed(f)) {
        usersOk = false;
        continue;
      }
      fold.linears.push_back({sw, *f});
    }
    if (!usersOk) {
      ok = false;
      return;
    }
    FailureOr<std::vector<float>> scale = reader.readFloats(scaleParam);
    FailureOr<Folded *> g = newFolded(normParam);
    if (failed(scale) || failed(g)) {
      ok = false;
      return;
    }
    for (float s : *scale)
      if (!(s > 0) || !std::isfinite(s)) {
        scaleParam.emitError(kPass)
            << ": smoothing scales must be positive and finite, got " << s;
        ok = false;
        return;
      }
    fold.normWeight = *g;
    for (auto [k, s] : llvm::enumerate(*scale))
      (*g)->values[k] /= s;
    for (auto &[sw, f] : fold.linears)
      ::qrealign::scaleColumns(f->values, f->shape[0], f->shape[1], *scale);
    folds.push_back(std::move(fold));
  });
  if (!ok)
    return signalPassFailure();
  if (folds.empty()) {
    module.emitWarning(kPass) << ": no qrealign.smooth to fold; nothing "
                                 "written";
    return;
  }
  if (file.empty()) {
    module.emitError(kPass)
        << ": set file=PATH, the safetensors file to write the folded "
           "tensors to";
    return signalPassFailure();
  }
  std::vector<::qrealign::TensorToWrite> tensors;
  for (Folded &f : folded)
    tensors.push_back(f32Tensor(f.name, f.shape, f.values));
  if (failed(writeScope(module, kPass, file, scope, tensors,
                        {{"format", "qrealign-folded-smoothing"}})))
    return signalPassFailure();

  Type f32 = Float32Type::get(&getContext());
  ExternalParamDeclarer declarer(symbols, scope);
  for (Folded &f : folded)
    f.param =
        declarer.declare(f.origin, f.name, RankedTensorType::get(f.shape, f32));
  llvm::SetVector<Operation *> maybeDead;
  for (Fold &fold : folds) {
    OpBuilder b(fold.smooth);
    Location loc = fold.norm.getLoc();
    auto norm = RMSNormOp::create(
        b, loc, fold.norm.getResult().getType(), fold.norm.getInput(),
        createGetParam(b, loc, fold.normWeight->param),
        fold.norm.getEpsilonAttr());
    for (auto &[sw, f] : fold.linears) {
      OpBuilder lb(sw);
      Value w = createGetParam(lb, sw.getLoc(), f->param);
      maybeDead.insert(sw.getWeight().getDefiningOp());
      maybeDead.insert(sw.getScale().getDefiningOp());
      sw.getResult().replaceAllUsesWith(w);
      maybeDead.insert(sw);
    }
    fold.smooth.getResult().replaceAllUsesWith(norm.getResult());
    maybeDead.insert(fold.smooth.getScale().getDefiningOp());
    maybeDead.insert(fold.norm);
    maybeDead.insert(fold.norm.getWeight().getDefiningOp());
    fold.smooth.erase();
    ++numFolded;
  }
  // Erase what no op reads any more, then the parameters nobody reads.
  llvm::SetVector<Operation *> params;
  for (Folded &f : folded)
    params.insert(f.origin);
  SmallVector<Operation *> dead = maybeDead.takeVector();
  bool changed = true;
  while (changed) {
    changed = false;
    for (Operation *&op : dead) {
      if (!op || !op->use_empty())
        continue;
      if (auto get = dyn_cast<GetParamOp>(op))
        if (auto p = symbols.lookup<ParamOp>(get.getName()))
          params.insert(p);
      op->erase();
      op = nullptr;
      changed = true;
    }
  }
  for (Operation *p : params)
    if (SymbolTable::symbolKnownUseEmpty(p, module))
      symbols.erase(p);
  // A folded tensor's symbol is its tensor name once the parameter it
  // replaces is gone (the importer names parameters after their tensors).
  for (Folded &f : folded) {
    StringAttr want = StringAttr::get(&getContext(), f.name);
    if (f.param.getSymNameAttr() != want && !symbols.lookup(want) &&
        failed(symbols.rename(f.param, want))) {
      f.param.emitError(kPass) << ": cannot rename to @" << f.name;
      return signalPassFailure();
    }
  }
}
