//===- CompiledModel.cpp - A model's @forward compiled for the host -------===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Compiled/CompiledModel.h"

#include "qrealign/Compiled/Manifest.h"
#include "qrealign/Conversion/Passes.h"
#include "qrealign/Conversion/Pipelines/Pipelines.h"
#include "qrealign/Quant/Quantizer.h"
#include "qrealign/Runtime/CudaRuntime.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>

using namespace mlir;
using namespace ::qrealign;

namespace qrealign {
/// Where the compiled code's buffers live: the parameters, the inputs of a
/// call and the results it allocates (logits, the KV cache).
class BufferSpace {
public:
  virtual ~BufferSpace() = default;
  /// A buffer of the code's memory holding a copy of `bytes` of `data` (or
  /// `data` itself), valid until drop().
  virtual llvm::Expected<void *> place(const void *data, size_t bytes) = 0;
  virtual void drop(void *placed) = 0;
  /// Copies `bytes` at `src`, in the code's memory, to `dst` on the host.
  virtual llvm::Error fetch(void *dst, const void *src, size_t bytes) = 0;
  /// A buffer of `bytes` in the code's memory (uninitialized), freed with
  /// releaseResult, and a copy between two such buffers.
  virtual llvm::Expected<void *> allocate(size_t bytes) = 0;
  virtual llvm::Error copy(void *dst, const void *src, size_t bytes) = 0;
  /// Frees a buffer the compiled code allocated and returned.
  virtual void releaseResult(void *allocated) = 0;
  /// An error if function `name`, just called, failed where it could not
  /// say so (a GPU's driver calls).
  virtual void beforeCall() {}
  virtual llvm::Error checkCall(llvm::StringRef name) {
    return llvm::Error::success();
  }
};
} // namespace qrealign

namespace {
/// Host code: the code reads the caller's memory (the parameters where
/// they are mapped), its results are malloc'ed.
class HostSpace : public BufferSpace {
public:
  llvm::Expected<void *> place(const void *data, size_t) override {
    return const_cast<void *>(data);
  }
  void drop(void *) override {}
  llvm::Error fetch(void *dst, const void *src, size_t bytes) override {
    memcpy(dst, src, bytes);
    return llvm::Error::success();
  }
  llvm::Expected<void *> allocate(size_t bytes) override {
    void *p = malloc(bytes ? bytes : 1);
    if (!p)
      return llvm::createStringError("out of memory allocating " +
                                     llvm::Twine(bytes) + " bytes");
    return p;
  }
  llvm::Error copy(void *dst, const void *src, size_t bytes) override {
    memcpy(dst, src, bytes);
    return llvm::Error::success();
  }
  void releaseResult(void *allocated) override { free(allocated); }
};

/// The GPU mapping run on the host (qrealign-compile --emulate-gpu):
/// handled as a GPU's memory, every parameter and input copied into a
/// buffer of its own, results copied back, so that this path runs where
/// no GPU is.
class EmulatedGPUSpace : public HostSpace {
public:
  llvm::Expected<void *> place(const void *data, size_t bytes) override {
    auto buffer = allocate(bytes);
    if (buffer)
      memcpy(*buffer, data, bytes);
    return buffer;
  }
  void drop(void *placed) override { free(placed); }
};

/// A CUDA GPU through qrealign's runtime (the functions the generated host
/// code calls): parameters uploaded once, inputs per call, results
/// allocated by the code on its stream; copies on this thread's persistent
/// stream, waited for.
class CudaSpace : public BufferSpace {
public:
  llvm::Expected<void *> place(const void *data, size_t bytes) override {
    auto device = deviceAlloc(bytes, "uploading");
    if (!device)
      return device.takeError();
    if (llvm::Error err = transfer(*device, data, bytes, "uploading")) {
      mgpuMemFree(*device, nullptr);
      return std::move(err);
    }
    return device;
  }
  void drop(void *placed) override { mgpuMemFree(placed, nullptr); }
  llvm::Error fetch(void *dst, const void *src, size_t bytes) override {
    return transfer(dst, src, bytes, "downloading");
  }
  llvm::Expected<void *> allocate(size_t bytes) override {
    return deviceAlloc(bytes, "allocating");
  }
  llvm::Error copy(void *dst, const void *src, size_t bytes) override {
    return transfer(dst, src, bytes, "copying");
  }
  void releaseResult(void *allocated) override {
    mgpuMemFree(allocated, nullptr);
  }
  void beforeCall() override { callErrors = qrealignGpuErrors(nullptr); }
  llvm::Error checkCall(llvm::StringRef name) override {
    return failed(callErrors, "@" + name + " on the GPU");
  }

private:
  /// The error count before the current call.
  int64_t callErrors = 0;
  /// `bytes` of device memory; errors name `verb` ("uploading 64 bytes").
  static llvm::Expected<void *> deviceAlloc(size_t bytes,
                                            llvm::StringRef verb) {
    int64_t before = qrealignGpuErrors(nullptr);
    void *device = mgpuMemAlloc(bytes, /*stream=*/nullptr, false);
    if (llvm::Error err =
            failed(before, verb + " " + llvm::Twine(bytes) + " bytes"))
      return std::move(err);
    if (!device)
      return llvm::createStringError(verb + ": no device memory");
    return device;
  }
  /// A copy in any direction (unified addressing) on this thread's stream,
  /// waited for.
  static llvm::Error transfer(void *dst, const void *src, size_t bytes,
                              llvm::StringRef verb) {
    int64_t before = qrealignGpuErrors(nullptr);
    void *stream = mgpuStreamCreate();
    mgpuMemcpy(dst, const_cast<void *>(src), bytes, stream);
    mgpuStreamSynchronize(stream);
    return failed(before, verb + " " + llvm::Twine(bytes) + " bytes");
  }
  static llvm::Error failed(int64_t before, const llvm::Twine &what) {
    const char *last = nullptr;
    int64_t now = qrealignGpuErrors(&last);
    if (now == before)
      return llvm::Error::success();
    return llvm::createStringError(
        what + ": " + llvm::Twine(now - before) +
        " CUDA driver call(s) failed, the last: " + last);
  }
};
} // namespace

