//===- Calibrate.cpp - Layer-wise calibration over the engine -------------===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Calibration/Calibrate.h"
#include "qrealign/Checkpoint/Checkpoint.h"
#include "qrealign/Data/Datasets.h"
#include "qrealign/Dialect/QRealign/Transforms/ParamData.h"
#include "qrealign/Engine/Engine.h"
#include "qrealign/Engine/Program.h"
#include "qrealign/Session/ModelSession.h"
#include "qrealign/Support/Progress.h"
#include "qrealign/Tokenizer/Tokenizer.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/xxhash.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <random>

using namespace mlir;
using namespace mlir::qrealign;

namespace qrealign::calibration {
namespace {
/// Clipping logit whose sigmoid is exactly 1.0f (round to nearest).
constexpr float kNoClipLogit = 30.0f;

struct Prompt {
  std::vector<int64_t> ids;
  int label = 0; // 1 malicious, 0 benign
};

/// Per-prompt residual streams: prompt i's rows (len_i x D floats).
using Streams = std::vector<std::vector<float>>;

qr_tensor hostTensor(int32_t dtype, std::initializer_list<int64_t> shape,
                     const void *data) {
  qr_tensor t{};
  t.dtype = dtype;
  t.rank = shape.size();
  int r = 0;
  for (int64_t d : shape)
    t.shape[r++] = d;
  t.data = const_cast<void *>(data);
  return t;
}

/// One batch of prompts, left-padded to its longest (the engine's
/// convention), with every input a calibration function takes.
struct Batch {
  std::vector<size_t> members;
  int64_t B = 0, S = 0, D = 0;
  std::vector<int64_t> ids, pos, index;
  std::vector<uint8_t> mask;
  std::vector<float> x, target, targetWeight, probeWeight, anchor, anchorWeight;

  int64_t pad(size_t b, const std::vector<Prompt> &prompts) const {
    return S - int64_t(prompts[members[b]].ids.size());
  }
  /// Rows of `streams` for the members, in [B, S, D] with zero padding.
  std::vector<float> gather(const Streams &streams,
                            const std::vector<Prompt> &prompts) const {
    std::vector<float> out(B * S * D, 0.0f);
    for (size_t b = 0; b < members.size(); ++b) {
      const std::vector<float> &rows = streams[members[b]];
      std::memcpy(out.data() + (b * S + pad(b, prompts)) * D, rows.data(),
                  rows.size() * sizeof(float));
    }
    return out;
  }
  /// The members' rows of a [B, S, D] result.
  void scatter(const std::vector<float> &out, Streams &streams,
               const std::vector<Prompt> &prompts) const {
    for (size_t b = 0; b < members.size(); ++b) {
      size_t len = prompts[members[b]].ids.size();
      const float *from = out.data() + (b * S + pad(b, prompts)) * D;
      streams[members[b]].assign(from, from + len * D);
    }
  }
};

class Driver {
public:
  Driver(ModuleOp module, const CalibrationOptions &o, StringRef pass)
      : module(module), o(o), pass(pass.str()) {}
  LogicalResult run(std::vector<LayerResult> *results);

private:
  InFlightDiagnostic error() {
    InFlightDiagnostic d = module.emitError(pass);
    d << ": ";
    return d;
  }
  LogicalResult fail(llvm::Error err) {
    std::string msg = llvm::toString(std::move(err));
    return error() << msg;
  }
  LogicalResult checkOptions();
  LogicalResult loadPrompts(const ModelInfo &info);
  LogicalResult captureAnchors();
  FailureOr<std::unique_ptr<Program>> lower(StringRef function);
  FailureOr<std::unique_ptr<Engine>> createEngine(const Program &program);
  Batch makeBatch(std::vector<size_t> members, const LayerGraph &g) const;
  std::vector<std::vector<size_t>> inOrder() const;
  std::vector<qr_tensor> calibrateInputs(Batch &b) const;
  FailureOr<double> evalLoss(Engine &engine, const LayerGraph &g, Streams *out);
  LogicalResult resetToRTN(const LayerGraph &g);
  LogicalResult initSmoothing(const LayerGraph &g);
  LogicalResult runOverPrompts(llvm::StringRef function, const LayerGraph &g,
                               const Streams *input, Streams &output);
  LogicalResult runOverPrompts(
      llvm::StringRef function, const LayerGraph &g, const Streams *input,
      llvm::ArrayRef<int64_t> widths,
      llvm::function_ref<void(const Batch &, std::vector<std::vector<float>> &)>
          consume);
  LogicalResult calibrateLayer(const LayerGraph &g, LayerResult &r);
  std::string checkpointPath() const;
  LogicalResult saveCheckpoint(size_t nextLayer,
                               const std::vector<LayerResult> &done);
  FailureOr<size_t> loadCheckpoint(std::vector<LayerResult> &done);
  LogicalResult finish(const std::vector<LayerResult> &done);

