//===- Import.cpp - Checkpoints to qrealign IR ----------------------------===//

#include "qrealign/Import/Import.h"
#include "qrealign/Dialect/QRealign/IR/QRealign.h"
#include "qrealign/Support/JSON.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"

#include <cmath>

using namespace llvm;
using namespace mlir;
using namespace mlir::qrealign;

namespace qrealign {
static Error fail(const Twine &msg) {
  return createStringError(inconvertibleErrorCode(), msg);
}

void registerImportDialects(DialectRegistry &registry) {
  registry.insert<QRealignDialect, func::FuncDialect>();
}

static std::string absolute(StringRef path) {
  SmallString<256> p(path);
  sys::fs::make_absolute(p);
  sys::path::remove_dots(p, /*remove_dot_dot=*/true);
  return std::string(p);
}

static std::string guessChatTemplate(const ModelConfig &c) {
  if (c.modelType == "qwen2")
    return "chatml";
  if (c.modelType == "llama2c")
    return "none";
  // Llama-3's vocabulary (and its <|eot_id|> = 128009 end of turn).
  if (c.vocabSize >= 128000 ||
      llvm::is_contained(c.eosTokenIds, int64_t(128009)))
    return "llama-3";
  return "llama-2";
}

Expected<ImportedModel> openModel(StringRef path,
                                  const ImportOptions &options) {
  ImportedModel m;
  if (sys::fs::is_directory(path)) {
    SmallString<256> cfg(path);
    sys::path::append(cfg, "config.json");
    if (!sys::fs::exists(cfg))
      return fail(path + ": not a Hugging Face model directory (no "
                         "config.json)");
    Expected<ModelConfig> config = parseHFConfig(cfg);
    if (!config)
      return config.takeError();
    m.config = std::move(*config);
    Expected<json::Value> json = readJSONFile(cfg, {}, "a config.json");
    if (!json)
      return json.takeError();
    if (const json::Object *obj = json->getAsObject()) {
      auto quantization = parseCompressedTensorsConfig(*obj, cfg);
      if (!quantization)
        return quantization.takeError();
      m.quantization = std::move(*quantization);
    }
    Expected<std::unique_ptr<Checkpoint>> ckpt = Checkpoint::open(path);
    if (!ckpt)
      return ckpt.takeError();
    m.checkpoint = std::move(*ckpt);
    m.checkpointPath = absolute(path);
    for (StringRef name : {"tokenizer.model", "tokenizer.json"}) {
      SmallString<256> tok(path);
      sys::path::append(tok, name);
      if (sys::fs::exists(tok)) {
        m.tokenizerPath = absolute(tok);
        break;
      }
    }
  } else {
    if (!sys::fs::exists(path))
      return fail(path + ": no such file or directory");
    if (!path.ends_with(".bin"))
      return fail(path + ": expected a Hugging Face model directory or a "
                         "llama2.c .bin checkpoint");
    Expected<std::unique_ptr<Checkpoint>> ckpt = Checkpoint::openLlama2C(path);
    if (!ckpt)
      return ckpt.takeError();
    m.checkpoint = std::move(*ckpt);
    m.config = getLlama2CModelConfig(*m.checkpoint->getLlama2CConfig());
    m.checkpointPath = absolute(path);
    // llama2.c's convention: tokenizer.bin, or tok<vocab>.bin, beside it.
    StringRef dir = sys::path::parent_path(path);
    for (std::string name : {std::string("tokenizer.bin"),
                             formatv("tok{0}.bin", m.config.vocabSize).str()}) {
      SmallString<256> tok(dir);
      sys::path::append(tok, name);
      if (sys::fs::exists(tok)) {
        m.tokenizerPath = absolute(tok);
        break;
      }
    }
  }
  if (!options.tokenizerPath.empty()) {
    if (!sys::fs::exists(options.tokenizerPath))
      return fail(options.tokenizerPath + ": no such tokenizer file");
    m.tokenizerPath = absolute(options.tokenizerPath);
  }
  m.chatTemplate = options.chatTemplate.empty() ? guessChatTemplate(m.config)
                                                : options.chatTemplate;
  m.irDirectory = options.irDirectory;
  return std::move(m);
}

std::vector<std::pair<std::string, SmallVector<int64_t, 4>>>
getExpectedTensors(const ModelConfig &c) {
  std::vector<std::pair<std::string, SmallVector<int64_t, 4>>> out;
  int64_t D = c.hiddenSize, F = c.intermediateSize, V = c.vocabSize;
  int64_t qd = c.numHeads * c.headDim, kvd = c.numKVHeads * c.headDim;
  out.push_back({"model.embed_tokens.weight", {V, D}});
  for (int64_t i = 0; i < c.numLayers; ++i) {
    std::string p = formatv("model.layers.{0}.", i).str();
    out.push_back({p + "input_layernorm.weight", {D}});
    out.push_back({p + "self_attn.q_proj.weight", {qd, D}});
    if (c.qkvBias)
      out.push_back({p + "self_attn.q_proj.bias", {qd}});
    out.push_back({p + "self_attn.k_proj.weight", {kvd, D}});
    if (c.qkvBias)
      out.push_back({p + "self_attn.k_proj.bias", {kvd}});
    out.push_back({p + "self_attn.v_proj.weight", {kvd, D}});
    if (c.qkvBias)
      out.push_back({p + "self_attn.v_proj.bias", {kvd}});
    out.push_back({p + "self_attn.o_proj.weight", {D, qd}});
    if (c.oBias)
      out.push_back({p + "self_attn.o_proj.bias", {D}});
    out.push_back({p + "post_attention_layernorm.weight", {D}});
    out.push_back({p + "mlp.gate_proj.weight", {F, D}});
    if (c.mlpBias)
      out.push_back({p + "mlp.gate_proj.bias", {F}});
    out.push_back({p + "mlp.up_proj.weight", {F, D}});
    if (c.mlpBias)
      out.push_back({p + "mlp.up_proj.bias", {F}});
    out.push_back({p + "mlp.down_proj.weight", {D, F}});
    if (c.mlpBias)
      out.push_back({p + "mlp.down_proj.bias", {D}});
  }
  out.push_back({"model.norm.weight", {D}});
  if (!c.tieWordEmbeddings)
    out.push_back({"lm_head.weight", {V, D}});
  return out;
}

static Type getElementType(MLIRContext &ctx, DType dtype) {
  switch (dtype) {
  case DType::F32:
    return Float32Type::get(&ctx);
  case DType::F16:
    return Float16Type::get(&ctx);
  case DType::BF16:
    return BFloat16Type::get(&ctx);
  default:
    return {};
  }
}

namespace {
/// A linear that a compressed-tensors config quantizes: its stored tensors
/// (levels, scale, zero point if any; in dequantize's operand order) and
/// the IR it imports to.
struct QuantizedLinear {
  std::vector<std::pair<std::string, RankedTensorType>> params;
  RankedTensorType weightType; // f32 [N, K]
  int64_t bits = 0;
  QuantSchemeAttr scheme;
};
} // namespace

/// Checks the stored tensors of every linear that `q` quantizes against the
/// weight shapes `c` implies, and records what the module declares.
static Error findQuantizedLinears(MLIRContext &ctx, const ModelConfig &c,
                                  const CompressedTensorsConfig &q,
                                  Checkpoint &ckpt,
                                  StringMap<QuantizedLinear> &out) {
  StringRef origin = ckpt.getPath();
  Builder b(&ctx);
  for (const auto &[name, shape] : getExpectedTensors(c)) {
    StringRef weight(name);
    if (!weight.ends_with("_proj.weight") && weight != "lm_head.weight")
      continue;
    StringRef module = weight.drop_back(strlen(".weight"));
    Expected<const CTGroup *> group = q.match(module);
    if (!group)
      return fail(origin +
                  ": quantization_config: " + toString(group.takeError()));
    if (!*group)
      continue;
    const CTScheme &s = (*group)->scheme;
    int64_t n = shape[0], k = shape[1];
    auto where = [&](const Twine &msg) {
      return fail(origin + ": " + module + " (config group '" + (*group)->name +
                  "'): " + msg);
    };
    if (s.groupSize && (s.groupSize < 8 || !isPowerOf2_64(s.groupSize)))
      return where(formatv("group_size {0} is not a power of two of at "
                           "least 8",
                           s.groupSize));
    if (s.groupSize && k % s.groupSize)
      return where(formatv("group_size {0} does not divide the {1} input "
                           "channels",
                           s.groupSize, k));
    bool words = q.format == kPackQuantized;
    int64_t perWord = 32 / s.weightBits;
    if (words && k % perWord)
      return where(formatv("{0} input channels do not fill whole words of "
                           "{1} levels",
                           k, perWord));
    int64_t groups = s.groupSize ? k / s.groupSize : 1;
    auto expect = [&](StringRef suffix, ArrayRef<DType> dtypes,
                      ArrayRef<int64_t> want) -> Expected<const TensorInfo *> {
      std::string tensor = (module + suffix).str();
      const TensorInfo *t = ckpt.lookup(tensor);
      if (!t)
        return where("missing tensor '" + tensor + "' (expected " +
                     formatShape(want) + ")");
      if (ArrayRef<int64_t>(t->shape) != want)
        return where("tensor '" + tensor + "' has shape " +
                     t->getShapeString() + "; expected " + formatShape(want));
      if (!llvm::is_contained(dtypes, t->dtype))
        return where("tensor '" + tensor + "' has dtype " +
                     getDTypeName(t->dtype) + "; expected " +
                     getDTypeName(dtypes[0]));
      return t;
    };
    QuantizedLinear ql;
    ql.bits = s.weightBits;
    ql.weightType = RankedTensorType::get({n, k}, b.getF32Type());
    SmallVector<int64_t, 2> levelsShape =
        words ? SmallVector<int64_t, 2>{n, k / perWord}
              : SmallVector<int64_t, 2>{n, k};
    Type levelsType = words ? b.getI32Type() : b.getI8Type();
    Expected<const TensorInfo *> levels =
        expect(words ? ".weight_packed" : ".weight",
               words ? DType::I32 : DType::I8, levelsShape);
    if (!levels)
      return levels.takeError();
    ql.params.push_back(
        {(*levels)->name, RankedTensorType::get(levelsShape, levelsType)});
    Expected<const TensorInfo *> scale = expect(
        ".weight_scale", {DType::F32, DType::F16, DType::BF16}, {n, groups});
    if (!scale)
      return scale.takeError();
    ql.params.push_back(
        {(*scale)->name,
         RankedTensorType::get({n, groups},
                               getElementType(ctx, (*scale)->dtype))});
    if (!s.weightSymmetric) {
      SmallVector<int64_t, 2> zpShape =
          words ? SmallVector<int64_t, 2>{(n + perWord - 1) / perWord, groups}
                : SmallVector<int64_t, 2>{n, groups};
      Expected<const TensorInfo *> zp =
          expect(".weight_zero_point", words ? DType::I32 : DType::I8, zpShape);
      if (!zp)
        return zp.takeError();
      ql.params.push_back(
          {(*zp)->name, RankedTensorType::get(zpShape, levelsType)});
    }
    if (words) {
      // weight_shape must say what the config implies.
      Expected<const TensorInfo *> ws =
          expect(".weight_shape", DType::I64, {2});
      if (!ws)
        return ws.takeError();
      Expected<ArrayRef<uint8_t>> data = ckpt.getData(**ws);
      if (!data)
        return data.takeError();
      int64_t dims[2];
      memcpy(dims, data->data(), sizeof(dims));
      if (dims[0] != n || dims[1] != k)
        return where(formatv("weight_shape is [{0}, {1}]; the model config "
                             "implies [{2}, {3}]",
                             dims[0], dims[1], n, k));
    }
    ql.scheme = QuantSchemeAttr::get(
        &ctx, s.weightBits, s.actBits ? s.actBits : 16,
        s.groupSize ? Granularity::PerGroup : Granularity::PerChannel,
        s.groupSize, s.weightSymmetric, ActQuantMode::Dynamic,
        s.actBits != 0 && s.actSymmetric);
    out[module] = std::move(ql);
  }
  Expected<const CTGroup *> head = q.match("lm_head");
  if (!head)
    return fail(origin +
                ": quantization_config: " + toString(head.takeError()));
  if (c.tieWordEmbeddings && *head)
    return fail(origin + ": quantization_config quantizes lm_head, whose "
                         "weight is the tied embedding table; qrealign "
                         "imports tied heads in floating point (add "
                         "\"lm_head\" to ignore)");
  return Error::success();
}

Expected<OwningOpRef<ModuleOp>> importModel(MLIRContext &ctx,
                                            const ImportedModel &model) {
  const ModelConfig &c = model.config;
  Checkpoint &ckpt = *model.checkpoint;
  StringRef origin = ckpt.getPath();
  ctx.loadDialect<QRealignDialect, func::FuncDialect>();

  // The linears a compressed-tensors config quantizes, with their tensors.
  StringMap<QuantizedLinear> quantized;
  if (model.quantization)
    if (Error err =
            findQuantizedLinears(ctx, c, *model.quantization, ckpt, quantized))
      return std::move(err);

  // The quantized linear whose weight `name` is, or null.
  auto quantizedWeight = [&](StringRef name) -> const QuantizedLinear * {
    auto it = quantized.find(name.rsplit('.').first);
    return name.ends_with(".weight") && it != quantized.end() ? &it->second
                                                              : nullptr;
  };

  // Check every tensor before building anything.
  StringMap<RankedTensorType> paramTypes;
  for (const auto &[name, shape] : getExpectedTensors(c)) {
    if (const QuantizedLinear *ql = quantizedWeight(name)) {
      for (const auto &[tensor, type] : ql->params)
        paramTypes[tensor] = type;
      continue;
    }
    const TensorInfo *t = ckpt.lookup(name);
    if (!t)
      return fail(origin + ": missing tensor '" + name + "' (expected " +
                  formatShape(shape) + " from the model config)");
    if (ArrayRef<int64_t>(t->shape) != ArrayRef<int64_t>(shape))
      return fail(origin + ": tensor '" + name + "' has shape " +
                  t->getShapeString() + " but the model config implies " +
                  formatShape(shape));
    Type elt = getElementType(ctx, t->dtype);
    if (!elt)
      return fail(origin + ": tensor '" + name + "' has dtype " +
                  getDTypeName(t->dtype) +
                  "; weights must be F32, F16 or BF16");
    paramTypes[name] = RankedTensorType::get(shape, elt);
  }

  // Paths relative to the IR's directory (absolute without one).
  ParamEnvironment env;
  env.outputDir = model.irDirectory;
  // Locations name what they come from in the checkpoint, without the
  // checkpoint's (absolute) path: IR and weights move together.
  Location unknown = UnknownLoc::get(&ctx);
  auto named = [&](const Twine &name) -> Location {
    return NameLoc::get(StringAttr::get(&ctx, name), unknown);
  };
  StringRef scope = QRealignDialect::getModelScope();
  OwningOpRef<ModuleOp> module =
      ModuleOp::create(named(sys::path::filename(origin)));
  Builder attrs(&ctx);
  auto setAttr = [&](StringRef name, Attribute value) {
    (*module)->setAttr(name, value);
  };
  setAttr(
      QRealignDialect::getParamsAttrName(),
      attrs.getDictionaryAttr(attrs.getNamedAttr(
          scope, attrs.getStringAttr(env.recordedPath(model.checkpointPath)))));
  setAttr("qrealign.model_type", attrs.getStringAttr(c.modelType));
  if (!model.tokenizerPath.empty())
    setAttr("qrealign.tokenizer",
            attrs.getStringAttr(env.recordedPath(model.tokenizerPath)));
  setAttr("qrealign.chat_template", attrs.getStringAttr(model.chatTemplate));
  if (c.bosTokenId >= 0)
    setAttr("qrealign.bos_token_id", attrs.getI64IntegerAttr(c.bosTokenId));
  if (!c.eosTokenIds.empty())
    setAttr("qrealign.eos_token_ids", attrs.getI64ArrayAttr(c.eosTokenIds));
  if (c.maxPositions > 0)
    setAttr("qrealign.max_positions", attrs.getI64IntegerAttr(c.maxPositions));
  if (c.slidingWindow > 0)
    setAttr("qrealign.sliding_window",
            attrs.getI64IntegerAttr(c.slidingWindow));

  OpBuilder b = OpBuilder::atBlockEnd(module->getBody());
  for (const auto &[name, shape] : getExpectedTensors(c)) {
    if (const QuantizedLinear *ql = quantizedWeight(name)) {
      for (const auto &[tensor, type] : ql->params)
        ParamOp::create(b, named(tensor), tensor, type,
                        ExternalAttr::get(&ctx, scope, tensor));
      continue;
    }
    ParamOp::create(b, named(name), name, paramTypes[name],
                    ExternalAttr::get(&ctx, scope, name));
  }
  Location loc = named("model");

  Type f32 = b.getF32Type();
  int64_t D = c.hiddenSize, V = c.vocabSize;
  auto act = [&](int64_t width) {
    return RankedTensorType::get(
        {ShapedType::kDynamic, ShapedType::kDynamic, width}, f32);
  };
  auto i64x2 = RankedTensorType::get(
      {ShapedType::kDynamic, ShapedType::kDynamic}, b.getI64Type());
  auto i1x2 = RankedTensorType::get(
      {ShapedType::kDynamic, ShapedType::kDynamic}, b.getI1Type());
  auto fnType = b.getFunctionType({i64x2, i64x2, i1x2}, {act(V)});
  auto func = func::FuncOp::create(b, loc, "forward", fnType);
  Block *entry = func.addEntryBlock();
  b.setInsertionPointToEnd(entry);
  Value ids = entry->getArgument(0), pos = entry->getArgument(1),
        mask = entry->getArgument(2);

  auto getParam = [&](StringRef name) -> Value {
    return GetParamOp::create(b, named(name), paramTypes[name], name);
  };
  // The weight of a quantized linear: its stored levels dequantized.
  auto dequantized = [&](StringRef moduleName,
                         const QuantizedLinear &ql) -> Value {
    SmallVector<Value> stored;
    for (const auto &[tensor, type] : ql.params)
      stored.push_back(getParam(tensor));
    return DequantizeOp::create(
        b, named(moduleName), ql.weightType, stored[0], stored[1],
        stored.size() > 2 ? stored[2] : Value(), ql.bits);
  };
  Value embed = getParam("model.embed_tokens.weight");
  Value h =
      EmbeddingOp::create(b, named("model.embed_tokens"), act(D), ids, embed);
  RopeStyle style =
      c.ropeInterleaved ? RopeStyle::Interleaved : RopeStyle::RotateHalf;
  APFloat eps(c.rmsNormEps), theta(c.ropeTheta),
      scale(1.0 / std::sqrt(double(c.headDim)));
  int64_t qd = c.numHeads * c.headDim, kvd = c.numKVHeads * c.headDim;

  for (int64_t i = 0; i < c.numLayers; ++i) {
    std::string p = formatv("model.layers.{0}.", i).str();
    Location layerLoc = named(formatv("model.layers.{0}", i));
    auto layer = LayerOp::create(
        b, layerLoc, act(D), i, ValueRange{h, pos, mask}, SafetyBoundaryAttr());
    Block *body = b.createBlock(&layer.getBody(), {}, {act(D), i64x2, i1x2},
                                {layerLoc, layerLoc, layerLoc});
    Value x = body->getArgument(0), lpos = body->getArgument(1),
          lmask = body->getArgument(2);
    auto linear = [&](StringRef role, StringRef param, Value in, int64_t out,
                      bool bias, StringRef fusion = "") -> Value {
      std::string moduleName = p + param.str();
      auto q = quantized.find(moduleName);
      if (q != quantized.end()) {
        Value bv = bias ? getParam(moduleName + ".bias") : Value();
        return LinearOp::create(
            b, named(moduleName), act(out), role, in,
            dequantized(moduleName, q->second), bv, q->second.scheme,
            fusion.empty() ? StringAttr() : b.getStringAttr(fusion));
      }
      Value w = getParam(p + param.str() + ".weight");
      Value bv = bias ? getParam(p + param.str() + ".bias") : Value();
      return LinearOp::create(
          b, named(p + param), act(out), role, in, w, bv, QuantSchemeAttr(),
          fusion.empty() ? StringAttr() : b.getStringAttr(fusion));
    };
    Location attnLoc = named(p + "self_attn");
    Value n1 = RMSNormOp::create(b, named(p + "input_layernorm"), act(D), x,
                                 getParam(p + "input_layernorm.weight"), eps);
    Value q = linear("q_proj", "self_attn.q_proj", n1, qd, c.qkvBias, "qkv");
    Value k = linear("k_proj", "self_attn.k_proj", n1, kvd, c.qkvBias, "qkv");
    Value v = linear("v_proj", "self_attn.v_proj", n1, kvd, c.qkvBias, "qkv");
    Value qr =
        RopeOp::create(b, attnLoc, act(qd), style, q, lpos, c.headDim, theta);
    Value kr =
        RopeOp::create(b, attnLoc, act(kvd), style, k, lpos, c.headDim, theta);
    Value attn =
        AttentionOp::create(b, attnLoc, act(qd), qr, kr, v, lmask, c.numHeads,
                            c.numKVHeads, c.headDim, scale, /*causal=*/true);
    Value o = linear("o_proj", "self_attn.o_proj", attn, D, c.oBias);
    Value r1 = AddOp::create(b, layerLoc, x, o);
    Value n2 =
        RMSNormOp::create(b, named(p + "post_attention_layernorm"), act(D), r1,
                          getParam(p + "post_attention_layernorm.weight"), eps);
    Value gate = linear("gate_proj", "mlp.gate_proj", n2, c.intermediateSize,
                        c.mlpBias, "gate_up");
    Value up = linear("up_proj", "mlp.up_proj", n2, c.intermediateSize,
                      c.mlpBias, "gate_up");
    Value swi = SwiGLUOp::create(b, named(p + "mlp"), gate, up);
    Value down = linear("down_proj", "mlp.down_proj", swi, D, c.mlpBias);
    Value r2 = AddOp::create(b, layerLoc, r1, down);
    YieldOp::create(b, layerLoc, r2);
    b.setInsertionPointAfter(layer);
    h = layer.getResult();
  }
  Value norm = RMSNormOp::create(b, named("model.norm"), act(D), h,
                                 getParam("model.norm.weight"), eps);
  auto qHead = quantized.find("lm_head");
  bool headQuantized = qHead != quantized.end();
  Value head = c.tieWordEmbeddings ? embed
               : headQuantized     ? dequantized("lm_head", qHead->second)
                                   : getParam("lm_head.weight");
  Value logits = LinearOp::create(
      b, named("lm_head"), act(V), "lm_head", norm, head, Value(),
      headQuantized ? qHead->second.scheme : QuantSchemeAttr(), StringAttr());
  func::ReturnOp::create(b, loc, logits);

  // ModelConfig::validate checks what the verifier checks, so this is an
  // importer bug if it fires; report the verifier's first message on one
  // line.
  std::string firstError;
  {
    ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &d) {
      if (firstError.empty() && d.getSeverity() == DiagnosticSeverity::Error)
        firstError = d.str();
      return success();
    });
    if (failed(verify(*module)))
      return fail(origin + ": the imported module does not verify (" +
                  firstError + "); this is a qrealign-import bug");
  }
  return std::move(module);
}
} // namespace qrealign
