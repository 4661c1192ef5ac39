//===- CompiledModel.cpp - A model's @forward compiled for the host -------===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Compiled/CompiledModel.h"

#include "qrealign/Conversion/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FormatVariadic.h"

#include <chrono>
#include <cstdlib>

using namespace mlir;
using namespace ::qrealign;

CompiledModel::~CompiledModel() = default;

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

int32_t dtypeOf(Type t) {
  if (t.isF32())
    return QR_DTYPE_F32;
  if (t.isF16())
    return QR_DTYPE_F16;
  if (t.isBF16())
    return QR_DTYPE_BF16;
  if (t.isInteger(8))
    return cast<IntegerType>(t).isUnsigned() ? QR_DTYPE_U8 : QR_DTYPE_I8;
  if (t.isInteger(32))
    return QR_DTYPE_I32;
  if (t.isInteger(64))
    return QR_DTYPE_I64;
  return -1;
}
} // namespace

llvm::Expected<std::unique_ptr<CompiledModel>>
CompiledModel::create(ModuleOp module,
                      const mlir::qrealign::ParamEnvironment &env) {
  std::unique_ptr<CompiledModel> model(new CompiledModel());
  // The parameters, read and checked as the engine reads them.
  FailureOr<std::unique_ptr<Program>> program =
      lowerToProgram(module, env, "forward");
  if (failed(program))
    return llvm::createStringError("cannot load the model's parameters (see "
                                   "the diagnostics above)");
  model->program = std::move(*program);
  llvm::StringMap<const qr_param *> byName;
  const qr_program &prog = model->program->get();
  for (int i = 0; i < prog.num_params; ++i)
    byName.try_emplace(prog.params[i].name, &prog.params[i]);

  model->compiled = module.clone();
  ModuleOp clone = *model->compiled;
  PassManager bind(module.getContext());
  bind.addPass(mlir::qrealign::createQRealignBindParamsPass());
  if (failed(bind.run(clone)))
    return llvm::createStringError("qrealign-bind-params failed");
  auto forward = clone.lookupSymbol<func::FuncOp>("forward");
  if (!forward || forward.getNumArguments() < 3 || forward.getNumResults() != 1)
    return llvm::createStringError(
        "the module has no @forward(ids, positions, mask) -> logits");
  auto logits = dyn_cast<RankedTensorType>(forward.getResultTypes()[0]);
  if (!logits || logits.getRank() != 3 || logits.isDynamicDim(2))
    return llvm::createStringError("@forward does not return [B, S, vocab]");
  model->vocab = logits.getDimSize(2);
  for (unsigned i = 3; i < forward.getNumArguments(); ++i) {
    auto sym = forward.getArgAttrOfType<FlatSymbolRefAttr>(i, "qrealign.param");
    if (!sym)
      return llvm::createStringError(
          llvm::formatv("@forward argument {0} is not a bound parameter", i));
    auto it = byName.find(sym.getValue());
    auto type = cast<RankedTensorType>(forward.getArgumentTypes()[i]);
    if (it == byName.end())
      return llvm::createStringError("parameter @" + sym.getValue() +
                                     " was not loaded");
    const qr_param *p = it->second;
    if (p->dtype != dtypeOf(type.getElementType()) ||
        p->rank != type.getRank() ||
        !llvm::equal(llvm::ArrayRef<int64_t>(p->shape, p->rank),
                     type.getShape()))
      return llvm::createStringError("parameter @" + sym.getValue() +
                                     " does not match its argument's type");
    model->bound.push_back(p);
    model->boundShapes.emplace_back(type.getShape());
  }
  auto jit = JitModule::compile(clone);
  if (!jit)
    return jit.takeError();
  model->jit = std::move(*jit);
  return model;
}

llvm::Expected<std::vector<float>>
CompiledModel::run(llvm::ArrayRef<int64_t> ids) {
  int64_t s = ids.size();
  std::vector<int64_t> positions(s);
  for (int64_t i = 0; i < s; ++i)
    positions[i] = i;
  std::vector<uint8_t> mask(s, 1);
  std::vector<Descriptor> descs;
  descs.reserve(3 + bound.size() + 1);
  descs.emplace_back(nullptr, llvm::ArrayRef<int64_t>{0, 0, 0}); // result
  descs.emplace_back(ids.data(), llvm::ArrayRef<int64_t>{1, s});
  descs.emplace_back(positions.data(), llvm::ArrayRef<int64_t>{1, s});
  descs.emplace_back(mask.data(), llvm::ArrayRef<int64_t>{1, s});
  for (auto [p, shape] : llvm::zip(bound, boundShapes))
    descs.emplace_back(p->data, shape);
  std::vector<void *> pointers, packed;
  for (Descriptor &d : descs)
    pointers.push_back(d.words.data());
  for (void *&p : pointers)
    packed.push_back(&p);
  if (llvm::Error err = jit->invokePacked("forward", packed))
    return std::move(err);
  // The result: [1, S, vocab] f32, allocated by the compiled code.
  const std::vector<int64_t> &r = descs.front().words;
  auto *allocated = reinterpret_cast<float *>(r[0]);
  auto *aligned = reinterpret_cast<float *>(r[1]);
  int64_t offset = r[2];
  if (r[3] != 1 || r[4] != s || r[5] != vocab) {
    free(allocated);
    return llvm::createStringError("@forward returned an unexpected shape");
  }
  std::vector<float> out(s * vocab);
  for (int64_t t = 0; t < s; ++t)
    for (int64_t v = 0; v < vocab; ++v)
      out[t * vocab + v] = aligned[offset + t * r[7] + v * r[8]];
  free(allocated);
  return out;
}

llvm::Expected<std::vector<std::vector<float>>>
CompiledModel::forward(llvm::ArrayRef<std::vector<int64_t>> batch) {
  std::vector<std::vector<float>> rows;
  for (const std::vector<int64_t> &ids : batch) {
    auto logits = run(ids);
    if (!logits)
      return logits.takeError();
    rows.emplace_back(logits->end() - vocab, logits->end());
  }
  return rows;
}

llvm::Expected<GenerateResult>
CompiledModel::generate(llvm::ArrayRef<std::vector<int64_t>> batch,
                        int maxNewTokens, llvm::ArrayRef<int64_t> eosIds) {
  GenerateResult result;
  for (const std::vector<int64_t> &prompt : batch) {
    std::vector<int64_t> seq = prompt, generated;
    result.stats.prompt_tokens += prompt.size();
    for (int step = 0; step < maxNewTokens; ++step) {
      auto t0 = std::chrono::steady_clock::now();
      auto logits = run(seq);
      if (!logits)
        return logits.takeError();
      double dt =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
              .count();
      (step == 0 ? result.stats.prefill_seconds
                 : result.stats.decode_seconds) += dt;
      const float *last = logits->data() + (seq.size() - 1) * vocab;
      // The first maximum, as argmax in the engine.
      int64_t best = 0;
      for (int64_t v = 1; v < vocab; ++v)
        if (last[v] > last[best])
          best = v;
      // The stop token is part of the output, as the engine returns it.
      generated.push_back(best);
      seq.push_back(best);
      ++result.stats.generated_tokens;
      if (llvm::is_contained(eosIds, best))
        break;
    }
    result.tokens.push_back(std::move(generated));
  }
  return result;
}