CompiledModel::~CompiledModel() {
  for (void *p : placedParams)
    memory->drop(p);
}

namespace {
/// A memref descriptor of any rank: {allocated, aligned, offset,
/// sizes[rank], strides[rank]} as 64-bit words.
struct Descriptor {
  std::vector<int64_t> words;
  Descriptor(const void *data, llvm::ArrayRef<int64_t> sizes) {
    words.push_back(reinterpret_cast<int64_t>(data));
    words.push_back(reinterpret_cast<int64_t>(data));
    words.push_back(0);
    words.insert(words.end(), sizes.begin(), sizes.end());
    std::vector<int64_t> strides(sizes.size());
    int64_t stride = 1;
    for (size_t i = sizes.size(); i-- > 0;) {
      strides[i] = stride;
      stride *= sizes[i];
    }
    words.insert(words.end(), strides.begin(), strides.end());
  }
};
} // namespace

/// An error if parameter @symbol, stored as `storage` (the manifest's word)
/// in `bytes`, holds a byte that is not a level of its width: levels of
/// fewer than 8 bits one per byte (compressed-tensors' int-quantized W4A8)
/// come from a file, and the compiled code would compute with any byte.
static llvm::Error checkStoredLevels(llvm::StringRef symbol,
                                     llvm::StringRef storage,
                                     llvm::ArrayRef<int64_t> shape,
                                     const void *bytes, size_t size) {
  std::optional<int> bits = mlir::qrealign::getByteLevelBits(storage);
  if (!bits)
    return llvm::Error::success();
  std::optional<size_t> bad = findLevelOutOfRange(
      llvm::ArrayRef(static_cast<const int8_t *>(bytes), size), *bits);
  if (!bad)
    return llvm::Error::success();
  int64_t cols = shape.size() == 2 && shape[1] > 0 ? shape[1] : 1;
  return llvm::createStringError(llvm::formatv(
      "parameter @{0}: value {1} at row {2}, column {3} is outside the range "
      "of {4}-bit levels",
      symbol, int(static_cast<const int8_t *>(bytes)[*bad]), *bad / cols,
      *bad % cols, *bits));
}