  ModuleOp module;
  const CalibrationOptions &o;
  std::string pass;
  OwningOpRef<ModuleOp> work; // the module with its calibration graph
  std::vector<LayerGraph> graphs;
  std::vector<Prompt> prompts;
  int64_t numBenign = 0, numMalicious = 0;
  std::string digest;
  std::string device;
  int64_t D = 0;
  Streams xq, xfp;                         // inputs of the current layer
  std::vector<std::vector<float>> anchors; // [layer][prompt * D]
  std::vector<std::string> order;          // learned tensors, in order
  llvm::StringMap<std::vector<float>> learned;
};
} // namespace

LogicalResult Driver::checkOptions() {
  if (o.batchSize < 1)
    return error() << "batch-size must be >= 1";
  if (o.epochs.empty() || o.epochs.size() > 2 ||
      llvm::any_of(o.epochs, [](int e) { return e < 0; }))
    return error() << "epochs takes one count (every layer) or two (the "
                      "first half of the layers, then the rest), each >= 0";
  if (o.maxTokens < 2)
    return error() << "max-tokens must be >= 2";
  for (double lr : {o.clipLr, o.smoothLr})
    if (!(lr >= 0) || !std::isfinite(lr))
      return error() << "learning rates must be finite and >= 0";
  if (!(o.smoothAlpha >= 0 && o.smoothAlpha <= 1))
    return error() << "smooth-alpha must be in [0, 1]";
  if (!std::isfinite(o.graph.margin) ||
      !std::isfinite(o.graph.anchorCoefficient) ||
      !std::isfinite(o.graph.probeCoefficient))
    return error() << "margin and coefficients must be finite";
  if (o.dataPath.empty())
    return error() << "set data=FILE, the labelled calibration prompts "
                      "(JSONL with \"prompt\" and \"label\": 1 malicious, "
                      "0 benign)";
  if (o.file.empty())
    return error() << "set file=PATH, the safetensors file for the learned "
                      "tensors";
  if (o.stopAfter < 0 || (o.stopAfter > 0 && o.checkpointDir.empty()))
    return error() << "stop-after needs a count >= 0 and checkpoint=DIR "
                      "to resume from";
  if (usesAnchor(o.graph.objective) && o.basePath.empty())
    return error() << "objective '" << getObjectiveName(o.graph.objective)
                   << "' anchors to the aligned base model: set base=PATH "
                      "(IR, HF directory or llama2.c .bin)";
  return checkNewScope(module, pass, o.scope);
}

LogicalResult Driver::loadPrompts(const ModelInfo &info) {
  llvm::Expected<std::vector<data::Example>> examples =
      data::readExamples(o.dataPath);
  if (!examples)
    return fail(examples.takeError());
  for (const data::Example &e : *examples) {
    if (e.label != 0 && e.label != 1)
      return error() << o.dataPath << ": every prompt needs \"label\" 0 "
                     << "(benign) or 1 (malicious); got " << e.label;
    (e.label ? numMalicious : numBenign)++;
  }
  if (examples->empty())
    return error() << o.dataPath << ": no calibration prompts";
  if (usesProbes(o.graph.objective) && (!numBenign || !numMalicious))
    return error() << o.dataPath << ": objective '"
                   << getObjectiveName(o.graph.objective)
                   << "' needs benign and malicious prompts; the file has "
                   << numBenign << " benign and " << numMalicious
                   << " malicious";
  if (info.tokenizerPath.empty())
    return error() << "the model names no tokenizer (qrealign.tokenizer)";
  llvm::Expected<std::unique_ptr<Tokenizer>> tok =
      Tokenizer::load(info.tokenizerPath);
  if (!tok)
    return fail(tok.takeError());
  std::string templ =
      o.chatTemplate.empty() ? info.chatTemplate : o.chatTemplate;
  int64_t bos = info.bosTokenId >= 0 ? info.bosTokenId : (*tok)->getBosId();
  for (const data::Example &e : *examples) {
    llvm::Expected<std::vector<int64_t>> ids =
        encodeChatTurn(**tok, templ, bos, o.system, e.prompt);
    if (!ids)
      return fail(ids.takeError());
    if (ids->empty())
      return error() << o.dataPath << ": a prompt renders to no tokens";
    // Keep the end: the probed token is the end of the generation prompt.
    if (int64_t(ids->size()) > o.maxTokens)
      ids->erase(ids->begin(), ids->end() - o.maxTokens);
    prompts.push_back({std::move(*ids), e.label});
  }
  return success();
}

FailureOr<std::unique_ptr<Program>> Driver::lower(StringRef function) {
  const ParamEnvironment &env = module.getContext()
                                    ->getOrLoadDialect<QRealignDialect>()
                                    ->getParamEnvironment();
  return lowerToProgram(*work, env, function);
}

FailureOr<std::unique_ptr<Engine>> Driver::createEngine(const Program &p) {
  EngineOptions eo;
  eo.numThreads = o.numThreads;
  eo.executablePath = o.executablePath;
  eo.device = device;
  if (device == "auto") {
    eo.device = "cuda";
    llvm::Expected<std::unique_ptr<Engine>> cuda = Engine::create(p, eo);
    if (cuda) {
      device = "cuda";
      return std::move(*cuda);
    }
    llvm::consumeError(cuda.takeError());
    eo.device = device = "cpu";
  }
  llvm::Expected<std::unique_ptr<Engine>> engine = Engine::create(p, eo);
  if (!engine)
    return fail(engine.takeError());
  return std::move(*engine);
}

LogicalResult Driver::captureAnchors() {
  anchors.assign(graphs.size(), {});
  if (!usesAnchor(o.graph.objective))
    return success();
  for (const LayerGraph &g : graphs)
    if (g.position != graphs.front().position)
      return error() << "the anchor reads every layer at one position; the "
                        "boundaries read different ones";
  SessionOptions so;
  so.loadTokenizer = false;
  so.multithreaded = false;
  so.toolName = pass;
  llvm::Expected<std::unique_ptr<ModelSession>> base =
      ModelSession::open(o.basePath, so);
  if (!base)
    return error() << "base=" << o.basePath << ": "
                   << llvm::toString(base.takeError());
  const qr_program &bp = (*base)->getProgram().get();
  if (bp.num_layers != int32_t(graphs.size()) || bp.hidden_size != D)
    return error() << "base=" << o.basePath << " has " << bp.num_layers
                   << " layers of width " << bp.hidden_size
                   << "; the model has " << graphs.size() << " of width " << D;
  FailureOr<std::unique_ptr<Engine>> engine =
      createEngine((*base)->getProgram());
  if (failed(engine))
    return failure();
  std::vector<int32_t> layers;
  for (const LayerGraph &g : graphs)
    layers.push_back(g.index);
  for (auto &a : anchors)
    a.assign(prompts.size() * D, 0.0f);
  Progress progress("calibrate: base states", prompts.size());
  for (const std::vector<size_t> &chunk : inOrder()) {
    std::vector<std::vector<int64_t>> batch;
    for (size_t i : chunk)
      batch.push_back(prompts[i].ids);
    std::vector<int32_t> positions(chunk.size(),
                                   int32_t(graphs.front().position));
    auto states = (*engine)->capture(batch, layers, positions);
    if (!states)
      return fail(states.takeError());
    for (auto [b, i] : llvm::enumerate(chunk))
      for (size_t l = 0; l < graphs.size(); ++l)
        std::memcpy(anchors[l].data() + i * D, (*states)[b][l].data(),
                    D * sizeof(float));
    if (o.progress)
      progress.update(chunk.back() + 1);
  }
  if (o.progress)
    progress.finish();
  return success();
}

std::vector<std::vector<size_t>> Driver::inOrder() const {
  std::vector<std::vector<size_t>> out;
  for (size_t i = 0; i < prompts.size(); i += o.batchSize) {
    out.emplace_back();
    for (size_t j = i; j < std::min(prompts.size(), i + o.batchSize); ++j)
      out.back().push_back(j);
  }
  return out;
}

Batch Driver::makeBatch(std::vector<size_t> members,
                        const LayerGraph &g) const {
  Batch b;
  b.members = std::move(members);
  b.B = b.members.size();
  b.D = D;
  for (size_t i : b.members)
    b.S = std::max<int64_t>(b.S, prompts[i].ids.size());
  b.ids.assign(b.B * b.S, 0);
  b.pos.assign(b.B * b.S, 0);
  b.mask.assign(b.B * b.S, 0);
  b.targetWeight.assign(b.B * b.S, 0.0f);
  b.index.assign(b.B, 0);
  b.probeWeight.assign(b.B, 0.0f);
  b.anchorWeight.assign(b.B, 0.0f);
  b.anchor.assign(b.B * D, 0.0f);
  bool reconAll = !usesProbes(o.graph.objective);
  for (size_t r = 0; r < b.members.size(); ++r) {
    const Prompt &p = prompts[b.members[r]];
    int64_t len = p.ids.size(), pad = b.S - len;
    for (int64_t j = 0; j < len; ++j) {
      b.ids[r * b.S + pad + j] = p.ids[j];
      b.pos[r * b.S + pad + j] = j;
      b.mask[r * b.S + pad + j] = 1;
      // The released loss per sample, averaged over the batch: the mean
      // over a benign prompt's real tokens (not its padding).
      if (reconAll || p.label == 0)
        b.targetWeight[r * b.S + pad + j] = 1.0f / float(b.B * len);
    }
    int64_t at = g.position < 0 ? len + g.position : g.position;
    b.index[r] = pad + std::clamp<int64_t>(at, 0, len - 1);
    if (p.label == 1 && !reconAll) {
      b.probeWeight[r] = 1.0f / float(b.B);
      if (!anchors.empty() && !anchors[0].empty()) {
        b.anchorWeight[r] = 1.0f / float(b.B);
        size_t l = &g - graphs.data();
        std::memcpy(b.anchor.data() + r * D,
                    anchors[l].data() + b.members[r] * D, D * sizeof(float));
      }
    }
  }
  return b;
}

std::vector<qr_tensor> Driver::calibrateInputs(Batch &b) const {
  return {hostTensor(QR_DTYPE_F32, {b.B, b.S, D}, b.x.data()),
          hostTensor(QR_DTYPE_I64, {b.B, b.S}, b.pos.data()),
          hostTensor(QR_DTYPE_BOOL, {b.B, b.S}, b.mask.data()),
          hostTensor(QR_DTYPE_F32, {b.B, b.S, D}, b.target.data()),
          hostTensor(QR_DTYPE_F32, {b.B, b.S}, b.targetWeight.data()),
          hostTensor(QR_DTYPE_I64, {b.B}, b.index.data()),
          hostTensor(QR_DTYPE_F32, {b.B}, b.probeWeight.data()),
          hostTensor(QR_DTYPE_F32, {b.B, D}, b.anchor.data()),
          hostTensor(QR_DTYPE_F32, {b.B}, b.anchorWeight.data())};
}

/// The objective over every prompt (batches in order, weights as in
/// training, so the value is the mean per-batch loss), and, when `out` is
/// given, the layer's outputs on the quantized stream.
FailureOr<double> Driver::evalLoss(Engine &engine, const LayerGraph &g,
                                   Streams *out) {
  double sum = 0;
  std::vector<std::vector<size_t>> chunks = inOrder();
  for (const std::vector<size_t> &chunk : chunks) {
    Batch b = makeBatch(chunk, g);
    b.x = b.gather(xq, prompts);
    b.target = b.gather(xfp, prompts);
    std::vector<qr_tensor> in = calibrateInputs(b);
    float loss = 0;
    std::vector<float> y(b.B * b.S * D);
    qr_tensor outs[2] = {hostTensor(QR_DTYPE_F32, {}, &loss),
                         hostTensor(QR_DTYPE_F32, {b.B, b.S, D}, y.data())};
    if (llvm::Error err = engine.call(in, outs))
      return fail(std::move(err));
    sum += loss;
    if (out)
      b.scatter(y, *out, prompts);
  }
  return sum / double(chunks.size());
}

/// Runs `function`, of (hidden, positions, mask) or, for the embedding,
/// (ids, positions, mask) (`input` null), with results [B, S, widths[i]],
/// over every prompt in order, and hands each batch's results to `consume`.
LogicalResult Driver::runOverPrompts(
    StringRef function, const LayerGraph &g, const Streams *input,
    ArrayRef<int64_t> widths,
    llvm::function_ref<void(const Batch &, std::vector<std::vector<float>> &)>
        consume) {
  FailureOr<std::unique_ptr<Program>> program = lower(function);
  if (failed(program))
    return failure();
  FailureOr<std::unique_ptr<Engine>> engine = createEngine(**program);
  if (failed(engine))
    return failure();
  for (const std::vector<size_t> &chunk : inOrder()) {
    Batch b = makeBatch(chunk, g);
    if (input)
      b.x = b.gather(*input, prompts);
    qr_tensor in[3] = {input
                           ? hostTensor(QR_DTYPE_F32, {b.B, b.S, D}, b.x.data())
                           : hostTensor(QR_DTYPE_I64, {b.B, b.S}, b.ids.data()),
                       hostTensor(QR_DTYPE_I64, {b.B, b.S}, b.pos.data()),
                       hostTensor(QR_DTYPE_BOOL, {b.B, b.S}, b.mask.data())};
    std::vector<std::vector<float>> y(widths.size());
    std::vector<qr_tensor> out;
    for (auto [i, width] : llvm::enumerate(widths)) {
      y[i].resize(b.B * b.S * width);
      out.push_back(hostTensor(QR_DTYPE_F32, {b.B, b.S, width}, y[i].data()));
    }
    if (llvm::Error err = (*engine)->call(in, out))
      return fail(std::move(err));
    consume(b, y);
  }
  return success();
}

LogicalResult Driver::runOverPrompts(StringRef function, const LayerGraph &g,
                                     const Streams *input, Streams &output) {
  return runOverPrompts(
      function, g, input, {D},
      [&](const Batch &b, std::vector<std::vector<float>> &y) {
        b.scatter(y.front(), output, prompts);
      });
}

/// Sets the layer's trainable tensors, in the working module, to round to
/// nearest: clipping factors 1, smoothing the identity.
LogicalResult Driver::resetToRTN(const LayerGraph &g) {
  SymbolTable symbols(*work);
  for (const auto &[list, value] :
       {std::pair{&g.clip, kNoClipLogit}, std::pair{&g.smooth, 1.0f}})
    for (const std::string &name : *list) {
      auto param = symbols.lookup<ParamOp>(name);
      RankedTensorType type = param.getTensorType();
      if (!type.getElementType().isF32())
        return param.emitError(pass)
               << ": learned tensors must be f32, this one is " << type;
      param.setInitialValueAttr(DenseElementsAttr::get(
          type, FloatAttr::get(type.getElementType(), value)));
    }
  return success();
}

/// Sets the layer's smoothing scales, in the working module, SmoothQuant's
/// way: s_k = c max|x_k|^alpha / max|W[:, k]|^(1 - alpha), with x the
/// shared input edge of the scale over every real token of the calibration
/// set (the full-precision stream through @qrealign_statistics_N), W the
/// consumers' weights, stacked, and c making the scales' geometric mean 1.
/// A channel with no signal starts at c.
LogicalResult Driver::initSmoothing(const LayerGraph &g) {
  if (g.statistics.empty())
    return success();
  std::string function = getStatisticsFunctionName(g.index);
  auto fn = work->lookupSymbol<mlir::func::FuncOp>(function);
  std::vector<int64_t> width;
  for (Type t : fn.getResultTypes()) {
    auto tt = cast<RankedTensorType>(t);
    if (tt.getRank() != 3 || tt.isDynamicDim(2))
      return fn.emitError(pass) << ": a smoothed edge must be [B, S, K] "
                                << "with a static K, not " << t;
    width.push_back(tt.getDimSize(2));
  }
  size_t n = width.size();
  std::vector<std::vector<float>> xmax(n), wmax(n);
  for (size_t i = 0; i < n; ++i)
    xmax[i].assign(width[i], 0.0f);
  auto absMax = [&](const Batch &b, std::vector<std::vector<float>> &y) {
    for (size_t i = 0; i < n; ++i)
      for (int64_t m = 0; m < int64_t(b.members.size()); ++m)
        for (int64_t t = b.pad(m, prompts); t < b.S; ++t) {
          const float *row = y[i].data() + (m * b.S + t) * width[i];
          for (int64_t k = 0; k < width[i]; ++k)
            xmax[i][k] = std::max(xmax[i][k], std::fabs(row[k]));
        }
  };
  if (failed(runOverPrompts(function, g, &xfp, width, absMax)))
    return failure();
  SymbolTable symbols(*work);
  ParamReader reader(*work, pass);
  for (size_t i = 0; i < n; ++i) {
    const LayerGraph::Statistic &stat = g.statistics[i];
    int64_t K = width[i];
    wmax[i].assign(K, 0.0f);
    for (const std::string &w : stat.weights) {
      auto param = symbols.lookup<ParamOp>(w);
      RankedTensorType type = param ? param.getTensorType() : nullptr;
      if (!type || type.getRank() != 2 || type.getDimSize(1) != K)
        return fn.emitError(pass) << ": the smoothed weight @" << w
                                  << " is not a [N, " << K << "] parameter";
      FailureOr<std::vector<float>> v = reader.readFloats(param);
      if (failed(v))
        return failure();
      for (size_t e = 0; e < v->size(); ++e)
        wmax[i][e % K] = std::max(wmax[i][e % K], std::fabs((*v)[e]));
    }
    std::vector<float> scale(K, 1.0f);
    for (int64_t k = 0; k < K; ++k) {
      double s = std::pow(double(xmax[i][k]), o.smoothAlpha) /
                 std::pow(double(wmax[i][k]), 1.0 - o.smoothAlpha);
      if (xmax[i][k] > 0 && wmax[i][k] > 0 && std::isfinite(s))
        scale[k] = float(std::max(s, 1e-5));
    }
    // Divided by their geometric mean: the quantizers are blind to a common
    // factor (min-max ranges scale with it), but AdamW's steps are
    // absolute, and at a mean of 1 they are as large, relative to the
    // scales, as from the identity.
    double logSum = 0;
    for (float v : scale)
      logSum += std::log(double(v));
    double mean = std::exp(logSum / double(K));
    for (float &v : scale)
      v = float(double(v) / mean);
    auto param = symbols.lookup<ParamOp>(stat.scale);
    RankedTensorType type = param.getTensorType();
    if (!type.getElementType().isF32() || type.getNumElements() != K)
      return param.emitError(pass)
             << ": a smoothing scale of " << K << " channels must be f32 with "
             << K << " elements, not " << type;
    param.setInitialValueAttr(
        DenseElementsAttr::get(type, llvm::ArrayRef<float>(scale)));
  }
  return success();
}

LogicalResult Driver::calibrateLayer(const LayerGraph &g, LayerResult &r) {
  auto start = std::chrono::steady_clock::now();
  r.layer = g.index;
  size_t l = &g - graphs.data();
  int epochs = o.epochs.size() == 1 || int64_t(l) <= int64_t(graphs.size()) / 2
                   ? o.epochs.front()
                   : o.epochs.back();
  bool learn = o.graph.objective != Objective::RTN && epochs > 0;
  // Nothing learned is round to nearest; learning starts with the
  // smoothing scales from the full-precision input's statistics.
  if (failed(!learn              ? resetToRTN(g)
             : o.smoothQuantInit ? initSmoothing(g)
                                 : success()))
    return failure();
  // Full-precision targets from the full-precision stream.
  Streams yfp(prompts.size());
  if (failed(runOverPrompts(getReferenceFunctionName(g.index), g, &xfp, yfp)))
    return failure();
  // From here on `xfp` holds the layer's targets (and, after it, the next
  // layer's full-precision input).
  xfp = std::move(yfp);

  std::string function = getCalibrateFunctionName(g.index);
  r.steps = 0;
  for (int attempt = 0; attempt < 2; ++attempt) {
    FailureOr<std::unique_ptr<Program>> program = lower(function);
    if (failed(program))
      return failure();
    FailureOr<std::unique_ptr<Engine>> engine = createEngine(**program);
    if (failed(engine))
      return failure();
    FailureOr<double> initial = evalLoss(**engine, g, nullptr);
    if (failed(initial))
      return failure();
    r.initialLoss = *initial;
    const qr_program &p = (*program)->get();
    std::vector<int> trainable;
    llvm::StringSet<> clips;
    for (const std::string &c : g.clip)
      clips.insert(c);
    TrainOptions to;
    to.trainableOnly = true;
    to.gradClip = 0;
    to.seed = o.seed;
    for (int i = 0; i < p.num_params; ++i)
      if (p.params[i].flags & QR_PARAM_TRAINABLE) {
        trainable.push_back(i);
        to.lrScales.push_back(clips.contains(p.params[i].name) ? o.clipLr
                                                               : o.smoothLr);
      }
    bool diverged = false;
    std::string why;
    if (learn && attempt == 0) {
      auto trainStart = std::chrono::steady_clock::now();
      if (llvm::Error err = (*engine)->trainBegin(to))
        return fail(std::move(err));
      size_t perEpoch = (prompts.size() + o.batchSize - 1) / o.batchSize;
      Progress progress(
          llvm::formatv("calibrate: layer {0}/{1}", l + 1, graphs.size()).str(),
          perEpoch * epochs);
      std::vector<size_t> perm(prompts.size());
      double last = 0;
      for (int e = 0; e < epochs && !diverged; ++e) {
        for (size_t i = 0; i < perm.size(); ++i)
          perm[i] = i;
        std::mt19937_64 rng(o.seed * 0x9E3779B97F4A7C15ull + l * 1000003ull +
                            uint64_t(e));
        std::shuffle(perm.begin(), perm.end(), rng);
        for (size_t s = 0; s < perm.size(); s += o.batchSize) {
          std::vector<size_t> members(
              perm.begin() + s,
              perm.begin() + std::min(perm.size(), s + o.batchSize));
          Batch b = makeBatch(std::move(members), g);
          b.x = b.gather(xq, prompts);
          b.target = b.gather(xfp, prompts);
          std::vector<qr_tensor> in = calibrateInputs(b);
          llvm::Expected<float> loss = (*engine)->optimizeStep(in, 1.0);
          if (!loss)
            return fail(loss.takeError());
          if (!std::isfinite(*loss)) {
            why = llvm::formatv("the loss is {0} at step {1}", *loss,
                                r.steps + 1);
            diverged = true;
            break;
          }
          last = *loss;
          ++r.steps;
          if (o.progress)
            progress.update(r.steps, llvm::formatv("loss {0:e3}", last).str());
        }
      }
      r.stepSeconds = std::chrono::duration<double>(
                          std::chrono::steady_clock::now() - trainStart)
                          .count();
      if (o.progress)
        progress.finish(llvm::formatv("loss {0:e3}", last).str());
    }
    Streams yq(prompts.size());
    FailureOr<double> final = evalLoss(**engine, g, &yq);
    if (failed(final))
      return failure();
    r.finalLoss = *final;
    if (attempt == 0 && !diverged && !std::isfinite(r.finalLoss)) {
      diverged = true;
      why = "the final loss is not finite";
    }
    if (!diverged && learn && attempt == 0 && r.finalLoss > r.initialLoss) {
      diverged = true;
      why = llvm::formatv("the loss rose from {0:e3} to {1:e3}", r.initialLoss,
                          r.finalLoss);
    }
    if (diverged) {
      mlir::emitWarning(module.getLoc())
          << pass << ": layer " << g.index << " diverged (" << why
          << "); rolled back to round-to-nearest parameters";
      r.rolledBack = true;
      if (failed(resetToRTN(g)))
        return failure();
      continue;
    }
    for (int i : trainable) {
      llvm::Expected<std::vector<float>> v = (*engine)->readParam(i);
      if (!v)
        return fail(v.takeError());
      std::string name = p.params[i].name;
      if (!learned.count(name))
        order.push_back(name);
      learned[name] = std::move(*v);
    }
    xq = std::move(yq);
    break;
  }
  r.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  return success();
}

std::string Driver::checkpointPath() const {
  llvm::SmallString<256> p(o.checkpointDir);
  llvm::sys::path::append(p, "calibration-state.safetensors");
  return std::string(p);
}

static llvm::json::Value toJSON(const LayerResult &r) {
  return llvm::json::Object{{"layer", r.layer},
                            {"initial_loss", r.initialLoss},
                            {"final_loss", r.finalLoss},
                            {"steps", r.steps},
                            {"rolled_back", r.rolledBack},
                            {"seconds", r.seconds}};
}

LogicalResult Driver::saveCheckpoint(size_t nextLayer,
                                     const std::vector<LayerResult> &done) {
  if (o.checkpointDir.empty())
    return success();
  if (std::error_code ec = llvm::sys::fs::create_directories(o.checkpointDir))
    return error() << "checkpoint=" << o.checkpointDir << ": " << ec.message();
  std::vector<TensorToWrite> tensors;
  for (const std::string &name : order)
    tensors.push_back(f32Tensor(
        "learned." + name, {int64_t(learned[name].size())}, learned[name]));
  std::vector<float> q, f;
  for (size_t i = 0; i < prompts.size(); ++i) {
    llvm::append_range(q, xq[i]);
    llvm::append_range(f, xfp[i]);
  }
  int64_t rows = q.size() / D;
  tensors.push_back(f32Tensor("stream.quantized", {rows, D}, q));
  tensors.push_back(f32Tensor("stream.reference", {rows, D}, f));
  llvm::json::Array layers;
  for (const LayerResult &r : done)
    layers.push_back(toJSON(r));
  std::string json;
  llvm::raw_string_ostream(json) << llvm::json::Value(std::move(layers));
  if (llvm::Error err =
          writeSafeTensors(checkpointPath(), tensors,
                           {{"format", "qrealign-calibration-checkpoint"},
                            {"digest", digest},
                            {"next_layer", std::to_string(nextLayer)},
                            {"layers", json}}))
    return fail(std::move(err));
  return success();
}

FailureOr<size_t> Driver::loadCheckpoint(std::vector<LayerResult> &done) {
  if (o.checkpointDir.empty() || !llvm::sys::fs::exists(checkpointPath()))
    return size_t(0);
  std::string path = checkpointPath();
  auto ckpt = Checkpoint::open(path);
  if (!ckpt)
    return fail(ckpt.takeError());
  auto meta = [&](StringRef key) {
    return (*ckpt)->getMetadataValue(key).value_or("");
  };
  if (meta("format") != "qrealign-calibration-checkpoint")
    return error() << path << " is not a calibration checkpoint";
  if (meta("digest") != digest)
    return error() << path << " was written by a run with other inputs "
                   << "(model, data or options): remove it or choose "
                   << "another checkpoint=";
  size_t next = 0;
  if (meta("next_layer").getAsInteger(10, next) || next > graphs.size())
    return error() << path << ": bad next_layer";
  auto read = [&](StringRef name,
                  int64_t numel) -> FailureOr<std::vector<float>> {
    const TensorInfo *t = (*ckpt)->lookup(name);
    if (!t || t->dtype != DType::F32 || t->getNumElements() != numel)
      return error() << path << ": tensor '" << name
                     << "' is missing or has the wrong size";
    auto data = (*ckpt)->getData(*t);
    if (!data)
      return fail(data.takeError());
    std::vector<float> v(numel);
    std::memcpy(v.data(), data->data(), numel * sizeof(float));
    return v;
  };
  SymbolTable symbols(*work);
  for (size_t l = 0; l < next; ++l)
    for (const auto *list : {&graphs[l].clip, &graphs[l].smooth})
      for (const std::string &name : *list) {
        auto param = symbols.lookup<ParamOp>(name);
        FailureOr<std::vector<float>> v =
            read("learned." + name, param.getTensorType().getNumElements());
        if (failed(v))
          return failure();
        order.push_back(name);
        learned[name] = std::move(*v);
      }
  int64_t rows = 0;
  for (const Prompt &p : prompts)
    rows += p.ids.size();
  FailureOr<std::vector<float>> q = read("stream.quantized", rows * D);
  FailureOr<std::vector<float>> f = read("stream.reference", rows * D);
  if (failed(q) || failed(f))
    return failure();
  size_t at = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    size_t n = prompts[i].ids.size() * D;
    xq[i].assign(q->begin() + at, q->begin() + at + n);
    xfp[i].assign(f->begin() + at, f->begin() + at + n);
    at += n;
  }
  llvm::Expected<llvm::json::Value> layers = llvm::json::parse(meta("layers"));
  if (!layers)
    return fail(layers.takeError());
  if (auto *arr = layers->getAsArray())
    for (const llvm::json::Value &v : *arr) {
      const llvm::json::Object *obj = v.getAsObject();
      if (!obj)
        continue;
      LayerResult r;
      r.layer = obj->getInteger("layer").value_or(0);
      r.initialLoss = obj->getNumber("initial_loss").value_or(0);
      r.finalLoss = obj->getNumber("final_loss").value_or(0);
      r.steps = obj->getInteger("steps").value_or(0);
      r.rolledBack = obj->getBoolean("rolled_back").value_or(false);
      r.seconds = obj->getNumber("seconds").value_or(0);
      done.push_back(r);
    }
  if (done.size() != next)
    return error() << path << ": its layer records do not match next_layer";
  if (o.progress)
    llvm::errs() << "calibrate: resuming at layer " << next << " from " << path
                 << "\n";
  return next;
}

