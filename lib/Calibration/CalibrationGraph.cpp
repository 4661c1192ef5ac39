//===- CalibrationGraph.cpp - Calibration objectives as IR ----------------===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Calibration/CalibrationGraph.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringSet.h"

using namespace mlir;
using namespace mlir::qrealign;

namespace qrealign::calibration {
static constexpr std::pair<Objective, llvm::StringLiteral> kObjectives[] = {
    {Objective::RTN, "rtn"},
    {Objective::Recon, "recon"},
    {Objective::QRealign, "qrealign"},
    {Objective::QRealignPlus, "qrealign-plus"},
};

std::optional<Objective> parseObjective(StringRef name) {
  for (const auto &[o, n] : kObjectives)
    if (n == name)
      return o;
  return std::nullopt;
}

StringRef getObjectiveName(Objective objective) {
  for (const auto &[o, n] : kObjectives)
    if (o == objective)
      return n;
  return "?";
}

StringRef getObjectiveNames() { return "rtn, recon, qrealign, qrealign-plus"; }

bool usesProbes(Objective objective) {
  return objective == Objective::QRealign ||
         objective == Objective::QRealignPlus;
}

bool usesAnchor(Objective objective) {
  return objective == Objective::QRealignPlus;
}

std::string getReferenceFunctionName(int64_t index) {
  return "qrealign_reference_" + std::to_string(index);
}

std::string getCalibrateFunctionName(int64_t index) {
  return "qrealign_calibrate_" + std::to_string(index);
}

std::string getStatisticsFunctionName(int64_t index) {
  return "qrealign_statistics_" + std::to_string(index);
}

static bool isGraphFunction(StringRef name) {
  return name == kEmbedFunctionName ||
         name.starts_with("qrealign_reference_") ||
         name.starts_with("qrealign_calibrate_") ||
         name.starts_with("qrealign_statistics_");
}

void eraseCalibrationGraph(ModuleOp module) {
  for (auto func : llvm::make_early_inc_range(module.getOps<func::FuncOp>()))
    if (isGraphFunction(func.getSymName()))
      func.erase();
}

/// The layer's inputs are (hidden [B, S, D] float with static D, positions
/// [B, S] integer, mask [B, S] i1), as the importer writes them.
static LogicalResult checkLayerInterface(LayerOp layer, StringRef passName) {
  TypeRange types = layer.getInputs().getTypes();
  auto is = [](Type t, int64_t rank, auto pred) {
    auto tt = dyn_cast<RankedTensorType>(t);
    return tt && tt.getRank() == rank && pred(tt.getElementType());
  };
  if (types.size() != 3 ||
      !is(types[0], 3, [](Type e) { return isa<FloatType>(e); }) ||
      cast<RankedTensorType>(types[0]).isDynamicDim(2) ||
      !is(types[1], 2, [](Type e) { return e.isSignlessInteger(); }) ||
      !is(types[2], 2, [](Type e) { return e.isInteger(1); }))
    return layer.emitError(passName)
           << ": calibration needs layers of (hidden [B, S, D] with a static "
              "D, positions [B, S], mask [B, S] i1)";
  return success();
}

/// `@qrealign_embed(ids, positions, mask) -> hidden`: the ops of @forward
/// that the first layer's residual stream depends on.
static LogicalResult buildEmbed(ModuleOp module, func::FuncOp forward,
                                LayerOp first, StringRef passName) {
  Block &body = forward.getBody().front();
  llvm::SetVector<Operation *> slice;
  SmallVector<Value> work = {first.getHidden()};
  while (!work.empty()) {
    Value v = work.pop_back_val();
    Operation *def = v.getDefiningOp();
    if (!def)
      continue;
    if (def->getBlock() != &body || isa<LayerOp>(def))
      return first.emitError(passName)
             << ": the first layer's input must be computed from @forward's "
                "arguments by ops outside layers";
    if (slice.insert(def))
      llvm::append_range(work, def->getOperands());
  }
  OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
  Type hidden = first.getHidden().getType();
  auto func = func::FuncOp::create(
      b, forward.getLoc(), kEmbedFunctionName,
      b.getFunctionType(forward.getArgumentTypes(), {hidden}));
  Block *entry = func.addEntryBlock();
  OpBuilder fb = OpBuilder::atBlockEnd(entry);
  IRMapping map;
  map.map(body.getArguments(), entry->getArguments());
  for (Operation &op : body)
    if (slice.contains(&op))
      fb.clone(op, map);
  func::ReturnOp::create(fb, forward.getLoc(),
                         ValueRange{map.lookup(first.getHidden())});
  return success();
}

/// Replaces quantization and smoothing in `root` (a clone of a layer or a
/// function holding its body) by their inputs and drops the linears'
/// schemes: the full-precision layer.
static void stripQuantization(Operation *root) {
  SmallVector<Operation *> dead;
  root->walk([&](Operation *op) {
    if (auto fq = dyn_cast<FakeQuantizeOp>(op)) {
      fq.getResult().replaceAllUsesWith(fq.getInput());
      dead.push_back(op);
    } else if (auto s = dyn_cast<SmoothOp>(op)) {
      s.getResult().replaceAllUsesWith(s.getInput());
      dead.push_back(op);
    } else if (auto sw = dyn_cast<SmoothWeightOp>(op)) {
      sw.getResult().replaceAllUsesWith(sw.getWeight());
      dead.push_back(op);
    } else if (auto linear = dyn_cast<LinearOp>(op)) {
      linear.removeQuantAttr();
    }
  });
  for (Operation *op : llvm::reverse(dead))
    op->erase();
  SmallVector<GetParamOp> unused;
  root->walk([&](GetParamOp get) {
    if (get->use_empty())
      unused.push_back(get);
  });
  for (GetParamOp get : unused)
    get.erase();
  if (auto layer = dyn_cast<LayerOp>(root))
    layer.removeBoundaryAttr();
}

/// The tensors calibration learns in `layer`: clipping logits of its
/// fake_quantize ops and the scales of its smoothing ops.
static LayerGraph collectTrainables(LayerOp layer) {
  LayerGraph g;
  g.index = layer.getIndex();
  g.hiddenSize =
      cast<RankedTensorType>(layer.getHidden().getType()).getDimSize(2);
  if (SafetyBoundaryAttr boundary = layer.getBoundaryAttr())
    g.position = boundary.getPosition();
  llvm::StringSet<> seen;
  auto add = [&](std::vector<std::string> &into, Value v) {
    if (!v)
      return;
    if (auto get = v.getDefiningOp<GetParamOp>())
      if (seen.insert(get.getName()).second)
        into.push_back(get.getName().str());
  };
  layer.walk([&](Operation *op) {
    if (auto fq = dyn_cast<FakeQuantizeOp>(op)) {
      add(g.clip, fq.getClipMax());
      add(g.clip, fq.getClipMin());
    } else if (auto s = dyn_cast<SmoothOp>(op)) {
      add(g.smooth, s.getScale());
    } else if (auto sw = dyn_cast<SmoothWeightOp>(op)) {
      add(g.smooth, sw.getScale());
    }
  });
  return g;
}

/// `@qrealign_reference_N`: the layer at full precision.
static void buildReference(ModuleOp module, LayerOp layer) {
  OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
  auto func = func::FuncOp::create(
      b, layer.getLoc(), getReferenceFunctionName(layer.getIndex()),
      b.getFunctionType(layer.getInputs().getTypes(),
                        {layer.getResult().getType()}));
  Block *entry = func.addEntryBlock();
  OpBuilder fb = OpBuilder::atBlockEnd(entry);
  IRMapping map;
  map.map(layer.getInputs(), entry->getArguments());
  auto clone = cast<LayerOp>(fb.clone(*layer, map));
  stripQuantization(clone);
  func::ReturnOp::create(fb, layer.getLoc(), clone.getResult());
}

/// `@qrealign_statistics_N`: the layer's body at full precision, inlined,
/// returning the input edge of each smoothing scale that has exactly one
/// `qrealign.smooth` and only parameters as its consumers' weights.
/// Records them in `g.statistics`; builds nothing when there are none.
static void buildStatistics(ModuleOp module, LayerOp layer, LayerGraph &g) {
  llvm::StringMap<SmallVector<SmoothOp>> edges;
  llvm::StringMap<std::vector<std::string>> weights;
  llvm::StringSet<> opaque;
  layer.walk([&](Operation *op) {
    auto scaleName = [](Value v) -> std::optional<StringRef> {
      if (auto get = v.getDefiningOp<GetParamOp>())
        return get.getName();
      return std::nullopt;
    };
    if (auto s = dyn_cast<SmoothOp>(op)) {
      if (std::optional<StringRef> name = scaleName(s.getScale()))
        edges[*name].push_back(s);
    } else if (auto sw = dyn_cast<SmoothWeightOp>(op)) {
      std::optional<StringRef> name = scaleName(sw.getScale());
      if (!name)
        return;
      if (auto w = sw.getWeight().getDefiningOp<GetParamOp>())
        weights[*name].push_back(w.getName().str());
      else
        opaque.insert(*name);
    }
  });
  SmallVector<Value> results;
  for (const std::string &scale : g.smooth) {
    auto e = edges.find(scale);
    auto w = weights.find(scale);
    if (e == edges.end() || e->second.size() != 1 || w == weights.end() ||
        opaque.contains(scale))
      continue;
    g.statistics.push_back({scale, w->second});
    results.push_back(e->second.front().getInput());
  }
  if (results.empty())
    return;
  OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
  Location loc = layer.getLoc();
  auto func =
      func::FuncOp::create(b, loc, getStatisticsFunctionName(layer.getIndex()),
                           b.getFunctionType(layer.getInputs().getTypes(), {}));
  Block *entry = func.addEntryBlock();
  OpBuilder fb = OpBuilder::atBlockEnd(entry);
  Block &body = layer.getBody().front();
  IRMapping map;
  map.map(body.getArguments(), entry->getArguments());
  for (Operation &op : body.without_terminator())
    fb.clone(op, map);
  SmallVector<Value> mapped;
  for (Value v : results)
    mapped.push_back(map.lookup(v));
  // Returned before stripping, so that an edge that was itself quantized
  // becomes its full-precision input.
  auto ret = func::ReturnOp::create(fb, loc, mapped);
  stripQuantization(func);
  // What the edges do not depend on (the rest of the layer) goes.
  SmallVector<Operation *> ops;
  for (Operation &op : entry->without_terminator())
    ops.push_back(&op);
  for (Operation *op : llvm::reverse(ops))
    if (isOpTriviallyDead(op))
      op->erase();
  func.setFunctionType(
      b.getFunctionType(layer.getInputs().getTypes(), ret.getOperandTypes()));
}

/// `@qrealign_calibrate_N`: the layer in fake-quantize form, its learned
/// tensors read `trainable`, and the objective.
static LogicalResult buildCalibrate(ModuleOp module, LayerOp layer,
                                    const LayerGraph &g,
                                    const GraphOptions &options,
                                    StringRef passName) {
  MLIRContext *ctx = module.getContext();
  OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
  Location loc = layer.getLoc();
  int64_t dyn = ShapedType::kDynamic;
  Type f32 = Float32Type::get(ctx);
  auto state = RankedTensorType::get({dyn, dyn, g.hiddenSize}, f32);
  auto tokens = RankedTensorType::get({dyn, dyn}, f32);
  auto rows = RankedTensorType::get({dyn, g.hiddenSize}, f32);
  auto perSeq = RankedTensorType::get({dyn}, f32);
  auto index = RankedTensorType::get({dyn}, IntegerType::get(ctx, 64));
  auto scalar = RankedTensorType::get({}, f32);
  SmallVector<Type> inputs(layer.getInputs().getTypes());
  inputs.append({state, tokens, index, perSeq, rows, perSeq});
  Type hidden = layer.getResult().getType();
  auto func =
      func::FuncOp::create(b, loc, getCalibrateFunctionName(layer.getIndex()),
                           b.getFunctionType(inputs, {scalar, hidden}));
  Block *entry = func.addEntryBlock();
  OpBuilder fb = OpBuilder::atBlockEnd(entry);
  IRMapping map;
  map.map(layer.getInputs(), entry->getArguments().take_front(3));
  auto clone = cast<LayerOp>(fb.clone(*layer, map));
  llvm::StringSet<> trainable;
  for (const auto *list : {&g.clip, &g.smooth})
    for (const std::string &name : *list)
      trainable.insert(name);
  clone.walk([&](GetParamOp get) {
    if (trainable.contains(get.getName()))
      get.setTrainable(true);
  });
  auto arg = [&](unsigned i) { return entry->getArgument(i); };
  Value y = clone.getResult();
  Value loss =
      SquaredErrorOp::create(fb, loc, scalar, y, arg(kTarget),
                             arg(kTargetWeight), fb.getF64FloatAttr(1.0));
  if (!usesProbes(options.objective))
    return func::ReturnOp::create(fb, loc, ValueRange{loss, y}), success();
  SafetyBoundaryAttr boundary = layer.getBoundaryAttr();
  if (!boundary)
    return layer.emitError(passName)
           << ": layer " << layer.getIndex()
           << " has no safety boundary, which objective '"
           << getObjectiveName(options.objective)
           << "' needs: run qrealign-attach-probes first";
  SymbolTable symbols(module);
  auto w = symbols.lookup<ParamOp>(boundary.getWeight().getValue());
  auto bias = symbols.lookup<ParamOp>(boundary.getBias().getValue());
  if (!w || !bias)
    return layer.emitError(passName)
           << ": layer " << layer.getIndex()
           << "'s boundary names a parameter the module does not declare";
  auto last = GatherTokenOp::create(
      fb, loc,
      RankedTensorType::get({dyn, g.hiddenSize},
                            cast<RankedTensorType>(hidden).getElementType()),
      y, arg(kIndex));
  Value probe = BoundaryLossOp::create(
      fb, loc, scalar, last,
      GetParamOp::create(fb, loc, w.getTensorType(), w.getSymName()),
      GetParamOp::create(fb, loc, bias.getTensorType(), bias.getSymName()),
      arg(kProbeWeight), fb.getF64FloatAttr(options.margin),
      fb.getF64FloatAttr(options.probeCoefficient));
  loss = AddOp::create(fb, loc, loss, probe);
  if (usesAnchor(options.objective)) {
    Value anchor = SquaredErrorOp::create(
        fb, loc, scalar, last, arg(kAnchor), arg(kAnchorWeight),
        fb.getF64FloatAttr(options.anchorCoefficient));
    loss = AddOp::create(fb, loc, loss, anchor);
  }
  func::ReturnOp::create(fb, loc, ValueRange{loss, y});
  return success();
}

FailureOr<std::vector<LayerGraph>>
buildCalibrationGraph(ModuleOp module, const GraphOptions &options,
                      StringRef passName) {
  eraseCalibrationGraph(module);
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  if (!forward || forward.isExternal())
    return module.emitError(passName)
           << ": calibration needs the model's func.func @forward";
  SmallVector<LayerOp> layers;
  for (Operation &op : forward.getBody().front())
    if (auto layer = dyn_cast<LayerOp>(op))
      layers.push_back(layer);
  if (layers.empty())
    return forward.emitError(passName)
           << ": @forward has no qrealign.layer to calibrate";
  for (LayerOp layer : layers)
    if (failed(checkLayerInterface(layer, passName)))
      return failure();
  std::vector<LayerGraph> graphs;
  for (LayerOp layer : layers) {
    LayerGraph g = collectTrainables(layer);
    if (g.clip.empty() && g.smooth.empty() &&
        options.objective != Objective::RTN)
      return layer.emitError(passName)
             << ": layer " << layer.getIndex()
             << " has nothing to learn (no clipping logits or smoothing "
                "scales): materialize the calibration form first "
                "(qrealign-quantize-weights=\"form=fake lwc smooth ...\")";
    graphs.push_back(std::move(g));
  }
  if (failed(buildEmbed(module, forward, layers.front(), passName)))
    return failure();
  for (auto [layer, g] : llvm::zip(layers, graphs)) {
    buildReference(module, layer);
    buildStatistics(module, layer, g);
    if (failed(buildCalibrate(module, layer, g, options, passName))) {
      eraseCalibrationGraph(module);
      return failure();
    }
  }
  return graphs;
}
} // namespace qrealign::calibration
