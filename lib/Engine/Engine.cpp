//===- Engine.cpp - Load and drive the libtorch execution engine ----------===//

#include "qrealign/Engine/Engine.h"
#include "qrealign/Checkpoint/Checkpoint.h"
#include "qrealign/Engine/Program.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <cstdlib>
#include <cstring>
#include <dlfcn.h>

using namespace llvm;

namespace qrealign {
struct Engine::Api {
  void *lib = nullptr;
  decltype(&qr_engine_abi_version) abiVersion;
  decltype(&qr_engine_build_info) buildInfo;
  decltype(&qr_engine_create) create;
  decltype(&qr_engine_destroy) destroy;
  decltype(&qr_engine_device) device;
  decltype(&qr_engine_forward) forward;
  decltype(&qr_engine_capture) capture;
  decltype(&qr_engine_generate) generate;
  decltype(&qr_engine_head) head;
  decltype(&qr_engine_train_begin) trainBegin;
  decltype(&qr_engine_train_step) trainStep;
  decltype(&qr_engine_eval_loss) evalLoss;
  decltype(&qr_engine_train_end) trainEnd;
  decltype(&qr_engine_read_param) readParam;
  decltype(&qr_engine_call) call;
  decltype(&qr_engine_optimize_step) optimizeStep;
  decltype(&qr_engine_train_state_info) trainStateInfo;
  decltype(&qr_engine_train_state_get) trainStateGet;
  decltype(&qr_engine_train_state_set) trainStateSet;
};

static Error fail(const Twine &msg) {
  return createStringError(inconvertibleErrorCode(), msg);
}

static constexpr const char *kLibName = "libQRealignEngine.so";

/// Candidate locations of the engine library, in search order.
static std::vector<std::string> candidates(const EngineOptions &options) {
  std::vector<std::string> out;
  if (const char *env = std::getenv("QREALIGN_ENGINE_LIBRARY"))
    if (*env)
      out.push_back(env);
  std::string exe = options.executablePath;
  if (!exe.empty()) {
    std::string main = sys::fs::getMainExecutable(
        exe.c_str(), reinterpret_cast<void *>(&candidates));
    if (!main.empty())
      exe = main;
    SmallString<256> lib(sys::path::parent_path(sys::path::parent_path(exe)));
    sys::path::append(lib, "lib", kLibName);
    out.push_back(std::string(lib));
  }
  out.push_back(kLibName);
  return out;
}

Expected<std::unique_ptr<Engine>> Engine::create(const Program &program,
                                                 const EngineOptions &options) {
  if (program.isParametersOnly())
    return createStringError(inconvertibleErrorCode(),
                             "the program was lowered parameters-only (for "
                             "the compiled backend): the engine cannot run it");
  std::unique_ptr<Engine> engine(new Engine());
  engine->api = std::make_unique<Api>();
  Api &api = *engine->api;
  // Thread pools are sized when libtorch's OpenMP and OpenBLAS load: with a
  // thread count given, they start with that many threads (the engine also
  // sets them at creation, for an engine loaded earlier). A value the user
  // exported wins.
  if (options.numThreads > 0) {
    std::string n = std::to_string(options.numThreads);
    setenv("OPENBLAS_NUM_THREADS", n.c_str(), /*overwrite=*/0);
    setenv("OMP_NUM_THREADS", n.c_str(), /*overwrite=*/0);
  }
  std::string tried;
  for (const std::string &path : candidates(options)) {
    if (path.find('/') != std::string::npos && !sys::fs::exists(path)) {
      tried += "\n  " + path + ": no such file";
      continue;
    }
    // RTLD_DEEPBIND: libtorch's libprotobuf must bind to itself, not to the
    // protobuf-lite copy that libsentencepiece (already loaded by the tool)
    // exports; without it, libprotobuf's static initializers crash inside
    // libsentencepiece. (Sanitizer runtimes refuse DEEPBIND; sanitizer
    // builds do not build the engine.)
    int flags = RTLD_NOW | RTLD_LOCAL;
#if !defined(__SANITIZE_ADDRESS__)
    flags |= RTLD_DEEPBIND;
#endif
    api.lib = dlopen(path.c_str(), flags);
    if (api.lib)
      break;
    tried += "\n  " + path + ": " + dlerror();
  }
  if (!api.lib)
    return fail("cannot load the execution engine (" + Twine(kLibName) +
                "; build it with libtorch-dev installed, or set "
                "QREALIGN_ENGINE_LIBRARY):" +
                tried);
  auto sym = [&](auto &fn, const char *name) -> bool {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(
        dlsym(api.lib, name));
    return fn != nullptr;
  };
  if (!sym(api.abiVersion, "qr_engine_abi_version") ||
      !sym(api.buildInfo, "qr_engine_build_info") ||
      !sym(api.create, "qr_engine_create") ||
      !sym(api.destroy, "qr_engine_destroy") ||
      !sym(api.device, "qr_engine_device") ||
      !sym(api.forward, "qr_engine_forward") ||
      !sym(api.capture, "qr_engine_capture") ||
      !sym(api.generate, "qr_engine_generate") ||
      !sym(api.head, "qr_engine_head") ||
      !sym(api.trainBegin, "qr_engine_train_begin") ||
      !sym(api.trainStep, "qr_engine_train_step") ||
      !sym(api.evalLoss, "qr_engine_eval_loss") ||
      !sym(api.trainEnd, "qr_engine_train_end") ||
      !sym(api.readParam, "qr_engine_read_param") ||
      !sym(api.call, "qr_engine_call") ||
      !sym(api.optimizeStep, "qr_engine_optimize_step") ||
      !sym(api.trainStateInfo, "qr_engine_train_state_info") ||
      !sym(api.trainStateGet, "qr_engine_train_state_get") ||
      !sym(api.trainStateSet, "qr_engine_train_state_set"))
    return fail(Twine(kLibName) + " lacks the qr_engine_* entry points");
  if (api.abiVersion() != QR_ENGINE_ABI_VERSION)
    return fail(Twine(kLibName) + " has engine ABI version " +
                Twine(api.abiVersion()) + ", this tool needs " +
                Twine(QR_ENGINE_ABI_VERSION));
  qr_engine_options opts{options.device.c_str(), options.numThreads};
  char err[1024] = "";
  engine->handle = api.create(&program.get(), &opts, err, sizeof(err));
  if (!engine->handle)
    return fail(err);
  engine->program = &program;
  engine->vocab = program.get().vocab_size;
  engine->hidden = program.get().hidden_size;
  engine->numLayers = program.get().num_layers;
  return std::move(engine);
}

Engine::~Engine() {
  if (handle)
    api->destroy(handle);
  // The library stays loaded: libtorch does not support being unloaded.
}

std::string Engine::getDevice() const { return api->device(handle); }
std::string Engine::getBuildInfo() const { return api->buildInfo(); }

namespace {
struct Flat {
  std::vector<int64_t> tokens;
  std::vector<int32_t> lengths;
};
} // namespace

static Expected<Flat> flatten(ArrayRef<std::vector<int64_t>> batch) {
  Flat f;
  if (batch.empty())
    return fail("empty batch");
  for (const std::vector<int64_t> &seq : batch) {
    if (seq.empty())
      return fail("empty sequence in batch");
    f.tokens.insert(f.tokens.end(), seq.begin(), seq.end());
    f.lengths.push_back(seq.size());
  }
  return f;
}

/// `flat` as rows of `width` values.
static std::vector<std::vector<float>> splitRows(ArrayRef<float> flat,
                                                 size_t rows, int64_t width) {
  std::vector<std::vector<float>> out(rows);
  for (size_t r = 0; r < rows; ++r)
    out[r].assign(flat.begin() + r * width, flat.begin() + (r + 1) * width);
  return out;
}

/// Hidden-state rows, each of `width` values, concatenated; `what` names a
/// row in the error.
static Expected<std::vector<float>> joinRows(ArrayRef<std::vector<float>> rows,
                                             int64_t width, const char *what) {
  std::vector<float> flat;
  flat.reserve(rows.size() * width);
  for (const std::vector<float> &h : rows) {
    if (int64_t(h.size()) != width)
      return fail(Twine(what) + " of " + Twine(h.size()) +
                  " values; the model's hidden size is " + Twine(width));
    flat.insert(flat.end(), h.begin(), h.end());
  }
  return flat;
}

Expected<std::vector<std::vector<float>>>
Engine::forward(ArrayRef<std::vector<int64_t>> batch, bool allPositions) {
  Expected<Flat> f = flatten(batch);
  if (!f)
    return f.takeError();
  size_t rows = allPositions ? f->tokens.size() : batch.size();
  std::vector<float> out(rows * vocab);
  char err[1024] = "";
  if (api->forward(handle, batch.size(), f->tokens.data(), f->lengths.data(),
                   allPositions, out.data(), err, sizeof(err)))
    return fail(err);
  return splitRows(out, rows, vocab);
}

Expected<std::vector<std::vector<std::vector<float>>>>
Engine::capture(ArrayRef<std::vector<int64_t>> batch, ArrayRef<int32_t> layers,
                ArrayRef<int32_t> positions) {
  Expected<Flat> f = flatten(batch);
  if (!f)
    return f.takeError();
  if (positions.size() != batch.size())
    return fail("capture needs one position per sequence");
  std::vector<float> out(batch.size() * layers.size() * hidden);
  char err[1024] = "";
  if (api->capture(handle, batch.size(), f->tokens.data(), f->lengths.data(),
                   layers.size(), layers.data(), positions.data(), out.data(),
                   err, sizeof(err)))
    return fail(err);
  std::vector<std::vector<std::vector<float>>> result;
  for (size_t b = 0; b < batch.size(); ++b)
    result.push_back(splitRows(ArrayRef(out).slice(b * layers.size() * hidden),
                               layers.size(), hidden));
  return result;
}

Expected<std::vector<std::vector<float>>>
Engine::head(ArrayRef<std::vector<float>> states) {
  if (states.empty())
    return fail("head needs at least one state");
  Expected<std::vector<float>> in = joinRows(states, hidden, "a state");
  if (!in)
    return in.takeError();
  std::vector<float> out(states.size() * vocab);
  char err[1024] = "";
  if (api->head(handle, states.size(), in->data(), out.data(), err,
                sizeof(err)))
    return fail(err);
  return splitRows(out, states.size(), vocab);
}

Expected<GenerateResult> Engine::generate(ArrayRef<std::vector<int64_t>> batch,
                                          int maxNewTokens,
                                          ArrayRef<int64_t> eosIds,
                                          const Patch *patch) {
  Expected<Flat> f = flatten(batch);
  if (!f)
    return f.takeError();
  if (maxNewTokens < 0)
    return fail("max new tokens must be >= 0");
  qr_generate_options opts{maxNewTokens, int32_t(eosIds.size()), eosIds.data(),
                           nullptr};
  std::vector<float> patchValues;
  std::vector<int32_t> patchPositions;
  qr_patch cPatch{};
  if (patch) {
    if (patch->values.size() != batch.size())
      return fail("a patch needs one state per sequence");
    Expected<std::vector<float>> values =
        joinRows(patch->values, hidden, "a patch state");
    if (!values)
      return values.takeError();
    patchValues = std::move(*values);
    patchPositions.assign(batch.size(), -1);
    cPatch = {patch->layer, patchPositions.data(), patchValues.data()};
    opts.patch = &cPatch;
  }
  std::vector<int64_t> out(batch.size() * std::max(maxNewTokens, 1));
  std::vector<int32_t> lens(batch.size());
  GenerateResult result;
  char err[1024] = "";
  if (api->generate(handle, batch.size(), f->tokens.data(), f->lengths.data(),
                    &opts, out.data(), lens.data(), &result.stats, err,
                    sizeof(err)))
    return fail(err);
  for (size_t b = 0; b < batch.size(); ++b)
    result.tokens.emplace_back(out.begin() + b * maxNewTokens,
                               out.begin() + b * maxNewTokens + lens[b]);
  return result;
}

Error Engine::trainBegin(const TrainOptions &o) {
  qr_train_options opts{
      o.weightDecay, o.beta1,      o.beta2,     o.eps,
      o.gradClip,    o.loraRank,   o.loraAlpha, o.loraTargets.c_str(),
      o.seed,        o.loraDropout};
  opts.trainable_only = o.trainableOnly;
  if (!o.lrScales.empty())
    opts.lr_scales = o.lrScales.data();
  char err[1024] = "";
  if (api->trainBegin(handle, &opts, err, sizeof(err)))
    return fail(err);
  return Error::success();
}

Error Engine::call(ArrayRef<qr_tensor> inputs,
                   MutableArrayRef<qr_tensor> outputs) {
  char err[1024] = "";
  if (api->call(handle, inputs.size(), inputs.data(), outputs.size(),
                outputs.data(), err, sizeof(err)))
    return fail(err);
  return Error::success();
}

Expected<float> Engine::optimizeStep(ArrayRef<qr_tensor> inputs, double lr) {
  float loss = 0;
  char err[1024] = "";
  if (api->optimizeStep(handle, inputs.size(), inputs.data(), lr, &loss, err,
                        sizeof(err)))
    return fail(err);
  return loss;
}

/// Flattens a batch and its target masks.
static Expected<std::pair<Flat, std::vector<uint8_t>>>
flattenTargets(ArrayRef<std::vector<int64_t>> batch,
               ArrayRef<std::vector<uint8_t>> targets) {
  Expected<Flat> f = flatten(batch);
  if (!f)
    return f.takeError();
  if (targets.size() != batch.size())
    return fail("one target mask per sequence is needed");
  std::vector<uint8_t> mask;
  for (auto [seq, m] : llvm::zip(batch, targets)) {
    if (m.size() != seq.size())
      return fail("a target mask must have one entry per token");
    mask.insert(mask.end(), m.begin(), m.end());
  }
  return std::make_pair(std::move(*f), std::move(mask));
}

Expected<float> Engine::trainStep(ArrayRef<std::vector<int64_t>> batch,
                                  ArrayRef<std::vector<uint8_t>> targets,
                                  double lr) {
  auto ft = flattenTargets(batch, targets);
  if (!ft)
    return ft.takeError();
  float loss = 0;
  char err[1024] = "";
  if (api->trainStep(handle, batch.size(), ft->first.tokens.data(),
                     ft->first.lengths.data(), ft->second.data(), lr, &loss,
                     err, sizeof(err)))
    return fail(err);
  return loss;
}

Expected<float> Engine::evalLoss(ArrayRef<std::vector<int64_t>> batch,
                                 ArrayRef<std::vector<uint8_t>> targets) {
  auto ft = flattenTargets(batch, targets);
  if (!ft)
    return ft.takeError();
  float loss = 0;
  char err[1024] = "";
  if (api->evalLoss(handle, batch.size(), ft->first.tokens.data(),
                    ft->first.lengths.data(), ft->second.data(), &loss, err,
                    sizeof(err)))
    return fail(err);
  return loss;
}

Error Engine::trainEnd() {
  char err[1024] = "";
  if (api->trainEnd(handle, err, sizeof(err)))
    return fail(err);
  return Error::success();
}

static constexpr const char *kTrainStateFormat = "qrealign-train-state";

/// The name of part `k` (0: value, 1: first moment, 2: second moment) of
/// trainable tensor `i` in a training-state file.
static std::string getStateTensorName(int k, int32_t i) {
  static constexpr const char *kParts[] = {"value.", "m.", "v."};
  return (Twine(kParts[k]) + Twine(i)).str();
}

Error Engine::saveTrainState(
    StringRef path, ArrayRef<std::pair<std::string, std::string>> metadata) {
  int32_t count = 0;
  int64_t step = 0;
  char err[1024] = "";
  if (api->trainStateInfo(handle, &count, &step, err, sizeof(err)))
    return fail(err);
  // value, m and v of each tensor, flat.
  std::vector<std::vector<float>> data(3 * size_t(count));
  std::vector<TensorToWrite> tensors;
  for (int32_t i = 0; i < count; ++i) {
    int64_t numel = 0;
    if (api->trainStateGet(handle, i, &numel, nullptr, nullptr, nullptr, err,
                           sizeof(err)))
      return fail(err);
    for (int k = 0; k < 3; ++k)
      data[3 * i + k].resize(numel);
    if (api->trainStateGet(handle, i, &numel, data[3 * i].data(),
                           data[3 * i + 1].data(), data[3 * i + 2].data(), err,
                           sizeof(err)))
      return fail(err);
    for (int k = 0; k < 3; ++k) {
      TensorToWrite t;
      t.name = getStateTensorName(k, i);
      t.shape = {numel};
      t.data = ArrayRef<uint8_t>(
          reinterpret_cast<const uint8_t *>(data[3 * i + k].data()),
          numel * sizeof(float));
      tensors.push_back(std::move(t));
    }
  }
  std::vector<std::pair<std::string, std::string>> meta = {
      {"format", kTrainStateFormat},
      {"step", std::to_string(step)},
      {"tensors", std::to_string(count)}};
  for (const auto &kv : metadata) {
    if (kv.first == "format" || kv.first == "step" || kv.first == "tensors")
      return fail("training state metadata cannot override '" + kv.first + "'");
    meta.push_back(kv);
  }
  return writeSafeTensors(path, tensors, meta);
}

Expected<int64_t> Engine::loadTrainState(StringRef path) {
  auto where = [&](const Twine &msg) { return fail(path + ": " + msg); };
  int32_t count = 0;
  char err[1024] = "";
  if (api->trainStateInfo(handle, &count, nullptr, err, sizeof(err)))
    return fail(err);
  Expected<std::unique_ptr<Checkpoint>> file =
      Checkpoint::openSafeTensors(path);
  if (!file)
    return file.takeError();
  Checkpoint &ckpt = **file;
  std::optional<StringRef> format = ckpt.getMetadataValue("format");
  std::optional<StringRef> stepText = ckpt.getMetadataValue("step");
  std::optional<StringRef> countText = ckpt.getMetadataValue("tensors");
  int64_t step = 0, fileCount = 0;
  if (!format || *format != kTrainStateFormat || !stepText || !countText ||
      stepText->getAsInteger(10, step) || step < 0 ||
      countText->getAsInteger(10, fileCount))
    return where("not a qrealign training state (its metadata needs "
                 "format=" +
                 Twine(kTrainStateFormat) + ", step and tensors)");
  if (fileCount != count || ckpt.getTensors().size() != 3 * size_t(count))
    return where("holds " + Twine(fileCount) +
                 " trainable tensors, this run "
                 "trains " +
                 Twine(count) +
                 " (a state of another model or other options?)");
  for (int32_t i = 0; i < count; ++i) {
    int64_t numel = 0;
    if (api->trainStateGet(handle, i, &numel, nullptr, nullptr, nullptr, err,
                           sizeof(err)))
      return fail(err);
    std::vector<float> parts[3];
    for (int k = 0; k < 3; ++k) {
      std::string name = getStateTensorName(k, i);
      const TensorInfo *t = ckpt.lookup(name);
      if (!t)
        return where("has no tensor '" + name + "'");
      if (t->dtype != DType::F32 || t->getNumElements() != numel)
        return where("tensor '" + name + "' is " + getDTypeName(t->dtype) +
                     " " + t->getShapeString() + ", expected F32 [" +
                     Twine(numel) + "]");
      Expected<ArrayRef<uint8_t>> bytes = ckpt.getData(*t);
      if (!bytes)
        return bytes.takeError();
      parts[k].resize(numel);
      std::memcpy(parts[k].data(), bytes->data(), numel * sizeof(float));
    }
    if (api->trainStateSet(handle, step, i, numel, parts[0].data(),
                           parts[1].data(), parts[2].data(), err, sizeof(err)))
      return fail(err);
  }
  return step;
}

Expected<std::vector<float>> Engine::readParam(int index) {
  const qr_program &p = program->get();
  if (index < 0 || index >= p.num_params)
    return fail("parameter index " + Twine(index) + " is out of range");
  int64_t n = 1;
  for (int32_t d = 0; d < p.params[index].rank; ++d)
    n *= p.params[index].shape[d];
  std::vector<float> out(n);
  char err[1024] = "";
  if (api->readParam(handle, index, out.data(), err, sizeof(err)))
    return fail(err);
  return out;
}

Error Engine::saveSafeTensors(StringRef path, bool bf16) {
  const qr_program &p = program->get();
  std::vector<std::vector<float>> data;
  std::vector<std::vector<uint16_t>> halves;
  halves.reserve(p.num_params);
  std::vector<TensorToWrite> tensors;
  data.reserve(p.num_params);
  for (int i = 0; i < p.num_params; ++i) {
    Expected<std::vector<float>> values = readParam(i);
    if (!values)
      return values.takeError();
    data.push_back(std::move(*values));
    TensorToWrite t;
    t.name = program->getTensorName(i).str();
    t.shape.assign(p.params[i].shape, p.params[i].shape + p.params[i].rank);
    t.data =
        ArrayRef<uint8_t>(reinterpret_cast<const uint8_t *>(data.back().data()),
                          data.back().size() * sizeof(float));
    if (bf16) {
      std::vector<uint16_t> h(data.back().size());
      for (auto [x, y] : llvm::zip(data.back(), h)) {
        uint32_t bits;
        std::memcpy(&bits, &x, 4);
        if ((bits & 0x7F800000u) == 0x7F800000u && (bits & 0x7FFFFFu))
          y = uint16_t((bits >> 16) | 0x40); // NaN stays NaN
        else                                 // round to nearest even
          y = uint16_t((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
      }
      halves.push_back(std::move(h));
      t.dtype = DType::BF16;
      t.data = ArrayRef<uint8_t>(
          reinterpret_cast<const uint8_t *>(halves.back().data()),
          halves.back().size() * sizeof(uint16_t));
    }
    tensors.push_back(std::move(t));
  }
  return writeSafeTensors(path, tensors, {{"format", "pt"}});
}
} // namespace qrealign