/// Writes the learned tensors as the new scope, re-points the module's
/// trainable parameters to it and records what was run.
LogicalResult Driver::finish(const std::vector<LayerResult> &done) {
  // In declaration order, however the run was split.
  std::vector<TensorToWrite> tensors;
  std::vector<std::pair<ParamOp, std::string>> repoint;
  for (ParamOp param : module.getOps<ParamOp>()) {
    StringRef name = param.getSymName();
    if (!learned.count(name))
      continue;
    std::string key = getTensorName(param).str();
    tensors.push_back(
        f32Tensor(key, param.getTensorType().getShape(), learned[name]));
    repoint.push_back({param, key});
  }
  if (failed(writeScope(
          module, pass, o.file, o.scope, tensors,
          {{"format", "qrealign-calibration"},
           {"objective", getObjectiveName(o.graph.objective).str()}})))
    return failure();
  MLIRContext *ctx = module.getContext();
  for (auto &[param, key] : repoint)
    param.setInitialValueAttr(ExternalAttr::get(ctx, o.scope, key));
  Builder b(ctx);
  SmallVector<Attribute> layers;
  for (const LayerResult &r : done)
    layers.push_back(b.getDictionaryAttr(
        {b.getNamedAttr("layer", b.getI64IntegerAttr(r.layer)),
         b.getNamedAttr("initial_loss", b.getF64FloatAttr(r.initialLoss)),
         b.getNamedAttr("final_loss", b.getF64FloatAttr(r.finalLoss)),
         b.getNamedAttr("steps", b.getI64IntegerAttr(r.steps)),
         b.getNamedAttr("rolled_back", b.getBoolAttr(r.rolledBack))}));
  SmallVector<Attribute> epochs;
  for (int e : o.epochs)
    epochs.push_back(b.getI64IntegerAttr(e));
  module->setAttr(
      "qrealign.calibration",
      b.getDictionaryAttr({
          b.getNamedAttr("objective",
                         b.getStringAttr(getObjectiveName(o.graph.objective))),
          b.getNamedAttr("scope", b.getStringAttr(o.scope)),
          b.getNamedAttr("data_digest", b.getStringAttr(digest)),
          b.getNamedAttr("benign", b.getI64IntegerAttr(numBenign)),
          b.getNamedAttr("malicious", b.getI64IntegerAttr(numMalicious)),
          b.getNamedAttr("epochs", b.getArrayAttr(epochs)),
          b.getNamedAttr("batch_size", b.getI64IntegerAttr(o.batchSize)),
          b.getNamedAttr("seed", b.getI64IntegerAttr(o.seed)),
          b.getNamedAttr("margin", b.getF64FloatAttr(o.graph.margin)),
          b.getNamedAttr("anchor",
                         b.getF64FloatAttr(o.graph.anchorCoefficient)),
          b.getNamedAttr("smooth_init",
                         b.getStringAttr(o.smoothQuantInit
                                             ? llvm::formatv("smoothquant "
                                                             "alpha={0}",
                                                             o.smoothAlpha)
                                                   .str()
                                             : std::string("module"))),
          b.getNamedAttr("layers", b.getArrayAttr(layers)),
      }));
  return success();
}