/// The parameters bound to `fn`'s arguments from `firstParam` on.
static llvm::Expected<CompiledModel::BoundFunction>
bindArguments(func::FuncOp fn, unsigned firstParam,
              const llvm::StringMap<const qr_param *> &byName) {
  CompiledModel::BoundFunction bound;
  bound.numInputs = firstParam;
  bound.numResults = fn.getNumResults();
  for (unsigned i = firstParam; i < fn.getNumArguments(); ++i) {
    auto sym = fn.getArgAttrOfType<FlatSymbolRefAttr>(i, "qrealign.param");
    if (!sym)
      return llvm::createStringError(llvm::formatv(
          "@{0} argument {1} is not a bound parameter", fn.getSymName(), i));
    auto it = byName.find(sym.getValue());
    auto type = cast<RankedTensorType>(fn.getArgumentTypes()[i]);
    if (it == byName.end())
      return llvm::createStringError("parameter @" + sym.getValue() +
                                     " was not loaded");
    const qr_param *p = it->second;
    if (p->dtype != getParamDType(type.getElementType()) ||
        p->rank != type.getRank() ||
        !llvm::equal(llvm::ArrayRef<int64_t>(p->shape, p->rank),
                     type.getShape()))
      return llvm::createStringError("parameter @" + sym.getValue() +
                                     " does not match its argument's type");
    if (llvm::Error err = checkStoredLevels(
            sym.getValue(), mlir::qrealign::getParamStorage(fn, i),
            type.getShape(), p->data, type.getNumElements()))
      return err;
    // The parameters do not move: their descriptors are built once.
    bound.params.push_back(Descriptor(p->data, type.getShape()).words);
  }
  for (Type t : fn.getResultTypes()) {
    auto r = dyn_cast<RankedTensorType>(t);
    if (!r || r.getRank() != 3 || !r.getElementType().isF32())
      return llvm::createStringError(
          "@" + fn.getSymName() + " returns a result that is not f32 rank 3");
  }
  return bound;
}

llvm::Expected<std::unique_ptr<CompiledModel>>
CompiledModel::create(ModuleOp module, const Program &parameters) {
  std::unique_ptr<CompiledModel> model(new CompiledModel());
  model->memory = std::make_unique<HostSpace>();
  // The parameters as the engine program loaded them (its first entry of
  // each name: later ones are weights it computed, such as dequantized).
  llvm::StringMap<const qr_param *> byName;
  const qr_program &prog = parameters.get();
  for (int i = 0; i < prog.num_params; ++i)
    byName.try_emplace(prog.params[i].name, &prog.params[i]);

  // @forward, @prefill and @decode, their parameters as arguments.
  model->compiled = module.clone();
  ModuleOp clone = *model->compiled;
  PassManager pm(module.getContext());
  pm.addPass(mlir::qrealign::createQRealignBuildKVCachePass());
  pm.addPass(mlir::qrealign::createQRealignBindParamsPass());
  if (failed(pm.run(clone)))
    return llvm::createStringError(
        "qrealign-build-kv-cache or qrealign-bind-params failed");
  auto forward = clone.lookupSymbol<func::FuncOp>("forward");
  auto logits = cast<RankedTensorType>(forward.getResultTypes()[0]);
  if (logits.getRank() != 3 || logits.isDynamicDim(2))
    return llvm::createStringError("@forward does not return [B, S, vocab]");
  model->vocab = logits.getDimSize(2);
  keepModelEntryPoints(clone);
  auto prefill = clone.lookupSymbol<func::FuncOp>("prefill");
  auto decode = clone.lookupSymbol<func::FuncOp>("decode");
  unsigned cached = prefill.getNumResults() - 1;
  for (auto [fn, first, into] :
       {std::tuple{prefill, 3u, &model->prefillFn},
        std::tuple{decode, 3u + cached, &model->decodeFn}}) {
    auto bound = bindArguments(fn, first, byName);
    if (!bound)
      return bound.takeError();
    *into = std::move(*bound);
  }
  auto jit = JitModule::compile(clone);
  if (!jit)
    return jit.takeError();
  model->jit = std::move(*jit);
  model->invoke = [jit = model->jit.get()](llvm::StringRef name,
                                           llvm::MutableArrayRef<void *> args) {
    return jit->invokePacked(name, args);
  };
  // Compile now (the JIT compiles on the first lookup), not in the first
  // call: loading is one cost, running another.
  for (const char *name : {"prefill", "decode"})
    if (auto fn = model->jit->lookup(name); !fn)
      return fn.takeError();
  return model;
}