LogicalResult Driver::run(std::vector<LayerResult> *results) {
  if (failed(checkOptions()))
    return failure();
  device = o.device;
  work = module.clone();
  FailureOr<std::vector<LayerGraph>> built =
      buildCalibrationGraph(*work, o.graph, pass);
  if (failed(built))
    return failure();
  graphs = std::move(*built);
  D = graphs.front().hiddenSize;
  FailureOr<std::unique_ptr<Program>> model = lower("forward");
  if (failed(model))
    return failure();
  if (failed(loadPrompts((*model)->getModelInfo())))
    return failure();
  model->reset();

  // What the result depends on, for the record and for resuming.
  std::string key;
  llvm::raw_string_ostream os(key);
  os << module << "|" << getObjectiveName(o.graph.objective) << "|"
     << o.graph.margin << "|" << o.graph.probeCoefficient << "|"
     << o.graph.anchorCoefficient << "|" << o.basePath << "|" << o.seed << "|"
     << o.batchSize << "|" << o.clipLr << "|" << o.smoothLr << "|"
     << (o.smoothQuantInit ? o.smoothAlpha : -1.0) << "|";
  for (int e : o.epochs)
    os << e << ",";
  for (const Prompt &p : prompts) {
    os << "|" << p.label << ":";
    for (int64_t t : p.ids)
      os << t << ",";
  }
  digest = llvm::formatv("{0:x16}", llvm::xxh3_64bits(key)).str();

  xq.assign(prompts.size(), {});
  xfp.assign(prompts.size(), {});
  std::vector<LayerResult> done;
  FailureOr<size_t> start = loadCheckpoint(done);
  if (failed(start))
    return failure();
  if (*start == 0) {
    if (failed(runOverPrompts(kEmbedFunctionName, graphs.front(), nullptr, xq)))
      return failure();
    xfp = xq;
  }
  if (failed(captureAnchors()))
    return failure();
  for (size_t l = *start; l < graphs.size(); ++l) {
    LayerResult r;
    if (failed(calibrateLayer(graphs[l], r)))
      return failure();
    done.push_back(r);
    if (o.progress)
      llvm::errs() << llvm::formatv(
          "calibrate: layer {0}: loss {1:e3} -> {2:e3}, {3} steps ({4:f2} s), "
          "{5:f1} s in all{6}\n",
          r.layer, r.initialLoss, r.finalLoss, r.steps, r.stepSeconds,
          r.seconds, r.rolledBack ? " (rolled back)" : "");
    if (failed(saveCheckpoint(l + 1, done)))
      return failure();
    if (o.stopAfter > 0 && l + 1 - *start >= size_t(o.stopAfter) &&
        l + 1 < graphs.size())
      return error() << "stopped after " << o.stopAfter
                     << " layer(s) as asked (stop-after); run again with "
                     << "checkpoint=" << o.checkpointDir
                     << " to resume at layer " << graphs[l + 1].index;
  }
  if (failed(finish(done)))
    return failure();
  if (results)
    *results = std::move(done);
  return success();
}

LogicalResult calibrate(ModuleOp module, const CalibrationOptions &options,
                        StringRef passName, std::vector<LayerResult> *results) {
  return Driver(module, options, passName).run(results);
}
} // namespace qrealign::calibration