/// The checkpoint dtype of a manifest dtype (MLIR's spelling).
static std::optional<DType> storedDType(llvm::StringRef dtype) {
  return llvm::StringSwitch<std::optional<DType>>(dtype)
      .Case("f32", DType::F32)
      .Case("f16", DType::F16)
      .Case("bf16", DType::BF16)
      .Case("i8", DType::I8)
      .Case("ui8", DType::U8)
      .Case("i32", DType::I32)
      .Case("i64", DType::I64)
      .Default(std::nullopt);
}

/// "i64 [1, ?]".
static std::string describe(const ManifestTensor &t) {
  std::string s = t.dtype + " [";
  for (auto [i, d] : llvm::enumerate(t.shape))
    s += (i ? ", " : "") + (d ? std::to_string(*d) : std::string("?"));
  return s + "]";
}

/// Checks that prefill and decode have the signatures generate() calls:
/// (ids i64, positions i64, mask i1) [+ the cache] -> f32 rank-3 results,
/// the first the logits with a static vocabulary; returns the vocabulary.
static llvm::Expected<int64_t> checkSignatures(const ManifestFunction &prefill,
                                               const ManifestFunction &decode,
                                               llvm::StringRef origin) {
  auto fail = [&](const llvm::Twine &msg) {
    return llvm::createStringError(origin + ": " + msg);
  };
  auto isRank = [](const ManifestTensor &t, llvm::StringRef dtype,
                   size_t rank) {
    return t.dtype == dtype && t.shape.size() == rank;
  };
  if (prefill.results.empty())
    return fail("@prefill returns nothing");
  for (const ManifestFunction *fn : {&prefill, &decode}) {
    llvm::StringRef name = fn == &prefill ? "@prefill" : "@decode";
    size_t expected = 3 + (fn == &decode ? prefill.results.size() - 1 : 0);
    if (fn->arguments.size() != expected)
      return fail(name + " takes " + llvm::Twine(fn->arguments.size()) +
                  " inputs, expected " + llvm::Twine(expected));
    if (!isRank(fn->arguments[0], "i64", 2) ||
        !isRank(fn->arguments[1], "i64", 2) ||
        !isRank(fn->arguments[2], "i1", 2))
      return fail(name +
                  " does not take (ids i64 [B, S], positions i64 "
                  "[B, S], mask i1 [B, S]) but (" +
                  describe(fn->arguments[0]) + ", " +
                  describe(fn->arguments[1]) + ", " +
                  describe(fn->arguments[2]) + ")");
    if (fn->results.size() != prefill.results.size())
      return fail("@decode returns " + llvm::Twine(decode.results.size()) +
                  " results, @prefill " + llvm::Twine(prefill.results.size()));
    for (const ManifestTensor &r : fn->results)
      if (!isRank(r, "f32", 3))
        return fail(name + " returns " + describe(r) +
                    ", not an f32 rank-3 tensor");
  }
  for (size_t i = 1; i < prefill.results.size(); ++i)
    if (describe(decode.arguments[2 + i]) != describe(prefill.results[i]))
      return fail("@decode's cache input " + llvm::Twine(i - 1) + " is " +
                  describe(decode.arguments[2 + i]) + ", @prefill returns " +
                  describe(prefill.results[i]));
  std::optional<int64_t> vocab = prefill.results[0].shape[2];
  if (!vocab || *vocab <= 0)
    return fail("@prefill's logits have no static vocabulary size");
  return *vocab;
}

llvm::Expected<std::unique_ptr<CompiledModel>> CompiledModel::load(
    llvm::StringRef objectPath,
    llvm::ArrayRef<std::pair<std::string, std::string>> scopeFiles) {
  auto object = ObjectModule::load(objectPath);
  if (!object)
    return object.takeError();
  std::string origin = objectPath.str();
  auto manifest = parseManifest((*object)->getManifest(), origin);
  if (!manifest)
    return manifest.takeError();
  auto fail = [&](const llvm::Twine &msg) {
    return llvm::createStringError(origin + ": " + msg);
  };
  // The scopes' files: relative to the object's directory as recorded,
  // relative to the working directory when given.
  std::map<std::string, std::string> files;
  llvm::StringRef dir = llvm::sys::path::parent_path(objectPath);
  for (const auto &[scope, path] : manifest->scopes) {
    llvm::SmallString<256> file(path);
    if (llvm::sys::path::is_relative(path) && !dir.empty()) {
      file = dir;
      llvm::sys::path::append(file, path);
    }
    files[scope] = file.str().str();
  }
  for (const auto &[scope, path] : scopeFiles) {
    if (!files.count(scope))
      return fail("--params " + scope + "=" + path +
                  ": no parameter of the object is in scope '" + scope + "'");
    files[scope] = path;
  }
  auto prefill = manifest->functions.find("prefill");
  auto decode = manifest->functions.find("decode");
  if (prefill == manifest->functions.end() ||
      decode == manifest->functions.end())
    return fail("the object has no @prefill and @decode with parameters "
                "(qrealign-compile compiles a model's @forward into them)");
  llvm::Expected<int64_t> vocab =
      checkSignatures(prefill->second, decode->second, origin);
  if (!vocab)
    return vocab.takeError();

  std::unique_ptr<CompiledModel> model(new CompiledModel());
  model->vocab = *vocab;
  model->device = (*object)->getDevice().str();
  if ((*object)->isCUDA())
    model->memory = std::make_unique<CudaSpace>();
  else if ((*object)->getDevice() == kEmulatedGPU)
    model->memory = std::make_unique<EmulatedGPUSpace>();
  else
    model->memory = std::make_unique<HostSpace>();
  std::map<std::string, Checkpoint *> opened;
  std::map<const void *, void *> placedByData;
  for (auto [manifestFn, into] :
       {std::pair{&prefill->second, &model->prefillFn},
        std::pair{&decode->second, &model->decodeFn}}) {
    into->numInputs = manifestFn->inputs;
    into->numResults = manifestFn->results.size();
    for (const ManifestParam &p : manifestFn->params) {
      Checkpoint *&ckpt = opened[p.scope];
      if (!ckpt) {
        auto c = Checkpoint::open(files[p.scope]);
        if (!c)
          return fail("scope '" + p.scope +
                      "': " + llvm::toString(c.takeError()));
        model->checkpoints.push_back(std::move(*c));
        ckpt = model->checkpoints.back().get();
      }
      std::vector<int64_t> shape;
      for (std::optional<int64_t> d : p.shape)
        shape.push_back(*d);
      const TensorInfo *t = ckpt->lookup(p.tensor);
      if (!t)
        return fail("parameter @" + p.symbol + ": tensor '" + p.tensor +
                    "' is not in " + ckpt->getPath() + " (scope '" + p.scope +
                    "')");
      std::optional<DType> dtype = storedDType(p.dtype);
      if (!dtype || *dtype != t->dtype ||
          llvm::ArrayRef<int64_t>(t->shape) != llvm::ArrayRef(shape))
        return fail("parameter @" + p.symbol + ": tensor '" + p.tensor +
                    "' is " + getDTypeName(t->dtype) + " " +
                    t->getShapeString() + " in " + ckpt->getPath() +
                    " but the object binds " + describe(p));
      auto data = ckpt->getData(*t);
      if (!data)
        return fail("parameter @" + p.symbol + ": " +
                    llvm::toString(data.takeError()));
      if (llvm::Error err = checkStoredLevels(p.symbol, p.storage, shape,
                                              data->data(), data->size()))
        return fail(llvm::toString(std::move(err)));
      // Each tensor once in the code's memory (uploaded once to a GPU),
      // even where both functions bind it.
      void *&placed = placedByData[data->data()];
      if (!placed) {
        auto where = model->memory->place(data->data(), data->size());
        if (!where)
          return fail("parameter @" + p.symbol + ": " +
                      llvm::toString(where.takeError()));
        placed = *where;
        model->placedParams.push_back(placed);
      }
      into->params.push_back(Descriptor(placed, shape).words);
    }
  }
  llvm::StringMap<void (*)(void **)> entries;
  for (const char *name : {"prefill", "decode"}) {
    auto entry = (*object)->lookupPacked(name);
    if (!entry)
      return fail(llvm::toString(entry.takeError()));
    entries[name] = *entry;
  }
  model->object = std::move(*object);
  model->invoke = [entries = std::move(entries)](
                      llvm::StringRef name,
                      llvm::MutableArrayRef<void *> args) -> llvm::Error {
    auto it = entries.find(name);
    if (it == entries.end())
      return llvm::createStringError("no function @" + name);
    it->second(args.data());
    return llvm::Error::success();
  };
  return model;
}

llvm::Error CompiledModel::call(llvm::StringRef name, const BoundFunction &fn,
                                llvm::ArrayRef<Input> inputs,
                                llvm::ArrayRef<Result *> cache,
                                std::vector<Result> &results) {
  // The inputs in the code's memory, for this call.
  std::vector<void *> placed;
  auto dropInputs = [&] {
    for (void *p : placed)
      memory->drop(p);
  };
  std::vector<Descriptor> descriptors;
  for (const Input &in : inputs) {
    auto where = memory->place(in.data, in.bytes);
    if (!where) {
      dropInputs();
      return where.takeError();
    }
    placed.push_back(*where);
    descriptors.emplace_back(*where, in.sizes);
  }
  results.assign(fn.numResults, Result{});
  // The C interface: the results' descriptors first (one struct of them),
  // then one descriptor pointer per argument.
  std::vector<void *> pointers = {results.data()};
  for (Descriptor &d : descriptors)
    pointers.push_back(d.words.data());
  for (Result *r : cache)
    pointers.push_back(r);
  for (const std::vector<int64_t> &words : fn.params)
    pointers.push_back(const_cast<int64_t *>(words.data()));
  std::vector<void *> packed;
  for (void *&p : pointers)
    packed.push_back(&p);
  memory->beforeCall();
  llvm::Error err = invoke(name, packed);
  dropInputs();
  if (!err)
    err = memory->checkCall(name);
  if (err) {
    // A cache result may be its input, updated in place: the caller's.
    for (Result &r : results)
      if (llvm::none_of(cache, [&](const Result *in) {
            return in->allocated == r.allocated;
          }))
        memory->releaseResult(r.allocated);
    results.clear();
  }
  return err;
}

void CompiledModel::release(std::vector<Result> &results) {
  for (Result &r : results)
    memory->releaseResult(r.allocated);
  results.clear();
}

llvm::Expected<std::vector<std::vector<float>>>
CompiledModel::forward(llvm::ArrayRef<std::vector<int64_t>> batch) {
  std::vector<std::vector<float>> rows;
  for (const std::vector<int64_t> &ids : batch) {
    std::vector<Result> out;
    if (llvm::Error err = prefill(ids, out))
      return std::move(err);
    auto row = lastRow(out.front());
    release(out);
    if (!row)
      return row.takeError();
    rows.push_back(std::move(*row));
  }
  return rows;
}

llvm::Error CompiledModel::prefill(llvm::ArrayRef<int64_t> ids,
                                   std::vector<Result> &out) {
  int64_t s = ids.size();
  if (s == 0)
    return llvm::createStringError("an empty sequence (no token to run)");
  // The compiled embedding gathers rows without bounds checks.
  for (int64_t i = 0; i < s; ++i)
    if (ids[i] < 0 || ids[i] >= vocab)
      return llvm::createStringError(
          llvm::formatv("token id {0} at position {1} is outside the "
                        "vocabulary [0, {2})",
                        ids[i], i, vocab)
              .str());
  std::vector<int64_t> positions(s);
  for (int64_t i = 0; i < s; ++i)
    positions[i] = i;
  std::vector<uint8_t> mask(s, 1);
  size_t words = s * sizeof(int64_t);
  return call("prefill", prefillFn,
              {Input{ids.data(), words, {1, s}},
               Input{positions.data(), words, {1, s}},
               Input{mask.data(), size_t(s), {1, s}}},
              {}, out);
}

llvm::Expected<std::vector<float>>
CompiledModel::lastRow(const Result &logits) const {
  std::vector<float> row(vocab);
  int64_t t = logits.sizes[1] - 1;
  const float *first = logits.aligned + logits.offset + t * logits.strides[1];
  if (logits.strides[2] == 1) {
    if (llvm::Error err =
            memory->fetch(row.data(), first, vocab * sizeof(float)))
      return std::move(err);
    return row;
  }
  for (int64_t v = 0; v < vocab; ++v)
    if (llvm::Error err = memory->fetch(&row[v], first + v * logits.strides[2],
                                        sizeof(float)))
      return std::move(err);
  return row;
}

llvm::Error CompiledModel::growCaches(const std::vector<Result> &prefilled,
                                      int64_t capacity,
                                      std::vector<Result> &caches) {
  for (size_t i = 1; i < prefilled.size(); ++i) {
    const Result &r = prefilled[i];
    int64_t length = r.sizes[1], width = r.sizes[2];
    if (r.sizes[0] != 1 || r.strides[2] != 1 || r.strides[1] != width ||
        length > capacity)
      return llvm::createStringError(
          llvm::formatv("@prefill's cache {0} is not one contiguous "
                        "[1, {1}, {2}] buffer within a capacity of {3}",
                        i - 1, length, width, capacity)
              .str());
    auto buffer = memory->allocate(capacity * width * sizeof(float));
    if (!buffer)
      return buffer.takeError();
    Result grown{};
    grown.allocated = grown.aligned = static_cast<float *>(*buffer);
    grown.offset = 0;
    grown.sizes[0] = 1;
    grown.sizes[1] = capacity;
    grown.sizes[2] = width;
    grown.strides[0] = capacity * width;
    grown.strides[1] = width;
    grown.strides[2] = 1;
    caches.push_back(grown);
    if (llvm::Error err = memory->copy(grown.aligned, r.aligned + r.offset,
                                       length * width * sizeof(float)))
      return err;
  }
  return llvm::Error::success();
}

llvm::Expected<GenerateResult>
CompiledModel::generate(llvm::ArrayRef<std::vector<int64_t>> batch,
                        int maxNewTokens, llvm::ArrayRef<int64_t> eosIds) {
  GenerateResult result;
  for (const std::vector<int64_t> &prompt : batch) {
    std::vector<int64_t> generated;
    result.stats.prompt_tokens += prompt.size();
    if (maxNewTokens <= 0) {
      result.tokens.push_back(generated);
      continue;
    }
    int64_t s = prompt.size();
    auto t0 = std::chrono::steady_clock::now();
    std::vector<Result> out;
    if (llvm::Error err = prefill(prompt, out))
      return std::move(err);
    auto t1 = std::chrono::steady_clock::now();
    result.stats.prefill_seconds +=
        std::chrono::duration<double>(t1 - t0).count();
    // The first maximum, as argmax in the engine.
    auto argmax = [&](const std::vector<float> &row) {
      return int64_t(std::max_element(row.begin(), row.end()) - row.begin());
    };
    auto first = lastRow(out.front());
    if (!first) {
      release(out);
      return first.takeError();
    }
    int64_t next = argmax(*first);
    // The caches with room for every position this generation reaches:
    // @decode writes the new positions into them in place.
    std::vector<Result> caches;
    llvm::Error grown = growCaches(out, s + maxNewTokens, caches);
    release(out);
    if (grown) {
      release(caches);
      return std::move(grown);
    }
    int64_t length = s;
    while (true) {
      // The stop token is part of the output, as the engine returns it.
      generated.push_back(next);
      ++result.stats.generated_tokens;
      if (llvm::is_contained(eosIds, next) ||
          int(generated.size()) >= maxNewTokens)
        break;
      int64_t position = length++;
      std::vector<uint8_t> fullMask(length, 1);
      std::vector<Result *> cache;
      for (Result &c : caches)
        cache.push_back(&c);
      std::vector<Result> step;
      if (llvm::Error err =
              call("decode", decodeFn,
                   {Input{&next, sizeof(int64_t), {1, 1}},
                    Input{&position, sizeof(int64_t), {1, 1}},
                    Input{fullMask.data(), size_t(length), {1, length}}},
                   cache, step)) {
        release(caches);
        return std::move(err);
      }
      // Each cache comes back as itself (updated in place) or, should the
      // code have copied it, as a new buffer that replaces it.
      for (size_t i = 1; i < step.size(); ++i)
        if (step[i].allocated != caches[i - 1].allocated) {
          memory->releaseResult(caches[i - 1].allocated);
          caches[i - 1] = step[i];
        }
      auto row = lastRow(step.front());
      memory->releaseResult(step.front().allocated);
      if (!row) {
        release(caches);
        return row.takeError();
      }
      next = argmax(*row);
    }
    release(caches);
    result.stats.decode_seconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t1)
            .count();
    result.tokens.push_back(std::move(generated));
  }
  return result;
}
