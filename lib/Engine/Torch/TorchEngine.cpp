//===- TorchEngine.cpp - The libtorch execution engine --------------------===//
//
// Implements EngineAPI.h on ATen tensors (CPU, or CUDA with a CUDA-enabled
// libtorch). This is the only translation unit of the project that includes
// libtorch headers; it uses only APIs that exist in libtorch 1.13 and 2.x.
// Exceptions (c10::Error, std::bad_alloc) never cross the C boundary.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Engine/EngineAPI.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/GradMode.h>
#include <c10/core/InferenceMode.h>

#include <dlfcn.h>
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <limits>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#ifndef QREALIGN_TORCH_VERSION
#define QREALIGN_TORCH_VERSION "unknown"
#endif

namespace {
using at::Tensor;

struct EngineError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Per-attention key/value history for decoding.
struct KVCache {
  std::map<int, std::pair<Tensor, Tensor>> kv; // instr index -> (k, v)
  Tensor mask;                                 // [B, past] bool
};

at::ScalarType toScalarType(int32_t dtype) {
  switch (dtype) {
  case QR_DTYPE_F32:
    return at::kFloat;
  case QR_DTYPE_F16:
    return at::kHalf;
  case QR_DTYPE_BF16:
    return at::kBFloat16;
  case QR_DTYPE_I8:
    return at::kChar;
  case QR_DTYPE_U8:
    return at::kByte;
  case QR_DTYPE_I32:
    return at::kInt;
  case QR_DTYPE_I64:
    return at::kLong;
  case QR_DTYPE_BOOL:
    return at::kBool;
  }
  throw EngineError("unknown parameter dtype " + std::to_string(dtype));
}

/// Rounding to nearest (ties to even). Under autograd the gradient passes
/// straight through (x + (round(x) - x).detach(), the same value: the
/// difference is exact by Sterbenz's lemma).
Tensor roundSTE(const Tensor &x) {
  if (!c10::GradMode::is_enabled() || !x.requires_grad())
    return x.round();
  return x + (x.round() - x).detach();
}

/// Round-to-nearest quantize-dequantize of each row (last axis) of `x` with
/// its own min-max range: signed levels without zero point when `symmetric`,
/// unsigned levels with a zero point otherwise. `clipMax` / `clipMin`, when
/// defined, are learnable clipping logits with one element per row: the
/// range's maximum and minimum are scaled by their sigmoids (OmniQuant's
/// LWC). The formulas of qrealign/Quant/Quantizer.h (the range always holds
/// 0), in libtorch, differentiable: rounding passes gradients straight
/// through, clamping stops them.
Tensor quantDequantRows(const Tensor &x, int bits, bool symmetric,
                        const Tensor &clipMax = Tensor(),
                        const Tensor &clipMin = Tensor()) {
  double levels = std::pow(2.0, bits);
  if (symmetric) {
    double qmax = levels / 2 - 1, qmin = -levels / 2;
    Tensor absMax = x.abs().amax(-1, true);
    if (clipMax.defined())
      absMax = absMax * at::sigmoid(clipMax.reshape({-1, 1}));
    Tensor scale = absMax.clamp_min(1e-8) / qmax;
    return roundSTE(x / scale).clamp(qmin, qmax) * scale;
  }
  Tensor mx = x.amax(-1, true).clamp_min(0), mn = x.amin(-1, true).clamp_max(0);
  if (clipMax.defined())
    mx = mx * at::sigmoid(clipMax.reshape({-1, 1}));
  if (clipMin.defined())
    mn = mn * at::sigmoid(clipMin.reshape({-1, 1}));
  Tensor scale = ((mx - mn) / (levels - 1)).clamp_min(1e-8);
  Tensor zp = roundSTE(-mn / scale);
  return (roundSTE(x / scale) + zp).clamp(0, levels - 1).sub(zp) * scale;
}

/// Quantize-dequantize `w` [N, K] with min-max ranges (round to nearest).
Tensor fakeQuantWeight(const Tensor &w, const qr_quant &q) {
  if (q.w_bits >= 16)
    return w;
  int64_t N = w.size(0), K = w.size(1);
  Tensor x;
  switch (q.granularity) {
  case 0:
    x = w.reshape({1, N * K});
    break;
  case 1:
    x = w;
    break;
  case 2:
    if (q.group_size <= 0 || K % q.group_size)
      throw EngineError("group size " + std::to_string(q.group_size) +
                        " does not divide " + std::to_string(K));
    x = w.reshape({N * (K / q.group_size), q.group_size});
    break;
  default:
    throw EngineError("unknown granularity");
  }
  Tensor out = quantDequantRows(x, q.w_bits, q.symmetric);
  return out.reshape({N, K});
}

/// Dynamic per-token quantize-dequantize of activations [..., K]: with a
/// zero point per token (OmniQuant's activation quantizer) or, with
/// `act_symmetric`, without (llm-compressor's). The scheme's `symmetric` is
/// the weights'.
Tensor fakeQuantActivation(const Tensor &x, const qr_quant &q) {
  if (q.a_bits >= 16)
    return x;
  return quantDequantRows(x, q.a_bits, q.act_symmetric != 0);
}

/// The QR_OP_FAKE_QUANT instruction `in` on `x` (see EngineAPI.h): dynamic
/// min-max ranges (with clipping logits), or the static per-tensor scale
/// and zero point.
Tensor fakeQuantOp(const Tensor &x, const qr_instr &in,
                   const std::vector<Tensor> &params) {
  int bits = int(in.i0);
  bool symmetric = in.flags & 1;
  if (in.params[0] >= 0) {
    double half = std::pow(2.0, bits - 1);
    Tensor s = params.at(in.params[0]).reshape({});
    Tensor z = in.params[1] >= 0 ? params.at(in.params[1]).reshape({})
                                 : at::zeros({}, x.options());
    return ((x / s).round() + z).clamp(-half, half - 1).sub(z) * s;
  }
  int64_t k = x.size(-1);
  Tensor rows;
  if (in.i1 < 0)
    rows = x.reshape({1, -1});
  else if (in.i1 == 0)
    rows = x.reshape({-1, k});
  else if (k % in.i1)
    throw EngineError("fake_quantize group size " + std::to_string(in.i1) +
                      " does not divide " + std::to_string(k));
  else
    rows = x.reshape({-1, in.i1});
  Tensor clipMax = in.params[2] >= 0 ? params.at(in.params[2]) : Tensor();
  Tensor clipMin = in.params[3] >= 0 ? params.at(in.params[3]) : Tensor();
  for (const Tensor &c : {clipMax, clipMin})
    if (c.defined() && c.numel() != rows.size(0))
      throw EngineError("fake_quantize has " + std::to_string(rows.size(0)) +
                        " ranges but " + std::to_string(c.numel()) +
                        " clipping logits");
  return quantDequantRows(rows, bits, symmetric, clipMax, clipMin)
      .reshape(x.sizes());
}

/// `n` compute threads: libtorch's intra-op (OpenMP) pool and OpenBLAS's own
/// pthread pool, which at::set_num_threads does not reach (the pthread
/// build of OpenBLAS otherwise runs its GEMMs on one thread per core).
void setThreads(int n) {
  at::set_num_threads(n);
  // The engine library is loaded RTLD_LOCAL: look the function up in the
  // already-loaded OpenBLAS itself.
  using SetThreads = void (*)(int);
  for (const char *name : {"libopenblas.so.0", "libblas.so.3"}) {
    void *lib = dlopen(name, RTLD_NOW | RTLD_NOLOAD);
    if (!lib)
      continue;
    auto set =
        reinterpret_cast<SetThreads>(dlsym(lib, "openblas_set_num_threads"));
    if (set)
      set(n);
    dlclose(lib);
    if (set)
      break;
  }
}

/// The engine allocates and frees activations of the same few sizes on
/// every instruction. glibc returns large blocks to the kernel at once
/// (mmap threshold, heap trimming), so each new one is page-faulted in
/// again: on the lab model's batch-32 forward that was about 80k faults per
/// pass and half the time. Keep freed memory in the heap instead (the
/// process's, as MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_ would),
/// unless the user set those variables.
void keepFreedMemory() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (!std::getenv("MALLOC_MMAP_THRESHOLD_"))
      mallopt(M_MMAP_THRESHOLD, 32 << 20); // glibc's maximum on 64-bit
    if (!std::getenv("MALLOC_TRIM_THRESHOLD_"))
      mallopt(M_TRIM_THRESHOLD, 1 << 30);
  });
}

/// True when every slot of `captured` is filled.
bool allCaptured(const std::map<int, int> &slots,
                 const std::vector<Tensor> &captured) {
  for (const auto &[layer, slot] : slots)
    if (!captured[slot].defined())
      return false;
  return true;
}

class Engine {
public:
  Engine(const qr_program &p, const qr_engine_options &o) : prog(p) {
    prog.params = nullptr;
    prog.instrs = nullptr;
    std::string dev = o.device && *o.device ? o.device : "cpu";
    if (dev.rfind("cuda", 0) == 0) {
      if (!at::hasCUDA())
        throw EngineError("device '" + dev +
                          "' requested but this engine's libtorch (" +
                          std::string(QREALIGN_TORCH_VERSION) +
                          ") has no CUDA support or no GPU is visible");
    } else if (dev != "cpu") {
      throw EngineError("unknown device '" + dev + "' (use cpu or cuda)");
    }
    device = at::Device(dev);
    deviceName = device.str();
    if (device.is_cuda() && !device.has_index())
      deviceName = "cuda:0";
    if (o.num_threads > 0)
      setThreads(o.num_threads);
    if (!device.is_cuda())
      keepFreedMemory();
    if (p.abi_version != QR_ENGINE_ABI_VERSION)
      throw EngineError("program ABI mismatch");
    instrs.assign(p.instrs, p.instrs + p.num_instrs);
    if (p.num_inputs < 0 || p.num_outputs < 0 || (p.num_inputs && !p.inputs) ||
        (p.num_outputs && !p.outputs))
      throw EngineError("program inputs or outputs are missing");
    inputs.assign(p.inputs, p.inputs + p.num_inputs);
    outputs.assign(p.outputs, p.outputs + p.num_outputs);
    prog.inputs = prog.outputs = nullptr;
    for (qr_instr &in : instrs) {
      names.emplace_back(in.name ? in.name : "");
      in.name = names.back().c_str();
    }
    c10::InferenceMode guard;
    // Parameters: copied to the device in f32 (the engine computes in f32),
    // those the instructions read. The others (packed levels and float
    // weights that the lowering turned into computed weights) stay behind
    // as empty placeholders.
    std::vector<bool> read(p.num_params, false);
    for (const qr_instr &in : instrs)
      for (int32_t i : in.params)
        if (i >= 0 && i < p.num_params)
          read[i] = true;
    for (int32_t i = 0; i < p.num_params; ++i) {
      const qr_param &pp = p.params[i];
      paramNames.emplace_back(pp.name ? pp.name : "");
      paramFlags.push_back(pp.flags);
      if (!read[i]) {
        params.push_back(at::empty(
            {0}, at::TensorOptions().dtype(at::kFloat).device(device)));
        unread.insert(i);
        continue;
      }
      std::vector<int64_t> shape(pp.shape, pp.shape + pp.rank);
      Tensor t =
          at::from_blob(const_cast<void *>(pp.data), shape,
                        at::TensorOptions().dtype(toScalarType(pp.dtype)));
      params.push_back(t.to(device, at::kFloat, /*non_blocking=*/false,
                            /*copy=*/true));
    }
    // Linear weights with a scheme are fake-quantized once (those computed
    // at run time are values).
    for (size_t i = 0; i < instrs.size(); ++i) {
      const qr_instr &in = instrs[i];
      if (in.opcode != QR_OP_LINEAR || in.params[0] < 0)
        continue;
      Tensor w = params.at(in.params[0]);
      if (w.dim() != 2)
        throw EngineError("linear weight must be 2-D");
      linearWeights[i] = fakeQuantWeight(w, in.quant);
    }
    // Last use of each value, to free activations early.
    lastUse.assign(p.num_values, -1);
    for (size_t i = 0; i < instrs.size(); ++i)
      for (int32_t v : instrs[i].inputs)
        if (v >= 0)
          lastUse.at(v) = i;
    // A function program's outputs live to the end.
    for (int32_t v : outputs)
      lastUse.at(v) = std::numeric_limits<int>::max();
  }

  /// Which positions the program's output (the LM head) is computed at.
  enum class Head {
    All,  // every position
    Last, // the last position only ([B, 1, V]): the head's input is sliced
    None  // no logits: stop after the last captured layer
  };

  /// A replacement of the residual stream after one layer: rows `batch`
  /// at sequence positions `seq` become `values` ([n, hidden]).
  struct Patch {
    int32_t layer = -1;
    Tensor batch, seq, values;
  };

  /// Runs the program. `captureLayers` (layer -> slot) receives layer
  /// outputs; `patch`, when given, replaces some of one layer's output.
  Tensor run(const Tensor &ids, const Tensor &pos, const Tensor &mask,
             KVCache *cache, const std::map<int, int> *captureLayers,
             std::vector<Tensor> *captured, Head head = Head::All,
             const Patch *patch = nullptr) {
    std::vector<Tensor> vals(prog.num_values);
    vals[prog.ids_value] = ids;
    vals[prog.positions_value] = pos;
    vals[prog.mask_value] = mask;
    Tensor fullMask = mask;
    if (cache && cache->mask.defined())
      fullMask = at::cat({cache->mask, mask}, 1);
    return runFrom(0, vals, fullMask, cache, captureLayers, captured, head,
                   patch);
  }

  /// The instructions from `first` on, over the values `vals`.
  Tensor runFrom(size_t first, std::vector<Tensor> &vals,
                 const Tensor &fullMask, KVCache *cache,
                 const std::map<int, int> *captureLayers,
                 std::vector<Tensor> *captured, Head head, const Patch *patch) {
    for (size_t i = first; i < instrs.size(); ++i) {
      const qr_instr &in = instrs[i];
      auto arg = [&](int k) -> Tensor & {
        Tensor &t = vals.at(in.inputs[k]);
        if (!t.defined())
          throw EngineError("value used after it was freed (engine bug)");
        return t;
      };
      // The LM head's input (the final norm's output) is captured as layer
      // num_layers.
      if (captureLayers && in.output == prog.logits_value) {
        auto it = captureLayers->find(prog.num_layers);
        if (it != captureLayers->end() && in.inputs[0] >= 0)
          (*captured)[it->second] = arg(0);
        if (head == Head::None && allCaptured(*captureLayers, *captured))
          return Tensor();
      }
      // Only the last position's logits are asked for: the head (a linear
      // producing the program's output) reads the last position alone.
      if (head == Head::Last && in.output == prog.logits_value &&
          in.opcode == QR_OP_LINEAR && arg(0).dim() == 3 && arg(0).size(1) > 1)
        arg(0) = arg(0).narrow(1, arg(0).size(1) - 1, 1);
      Tensor out;
      switch (in.opcode) {
      case QR_OP_EMBEDDING:
        out = at::embedding(params.at(in.params[0]), arg(0));
        break;
      case QR_OP_RMS_NORM: {
        Tensor x = arg(0);
        Tensor var = x.pow(2).mean(-1, true);
        out = x * at::rsqrt(var + in.f0) * params.at(in.params[0]);
        break;
      }
      case QR_OP_LINEAR: {
        Tensor bias = in.params[1] >= 0 ? params.at(in.params[1]) : Tensor();
        if (train.active && !train.options.trainable_only) {
          // Full precision (checked by trainBegin), plus the LoRA adapter.
          Tensor x = arg(0);
          out = at::linear(x, params.at(in.params[0]), bias);
          auto it = train.lora.find(i);
          if (it != train.lora.end()) {
            // PEFT's LoRA: dropout on the adapter's input only. Evaluation
            // (InferenceMode) runs without it.
            Tensor xa = x;
            double p = train.options.lora_dropout;
            if (p > 0 && !c10::InferenceMode::is_enabled())
              xa = at::dropout(x, p, /*train=*/true);
            out = out + at::linear(at::linear(xa, it->second.a), it->second.b) *
                            it->second.scale;
          }
          break;
        }
        Tensor x = fakeQuantActivation(arg(0), in.quant);
        out = at::linear(x, in.params[0] >= 0 ? linearWeights.at(i) : arg(1),
                         bias);
        break;
      }
      case QR_OP_ROPE:
        out = rope(arg(0), arg(1), in);
        break;
      case QR_OP_ATTENTION:
        // A model's attention masks with the mask of the whole sequence
        // (cached positions included); a function program's with its
        // operand.
        out = attention(i, in, arg(0), arg(1), arg(2),
                        in.inputs[3] < 0     ? Tensor()
                        : fullMask.defined() ? fullMask
                                             : arg(3),
                        cache);
        break;
      case QR_OP_SWIGLU:
        out = at::silu(arg(0)) * arg(1);
        break;
      case QR_OP_ADD:
        out = arg(0) + arg(1);
        break;
      case QR_OP_FAKE_QUANT:
        out = fakeQuantOp(arg(0), in, params);
        break;
      case QR_OP_SMOOTH:
        out = arg(0) / params.at(in.params[0]);
        break;
      case QR_OP_PARAM:
        out = params.at(in.params[0]);
        break;
      case QR_OP_SMOOTH_WEIGHT:
        out = arg(0) * params.at(in.params[0]);
        break;
      case QR_OP_GATHER_TOKEN: {
        Tensor x = arg(0), index = arg(1).to(at::kLong);
        if (x.dim() != 3 || index.dim() != 1 || index.size(0) != x.size(0))
          throw EngineError("gather_token needs [B, S, D] and [B] operands");
        if (index.numel() && (index.min().item<int64_t>() < 0 ||
                              index.max().item<int64_t>() >= x.size(1)))
          throw EngineError("gather_token index outside [0, " +
                            std::to_string(x.size(1)) + ")");
        Tensor rows = at::arange(x.size(0), index.options());
        out = x.index({rows, index});
        break;
      }
      case QR_OP_SQUARED_ERROR:
        out = (arg(2) * (arg(0) - arg(1)).pow(2).mean(-1)).sum() * in.f0;
        break;
      case QR_OP_BOUNDARY_LOSS: {
        Tensor logit = at::matmul(arg(0), params.at(in.params[0]).reshape(-1)) +
                       params.at(in.params[1]).reshape({});
        out = (arg(1) * at::softplus(in.f0 - logit)).sum() * in.f1;
        break;
      }
      case QR_OP_LAYER_END:
        out = arg(0);
        if (patch && patch->layer == int32_t(in.i0)) {
          out = out.clone();
          out.index_put_({patch->batch, patch->seq},
                         patch->values.to(out.scalar_type()));
        }
        if (captureLayers) {
          auto it = captureLayers->find(int(in.i0));
          if (it != captureLayers->end())
            (*captured)[it->second] = out;
          // Everything captured: the rest of the model is not needed.
          if (head == Head::None && allCaptured(*captureLayers, *captured))
            return Tensor();
        }
        break;
      default:
        throw EngineError("unknown opcode " + std::to_string(in.opcode));
      }
      vals.at(in.output) = out;
      for (int32_t v : in.inputs)
        if (v >= 0 && lastUse[v] == int(i) && v != prog.logits_value)
          vals[v] = Tensor();
    }
    if (cache)
      cache->mask = fullMask;
    return prog.logits_value >= 0 ? vals.at(prog.logits_value) : Tensor();
  }

  //===--------------------------------------------------------------------===//
  // Function programs
  //===--------------------------------------------------------------------===//

  /// Runs a function program on host `in` tensors; returns its outputs.
  std::vector<Tensor> call(int32_t numInputs, const qr_tensor *in) {
    if (prog.ids_value >= 0)
      throw EngineError("this program is a model (@forward): run it with "
                        "forward, capture or generate");
    if (numInputs != int32_t(inputs.size()) || (numInputs && !in))
      throw EngineError("the function takes " + std::to_string(inputs.size()) +
                        " inputs, got " + std::to_string(numInputs));
    std::vector<Tensor> vals(prog.num_values);
    for (int32_t k = 0; k < numInputs; ++k) {
      const qr_tensor &t = in[k];
      if (t.rank < 0 || t.rank > 4 || !t.data)
        throw EngineError("input " + std::to_string(k) +
                          ": rank must be in [0, 4] with data");
      std::vector<int64_t> shape(t.shape, t.shape + t.rank);
      at::ScalarType type = toScalarType(t.dtype);
      Tensor v = at::from_blob(t.data, shape, at::TensorOptions().dtype(type));
      bool isFloat = at::isFloatingType(type);
      vals[inputs[k]] = v.to(device, isFloat ? at::kFloat : type,
                             /*non_blocking=*/false, /*copy=*/true);
    }
    runFrom(0, vals, Tensor(), nullptr, nullptr, nullptr, Head::All, nullptr);
    std::vector<Tensor> out;
    for (int32_t v : outputs)
      out.push_back(vals.at(v));
    return out;
  }

  void callInto(int32_t numInputs, const qr_tensor *in, int32_t numOutputs,
                qr_tensor *out) {
    if (numOutputs != int32_t(outputs.size()) || (numOutputs && !out))
      throw EngineError("the function has " + std::to_string(outputs.size()) +
                        " outputs, got " + std::to_string(numOutputs) +
                        " buffers");
    c10::InferenceMode guard;
    std::vector<Tensor> results = call(numInputs, in);
    for (int32_t k = 0; k < numOutputs; ++k) {
      qr_tensor &t = out[k];
      std::vector<int64_t> want(t.shape, t.shape + std::clamp(t.rank, 0, 4));
      if (t.dtype != QR_DTYPE_F32 || !t.data || results[k].sizes() != want)
        throw EngineError("output " + std::to_string(k) + " is f32 " +
                          shapeString(results[k].sizes()) +
                          "; the caller's buffer is not");
      Tensor c = results[k].to(at::kCPU, at::kFloat).contiguous();
      std::memcpy(t.data, c.data_ptr<float>(), c.numel() * sizeof(float));
    }
  }

  static std::string shapeString(at::IntArrayRef shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i)
      s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
  }

  float optimizeStep(int32_t numInputs, const qr_tensor *in, double lr) {
    if (!train.active || !train.options.trainable_only)
      throw EngineError("optimize_step needs train_begin with trainable_only");
    if (!(lr >= 0))
      throw EngineError("the learning rate must be >= 0");
    std::vector<Tensor> results = call(numInputs, in);
    Tensor loss = results.at(0);
    if (loss.numel() != 1)
      throw EngineError("output 0 must be a scalar loss, it is " +
                        shapeString(loss.sizes()));
    // A loss that is not finite changes nothing; the caller decides.
    float value = loss.item<float>();
    if (!std::isfinite(value))
      return value;
    for (Tensor &p : train.trainable)
      p.mutable_grad() = Tensor();
    loss.backward();
    adamStep(lr);
    return value;
  }

  Tensor rope(const Tensor &x, const Tensor &pos, const qr_instr &in) {
    int64_t hd = in.i0, half = hd / 2;
    int64_t B = x.size(0), S = x.size(1), H = x.size(2) / hd;
    // Frequencies in f32, as llama2.c and Hugging Face compute them.
    std::vector<float> inv(half);
    for (int64_t i = 0; i < half; ++i)
      inv[i] = 1.0f / std::pow(float(in.f0), float(2 * i) / float(hd));
    Tensor invT = at::from_blob(inv.data(), {half}, at::kFloat).to(device);
    Tensor ang = pos.to(at::kFloat).unsqueeze(-1) * invT; // [B, S, half]
    Tensor cos = ang.cos().unsqueeze(2), sin = ang.sin().unsqueeze(2);
    Tensor h = x.reshape({B, S, H, hd});
    Tensor out;
    if (in.i1 == 0) {
      Tensor a = h.narrow(-1, 0, half), b = h.narrow(-1, half, half);
      out = at::cat({a * cos - b * sin, b * cos + a * sin}, -1);
    } else {
      Tensor p = h.reshape({B, S, H, half, 2});
      Tensor a = p.select(-1, 0), b = p.select(-1, 1);
      out = at::stack({a * cos - b * sin, a * sin + b * cos}, -1);
    }
    return out.reshape({B, S, H * hd});
  }

  Tensor attention(size_t index, const qr_instr &in, const Tensor &q, Tensor k,
                   Tensor v, const Tensor &mask, KVCache *cache) {
    int64_t H = in.i0, KV = in.i1, hd = in.i2;
    if (cache) {
      auto it = cache->kv.find(int(index));
      if (it != cache->kv.end()) {
        k = at::cat({it->second.first, k}, 1);
        v = at::cat({it->second.second, v}, 1);
      }
      cache->kv[int(index)] = {k, v};
    }
    int64_t B = q.size(0), Sq = q.size(1), Sk = k.size(1);
    Tensor qh = q.reshape({B, Sq, H, hd}).transpose(1, 2);
    Tensor kh = k.reshape({B, Sk, KV, hd}).transpose(1, 2);
    Tensor vh = v.reshape({B, Sk, KV, hd}).transpose(1, 2);
    if (H != KV) {
      kh = kh.repeat_interleave(H / KV, 1);
      vh = vh.repeat_interleave(H / KV, 1);
    }
    Tensor scores = at::matmul(qh, kh.transpose(-1, -2)) * in.f0;
    // Disallowed entries get the lowest float: a row that allows nothing
    // (a padding query) becomes uniform instead of NaN.
    Tensor allowed;
    if (in.flags & 1) {
      Tensor qi =
          at::arange(Sq, at::TensorOptions().device(device).dtype(at::kLong))
              .unsqueeze(1);
      Tensor kj =
          at::arange(Sk, at::TensorOptions().device(device).dtype(at::kLong))
              .unsqueeze(0);
      allowed = (kj <= qi + (Sk - Sq)).view({1, 1, Sq, Sk});
    }
    if (mask.defined()) {
      if (mask.size(1) != Sk)
        throw EngineError("attention mask length does not match the keys");
      Tensor m = mask.view({B, 1, 1, Sk});
      allowed = allowed.defined() ? allowed.logical_and(m) : m;
    }
    if (allowed.defined())
      scores = scores.masked_fill(allowed.logical_not(),
                                  std::numeric_limits<float>::lowest());
    Tensor out = at::matmul(at::softmax(scores, -1), vh);
    return out.transpose(1, 2).reshape({B, Sq, H * hd});
  }

  /// Left-padded batch tensors from flattened sequences.
  struct Batch {
    Tensor ids, pos, mask; // [B, S]
    std::vector<int32_t> lengths;
    int64_t S = 0;
    /// The padded column of `position` in sequence `r` (>= 0 from its
    /// start, < 0 from its end); `what` names the request in errors.
    int64_t column(int32_t r, int64_t position, const char *what) const {
      int64_t len = lengths[r], p = position < 0 ? position + len : position;
      if (p < 0 || p >= len)
        throw EngineError(std::string(what) + " position " +
                          std::to_string(position) + " is outside sequence " +
                          std::to_string(r) + " of length " +
                          std::to_string(len));
      return S - len + p; // left padding
    }
  };
  Batch makeBatch(int32_t batch, const int64_t *tokens,
                  const int32_t *lengths) {
    if (batch <= 0)
      throw EngineError("batch must be >= 1");
    Batch b;
    b.lengths.assign(lengths, lengths + batch);
    for (int32_t l : b.lengths) {
      if (l <= 0)
        throw EngineError("every sequence needs at least one token");
      b.S = std::max<int64_t>(b.S, l);
    }
    std::vector<int64_t> ids(batch * b.S, 0), pos(batch * b.S, 0);
    std::vector<uint8_t> mask(batch * b.S, 0);
    const int64_t *t = tokens;
    int64_t V = prog.vocab_size;
    for (int32_t r = 0; r < batch; ++r) {
      int64_t pad = b.S - b.lengths[r];
      for (int32_t j = 0; j < b.lengths[r]; ++j) {
        if (t[j] < 0 || t[j] >= V)
          throw EngineError("token id " + std::to_string(t[j]) +
                            " is outside the vocabulary [0, " +
                            std::to_string(V) + ")");
        ids[r * b.S + pad + j] = t[j];
        pos[r * b.S + pad + j] = j;
        mask[r * b.S + pad + j] = 1;
      }
      t += b.lengths[r];
    }
    auto opts = at::TensorOptions().dtype(at::kLong);
    b.ids =
        at::from_blob(ids.data(), {batch, b.S}, opts).to(device, false, true);
    b.pos =
        at::from_blob(pos.data(), {batch, b.S}, opts).to(device, false, true);
    b.mask = at::from_blob(mask.data(), {batch, b.S},
                           at::TensorOptions().dtype(at::kBool))
                 .to(device, false, true);
    return b;
  }

  void forward(int32_t batch, const int64_t *tokens, const int32_t *lengths,
               bool all, float *outLogits) {
    c10::InferenceMode guard;
    Batch b = makeBatch(batch, tokens, lengths);
    Tensor logits = run(b.ids, b.pos, b.mask, nullptr, nullptr, nullptr,
                        all ? Head::All : Head::Last)
                        .to(at::kCPU, at::kFloat)
                        .contiguous();
    int64_t V = prog.vocab_size, S = logits.size(1);
    const float *src = logits.data_ptr<float>();
    float *dst = outLogits;
    for (int32_t r = 0; r < batch; ++r) {
      // Sequences are padded on the left: the last position is S - 1.
      int64_t from = all ? b.S - b.lengths[r] : S - 1;
      for (int64_t s = from; s < S; ++s) {
        std::memcpy(dst, src + (r * S + s) * V, V * sizeof(float));
        dst += V;
      }
    }
  }

  /// The program's tail after the last qrealign.layer (the final norm and
  /// the LM head) on `count` states: the logit lens.
  void head(int32_t count, const float *states, float *outLogits) {
    c10::InferenceMode guard;
    if (count <= 0)
      throw EngineError("head needs at least one state");
    size_t last = instrs.size();
    for (size_t i = 0; i < instrs.size(); ++i)
      if (instrs[i].opcode == QR_OP_LAYER_END)
        last = i;
    if (last == instrs.size())
      throw EngineError("the program has no qrealign.layer");
    int64_t D = prog.hidden_size, V = prog.vocab_size;
    std::vector<Tensor> vals(prog.num_values);
    // The tail reads only the last layer's output (and parameters).
    for (size_t i = last + 1; i < instrs.size(); ++i)
      for (int32_t v : instrs[i].inputs)
        if (v >= 0 && v != instrs[last].output) {
          bool local = false;
          for (size_t j = last + 1; j < i; ++j)
            local = local || instrs[j].output == v;
          if (!local)
            throw EngineError("the program's tail reads more than the last "
                              "layer's output; no logit lens");
        }
    vals[instrs[last].output] =
        at::from_blob(const_cast<float *>(states), {1, count, D}, at::kFloat)
            .to(device, at::kFloat, false, true);
    Tensor logits = runFrom(last + 1, vals, Tensor(), nullptr, nullptr, nullptr,
                            Head::All, nullptr)
                        .to(at::kCPU, at::kFloat)
                        .contiguous();
    std::memcpy(outLogits, logits.data_ptr<float>(), count * V * sizeof(float));
  }

  void capture(int32_t batch, const int64_t *tokens, const int32_t *lengths,
               int32_t numLayers, const int32_t *layers,
               const int32_t *positions, float *out) {
    c10::InferenceMode guard;
    std::map<int, int> slots;
    for (int32_t i = 0; i < numLayers; ++i) {
      if (layers[i] < 0 || layers[i] > prog.num_layers)
        throw EngineError("layer " + std::to_string(layers[i]) +
                          " does not exist (the model has " +
                          std::to_string(prog.num_layers) + "; layer " +
                          std::to_string(prog.num_layers) +
                          " is the LM head's input)");
      slots.emplace(layers[i], int(slots.size()));
    }
    Batch b = makeBatch(batch, tokens, lengths);
    std::vector<Tensor> captured(slots.size());
    run(b.ids, b.pos, b.mask, nullptr, &slots, &captured, Head::None);
    int64_t D = prog.hidden_size;
    float *dst = out;
    for (int32_t r = 0; r < batch; ++r) {
      int64_t s = b.column(r, positions[r], "capture");
      for (int32_t i = 0; i < numLayers; ++i) {
        Tensor h = captured[slots.at(layers[i])]
                       .select(0, r)
                       .select(0, s)
                       .to(at::kCPU, at::kFloat)
                       .contiguous();
        std::memcpy(dst, h.data_ptr<float>(), D * sizeof(float));
        dst += D;
      }
    }
  }

  void generate(int32_t batch, const int64_t *tokens, const int32_t *lengths,
                const qr_generate_options &o, int64_t *outTokens,
                int32_t *outLengths, qr_generate_stats *stats) {
    c10::InferenceMode guard;
    using clock = std::chrono::steady_clock;
    Batch b = makeBatch(batch, tokens, lengths);
    int32_t maxNew = o.max_new_tokens;
    std::vector<bool> done(batch, false);
    std::vector<int64_t> nextPos(b.lengths.begin(), b.lengths.end());
    std::fill(outLengths, outLengths + batch, 0);
    qr_generate_stats st{};
    st.prompt_tokens = 0;
    for (int32_t l : b.lengths)
      st.prompt_tokens += l;
    if (maxNew == 0) {
      if (stats)
        *stats = st;
      return;
    }
    Patch patch;
    if (o.patch) {
      const qr_patch &p = *o.patch;
      if (p.layer < 0 || p.layer >= prog.num_layers)
        throw EngineError("patch layer " + std::to_string(p.layer) +
                          " does not exist (the model has " +
                          std::to_string(prog.num_layers) + " layers)");
      if (!p.positions || !p.values)
        throw EngineError("a patch needs positions and values");
      std::vector<int64_t> rows(batch), cols(batch);
      for (int32_t r = 0; r < batch; ++r) {
        rows[r] = r;
        cols[r] = b.column(r, p.positions[r], "patch");
      }
      auto longs = at::TensorOptions().dtype(at::kLong);
      patch.layer = p.layer;
      patch.batch =
          at::from_blob(rows.data(), {batch}, longs).to(device, false, true);
      patch.seq =
          at::from_blob(cols.data(), {batch}, longs).to(device, false, true);
      patch.values = at::from_blob(const_cast<float *>(p.values),
                                   {batch, prog.hidden_size}, at::kFloat)
                         .to(device, false, true);
    }
    KVCache cache;
    auto t0 = clock::now();
    Tensor logits = run(b.ids, b.pos, b.mask, &cache, nullptr, nullptr,
                        Head::Last, o.patch ? &patch : nullptr);
    Tensor next = logits.select(1, logits.size(1) - 1).argmax(-1).to(at::kCPU);
    auto t1 = clock::now();
    st.prefill_seconds = std::chrono::duration<double>(t1 - t0).count();
    for (int32_t step = 0; step < maxNew; ++step) {
      const int64_t *nx = next.data_ptr<int64_t>();
      std::vector<int64_t> feed(batch);
      bool all = true;
      for (int32_t r = 0; r < batch; ++r) {
        feed[r] = nx[r];
        if (done[r])
          continue;
        outTokens[r * maxNew + outLengths[r]++] = nx[r];
        ++st.generated_tokens;
        if (std::find(o.eos_ids, o.eos_ids + o.num_eos, nx[r]) !=
            o.eos_ids + o.num_eos)
          done[r] = true;
        all = all && done[r];
      }
      if (all || step + 1 == maxNew)
        break;
      std::vector<uint8_t> m(batch);
      for (int32_t r = 0; r < batch; ++r)
        m[r] = done[r] ? 0 : 1;
      Tensor ids = at::from_blob(feed.data(), {batch, 1}, at::kLong)
                       .to(device, false, true);
      Tensor pos = at::from_blob(nextPos.data(), {batch, 1}, at::kLong)
                       .to(device, false, true);
      Tensor mask = at::from_blob(m.data(), {batch, 1}, at::kBool)
                        .to(device, false, true);
      for (int32_t r = 0; r < batch; ++r)
        ++nextPos[r];
      logits = run(ids, pos, mask, &cache, nullptr, nullptr);
      next = logits.select(1, 0).argmax(-1).to(at::kCPU);
    }
    st.decode_seconds =
        std::chrono::duration<double>(clock::now() - t1).count();
    if (stats)
      *stats = st;
  }

  //===--------------------------------------------------------------------===//
  // Training
  //===--------------------------------------------------------------------===//

  struct LoraAdapter {
    Tensor a, b; // [r, in], [out, r]
    double scale;
  };
  struct TrainState {
    bool active = false;
    qr_train_options options{};
    std::vector<Tensor> trainable, m, v;
    std::vector<bool> decay;      // weight decay applies (matrices only)
    std::vector<double> lrScales; // trainable_only: per tensor
    int64_t step = 0;
    std::map<size_t, LoraAdapter> lora; // linear instruction -> adapter
  } train;

  void trainBegin(const qr_train_options &o) {
    if (train.active)
      throw EngineError("training has already begun");
    if (o.trainable_only) {
      trainableBegin(o);
      return;
    }
    for (const qr_instr &in : instrs)
      if (in.opcode == QR_OP_FAKE_QUANT ||
          (in.opcode == QR_OP_LINEAR &&
           (in.quant.w_bits < 16 || in.quant.a_bits < 16)))
        throw EngineError("cannot train a program with quantized linears (" +
                          (in.opcode == QR_OP_FAKE_QUANT
                               ? std::string("a fake_quantize")
                               : "linear '" + std::string(in.name) + "'") +
                          " in layer " + std::to_string(in.layer) +
                          " quantizes): train the full-precision model");
    if (o.lora_rank < 0)
      throw EngineError("lora_rank must be >= 0");
    if (!(o.lora_dropout >= 0 && o.lora_dropout < 1))
      throw EngineError("lora_dropout must be in [0, 1)");
    checkAdamW(o);
    TrainState st;
    st.options = o;
    if (!unread.empty())
      throw EngineError("cannot train: parameter '" +
                        paramNames[*unread.begin()] +
                        "' is not read by the program (train the "
                        "full-precision model)");
    // Parameters were made under InferenceMode; autograd needs normal
    // tensors.
    for (Tensor &p : params)
      p = p.detach().clone();
    if (o.lora_rank == 0) {
      for (Tensor &p : params) {
        p.requires_grad_(true);
        st.trainable.push_back(p);
        st.decay.push_back(p.dim() >= 2);
      }
    } else {
      std::set<std::string> targets;
      std::string list = o.lora_targets ? o.lora_targets : "";
      for (size_t pos = 0; pos <= list.size();) {
        size_t comma = std::min(list.find(',', pos), list.size());
        if (comma > pos)
          targets.insert(list.substr(pos, comma - pos));
        pos = comma + 1;
      }
      if (targets.empty())
        throw EngineError("LoRA needs target linears (lora_targets)");
      std::mt19937_64 rng(o.seed);
      std::set<std::string> found;
      for (size_t i = 0; i < instrs.size(); ++i) {
        const qr_instr &in = instrs[i];
        if (in.opcode != QR_OP_LINEAR || !targets.count(in.name))
          continue;
        found.insert(in.name);
        const Tensor &w = params.at(in.params[0]);
        int64_t outF = w.size(0), inF = w.size(1), r = o.lora_rank;
        // A ~ U(-1/sqrt(in), 1/sqrt(in)) as PEFT's kaiming_uniform(a=sqrt(5));
        // B = 0, so training starts from the unchanged model.
        std::vector<float> a(r * inF);
        std::uniform_real_distribution<float> u(-1.f / std::sqrt(float(inF)),
                                                1.f / std::sqrt(float(inF)));
        for (float &x : a)
          x = u(rng);
        LoraAdapter ad;
        ad.a = at::from_blob(a.data(), {r, inF}, at::kFloat)
                   .to(device, false, true)
                   .requires_grad_(true);
        ad.b = at::zeros({outF, r}, at::TensorOptions().device(device))
                   .requires_grad_(true);
        ad.scale = o.lora_alpha / double(r);
        st.trainable.push_back(ad.a);
        st.trainable.push_back(ad.b);
        st.decay.push_back(true);
        st.decay.push_back(true);
        st.lora.emplace(i, std::move(ad));
      }
      for (const std::string &t : targets)
        if (!found.count(t))
          throw EngineError("no linear named '" + t +
                            "' to put a LoRA adapter on");
    }
    startTraining(std::move(st));
  }

  static void checkAdamW(const qr_train_options &o) {
    if (!(o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1 &&
          o.eps > 0 && o.weight_decay >= 0))
      throw EngineError("AdamW needs 0 <= beta1, beta2 < 1, eps > 0 and "
                        "weight_decay >= 0");
  }

  /// Zero AdamW moments for the trainable tensors of `st`, which becomes
  /// the training state.
  void startTraining(TrainState st) {
    for (const Tensor &p : st.trainable) {
      st.m.push_back(at::zeros_like(p).detach());
      st.v.push_back(at::zeros_like(p).detach());
    }
    st.active = true;
    train = std::move(st);
  }

  /// Calibration: AdamW on the parameters flagged trainable only.
  void trainableBegin(const qr_train_options &o) {
    if (o.lora_rank != 0)
      throw EngineError("trainable_only trains parameters, not LoRA adapters "
                        "(lora_rank must be 0)");
    checkAdamW(o);
    TrainState st;
    st.options = o;
    // Parameters were made under InferenceMode, which autograd cannot save
    // for backward: normal copies, and weights computed from them again.
    for (Tensor &p : params)
      p = p.detach().clone();
    {
      c10::NoGradGuard noGrad;
      for (auto &[i, w] : linearWeights)
        w = fakeQuantWeight(params.at(instrs[i].params[0]), instrs[i].quant);
    }
    for (size_t i = 0; i < params.size(); ++i) {
      if (!(paramFlags[i] & QR_PARAM_TRAINABLE))
        continue;
      if (unread.count(int32_t(i)))
        throw EngineError("trainable parameter '" + paramNames[i] +
                          "' is not read by the program");
      double scale = o.lr_scales ? o.lr_scales[st.trainable.size()] : 1.0;
      if (!(scale >= 0 && std::isfinite(scale)))
        throw EngineError("the learning-rate factor of '" + paramNames[i] +
                          "' must be finite and >= 0");
      params[i].requires_grad_(true);
      st.trainable.push_back(params[i]);
      st.decay.push_back(false);
      st.lrScales.push_back(scale);
    }
    if (st.trainable.empty())
      throw EngineError("the program has no trainable parameters");
    startTraining(std::move(st));
  }

  /// One AdamW step (decoupled weight decay) on the gradients of the
  /// trainable tensors, with learning rate `lr` times each one's factor.
  void adamStep(double lr) {
    const qr_train_options &o = train.options;
    c10::NoGradGuard noGrad;
    if (o.grad_clip > 0) {
      double sq = 0;
      for (Tensor &p : train.trainable)
        if (p.grad().defined())
          sq += p.grad().pow(2).sum().item<double>();
      double norm = std::sqrt(sq);
      if (norm > o.grad_clip)
        for (Tensor &p : train.trainable)
          if (p.grad().defined())
            p.mutable_grad().mul_(o.grad_clip / norm);
    }
    ++train.step;
    double c1 = 1 - std::pow(o.beta1, double(train.step));
    double c2 = 1 - std::pow(o.beta2, double(train.step));
    for (size_t k = 0; k < train.trainable.size(); ++k) {
      Tensor &p = train.trainable[k];
      Tensor g = p.grad();
      if (!g.defined())
        continue;
      double rate = lr * (train.lrScales.empty() ? 1.0 : train.lrScales[k]);
      if (train.decay[k] && o.weight_decay > 0)
        p.mul_(1 - rate * o.weight_decay);
      train.m[k].mul_(o.beta1).add_(g, 1 - o.beta1);
      train.v[k].mul_(o.beta2).addcmul_(g, g, 1 - o.beta2);
      Tensor denom = (train.v[k] / c2).sqrt_().add_(o.eps);
      p.addcdiv_(train.m[k], denom, -rate / c1);
      p.mutable_grad() = Tensor();
    }
  }

  /// Mean next-token loss over the targets of a batch (with autograd).
  Tensor batchLoss(int32_t batch, const int64_t *tokens, const int32_t *lengths,
                   const uint8_t *targetMask) {
    Batch b = makeBatch(batch, tokens, lengths);
    std::vector<float> tm(batch * b.S, 0.f);
    const uint8_t *m = targetMask;
    int64_t targets = 0;
    for (int32_t r = 0; r < batch; ++r) {
      int64_t pad = b.S - b.lengths[r];
      if (m[0])
        throw EngineError("sequence " + std::to_string(r) +
                          ": its first token cannot be a training target");
      for (int32_t j = 0; j < b.lengths[r]; ++j)
        if (m[j]) {
          tm[r * b.S + pad + j] = 1.f;
          ++targets;
        }
      m += b.lengths[r];
    }
    if (targets == 0)
      throw EngineError("the batch has no training targets");
    Tensor mask = at::from_blob(tm.data(), {batch, b.S}, at::kFloat)
                      .to(device, false, true)
                      .narrow(1, 1, b.S - 1);
    Tensor logits = run(b.ids, b.pos, b.mask, nullptr, nullptr, nullptr);
    Tensor logp = at::log_softmax(logits.narrow(1, 0, b.S - 1), -1);
    Tensor tgt = b.ids.narrow(1, 1, b.S - 1).unsqueeze(-1);
    Tensor nll = logp.gather(-1, tgt).squeeze(-1).neg();
    return (nll * mask).sum() / double(targets);
  }

  float trainStep(int32_t batch, const int64_t *tokens, const int32_t *lengths,
                  const uint8_t *targetMask, double lr) {
    if (!train.active)
      throw EngineError("train_step before train_begin");
    if (!(lr >= 0))
      throw EngineError("the learning rate must be >= 0");
    const qr_train_options &o = train.options;
    if (o.lora_rank > 0 && o.lora_dropout > 0) {
      // Dropout masks depend on (seed, step) only, so a run resumed from
      // a saved state draws the masks the uninterrupted run would.
      at::Generator gen = at::globalContext().defaultGenerator(device);
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_current_seed(o.seed * 0x9E3779B97F4A7C15ull +
                           uint64_t(train.step) + 1);
    }
    Tensor loss = batchLoss(batch, tokens, lengths, targetMask);
    float value = loss.item<float>();
    if (!std::isfinite(value))
      throw EngineError("the loss is not finite (" + std::to_string(value) +
                        "): lower the learning rate");
    for (Tensor &p : train.trainable)
      p.mutable_grad() = Tensor();
    loss.backward();
    adamStep(lr);
    return value;
  }

  float evalLoss(int32_t batch, const int64_t *tokens, const int32_t *lengths,
                 const uint8_t *targetMask) {
    c10::InferenceMode guard;
    return batchLoss(batch, tokens, lengths, targetMask).item<float>();
  }

  void trainEnd() {
    if (!train.active)
      throw EngineError("train_end before train_begin");
    {
      c10::NoGradGuard noGrad;
      for (auto &[i, ad] : train.lora) {
        Tensor &w = params.at(instrs[i].params[0]);
        w.add_(at::matmul(ad.b, ad.a), ad.scale);
      }
      for (Tensor &p : params)
        p = p.detach();
    }
    train = TrainState();
    c10::InferenceMode guard;
    for (auto &[i, w] : linearWeights)
      w = fakeQuantWeight(params.at(instrs[i].params[0]), instrs[i].quant);
  }

  void checkStateIndex(int32_t index) const {
    if (!train.active)
      throw EngineError("no training state: call train_begin first");
    if (index < 0 || index >= int32_t(train.trainable.size()))
      throw EngineError("training state tensor " + std::to_string(index) +
                        " is out of range (the state has " +
                        std::to_string(train.trainable.size()) + ")");
  }

  void trainStateGet(int32_t index, int64_t *numel, float *value, float *m,
                     float *v) {
    checkStateIndex(index);
    const Tensor &p = train.trainable[index];
    if (numel)
      *numel = p.numel();
    if (!value)
      return;
    if (!m || !v)
      throw EngineError("train_state_get needs the m and v buffers too");
    c10::NoGradGuard noGrad;
    auto copy = [&](const Tensor &t, float *out) {
      Tensor c = t.detach().to(at::kCPU, at::kFloat).contiguous();
      std::memcpy(out, c.data_ptr<float>(), c.numel() * sizeof(float));
    };
    copy(p, value);
    copy(train.m[index], m);
    copy(train.v[index], v);
  }

  void trainStateSet(int64_t step, int32_t index, int64_t numel,
                     const float *value, const float *m, const float *v) {
    checkStateIndex(index);
    if (step < 0)
      throw EngineError("the step count must be >= 0");
    Tensor &p = train.trainable[index];
    if (numel != p.numel())
      throw EngineError("training state tensor " + std::to_string(index) +
                        " has " + std::to_string(p.numel()) +
                        " elements, not " + std::to_string(numel) +
                        " (a state of another model or other options?)");
    if (!value || !m || !v)
      throw EngineError("train_state_set needs value, m and v");
    c10::NoGradGuard noGrad;
    auto load = [&](Tensor &dst, const float *src) {
      Tensor t =
          at::from_blob(const_cast<float *>(src), dst.sizes(), at::kFloat);
      dst.copy_(t);
    };
    load(p, value);
    load(train.m[index], m);
    load(train.v[index], v);
    train.step = step;
  }

  void readParam(int32_t index, float *out) {
    if (index < 0 || index >= int32_t(params.size()))
      throw EngineError("parameter index " + std::to_string(index) +
                        " is out of range (the program has " +
                        std::to_string(params.size()) + ")");
    if (unread.count(index))
      throw EngineError("parameter '" + paramNames[index] +
                        "' is not read by the program, so the engine did "
                        "not load it");
    c10::NoGradGuard noGrad;
    Tensor t = params[index].detach().to(at::kCPU, at::kFloat).contiguous();
    std::memcpy(out, t.data_ptr<float>(), t.numel() * sizeof(float));
  }

  // Copies: EngineAPI.h promises the caller may free its program after
  // qr_engine_create. `prog` keeps the scalar fields only (its pointers are
  // cleared), `instrs` the instructions, `names` their name strings.
  qr_program prog;
  at::Device device = at::kCPU;
  std::string deviceName;
  std::vector<qr_instr> instrs;
  std::deque<std::string> names;
  std::vector<Tensor> params;
  std::vector<std::string> paramNames;
  std::vector<int32_t> paramFlags;
  std::vector<int32_t> inputs, outputs; // a function program's values
  std::set<int32_t> unread; // parameters no instruction reads (not loaded)
  std::map<size_t, Tensor> linearWeights;
  std::vector<int> lastUse;
};

void setError(char *err, size_t len, const std::string &msg) {
  if (!err || !len)
    return;
  size_t n = std::min(len - 1, msg.size());
  std::memcpy(err, msg.data(), n);
  err[n] = 0;
}

/// Runs `fn`, turning any exception into an error message. c10::Error
/// messages carry a C++ backtrace after the first line; keep the first.
template <typename Fn>
int32_t guarded(char *err, size_t len, Fn &&fn) {
  try {
    fn();
    return 0;
  } catch (const c10::Error &e) {
    std::string msg = e.what_without_backtrace();
    setError(err, len, "libtorch: " + msg.substr(0, msg.find('\n')));
  } catch (const std::exception &e) {
    setError(err, len, e.what());
  } catch (...) {
    setError(err, len, "unknown error in the engine");
  }
  return 1;
}
} // namespace

struct qr_engine {
  std::unique_ptr<Engine> impl;
};

extern "C" {

int32_t qr_engine_abi_version(void) { return QR_ENGINE_ABI_VERSION; }

const char *qr_engine_build_info(void) {
  static const std::string info =
      std::string("libtorch ") + QREALIGN_TORCH_VERSION +
      (at::hasCUDA() ? " with CUDA" : " (CPU only)");
  return info.c_str();
}

qr_engine *qr_engine_create(const qr_program *program,
                            const qr_engine_options *options, char *err,
                            size_t errLen) {
  qr_engine *e = nullptr;
  qr_engine_options defaults{"cpu", 1};
  if (guarded(err, errLen, [&] {
        if (!program)
          throw EngineError("no program");
        auto impl =
            std::make_unique<Engine>(*program, options ? *options : defaults);
        e = new qr_engine{std::move(impl)};
      }))
    return nullptr;
  return e;
}

void qr_engine_destroy(qr_engine *engine) { delete engine; }

const char *qr_engine_device(const qr_engine *engine) {
  return engine->impl->deviceName.c_str();
}

int32_t qr_engine_forward(qr_engine *engine, int32_t batch,
                          const int64_t *tokens, const int32_t *lengths,
                          int32_t allPositions, float *logits, char *err,
                          size_t errLen) {
  return guarded(err, errLen, [&] {
    engine->impl->forward(batch, tokens, lengths, allPositions, logits);
  });
}

int32_t qr_engine_capture(qr_engine *engine, int32_t batch,
                          const int64_t *tokens, const int32_t *lengths,
                          int32_t numLayers, const int32_t *layers,
                          const int32_t *positions, float *out, char *err,
                          size_t errLen) {
  return guarded(err, errLen, [&] {
    engine->impl->capture(batch, tokens, lengths, numLayers, layers, positions,
                          out);
  });
}

int32_t qr_engine_head(qr_engine *engine, int32_t count, const float *states,
                       float *logits, char *err, size_t errLen) {
  return guarded(err, errLen,
                 [&] { engine->impl->head(count, states, logits); });
}

int32_t qr_engine_generate(qr_engine *engine, int32_t batch,
                           const int64_t *tokens, const int32_t *lengths,
                           const qr_generate_options *options,
                           int64_t *outTokens, int32_t *outLengths,
                           qr_generate_stats *stats, char *err, size_t errLen) {
  return guarded(err, errLen, [&] {
    if (!options)
      throw EngineError("no generation options");
    engine->impl->generate(batch, tokens, lengths, *options, outTokens,
                           outLengths, stats);
  });
}

int32_t qr_engine_train_begin(qr_engine *engine,
                              const qr_train_options *options, char *err,
                              size_t errLen) {
  return guarded(err, errLen, [&] {
    if (!options)
      throw EngineError("no training options");
    engine->impl->trainBegin(*options);
  });
}

int32_t qr_engine_train_step(qr_engine *engine, int32_t batch,
                             const int64_t *tokens, const int32_t *lengths,
                             const uint8_t *targetMask, double lr, float *loss,
                             char *err, size_t errLen) {
  return guarded(err, errLen, [&] {
    float l = engine->impl->trainStep(batch, tokens, lengths, targetMask, lr);
    if (loss)
      *loss = l;
  });
}

int32_t qr_engine_eval_loss(qr_engine *engine, int32_t batch,
                            const int64_t *tokens, const int32_t *lengths,
                            const uint8_t *targetMask, float *loss, char *err,
                            size_t errLen) {
  return guarded(err, errLen, [&] {
    float l = engine->impl->evalLoss(batch, tokens, lengths, targetMask);
    if (loss)
      *loss = l;
  });
}

int32_t qr_engine_train_end(qr_engine *engine, char *err, size_t errLen) {
  return guarded(err, errLen, [&] { engine->impl->trainEnd(); });
}

int32_t qr_engine_train_state_info(qr_engine *engine, int32_t *numTensors,
                                   int64_t *step, char *err, size_t errLen) {
  return guarded(err, errLen, [&] {
    if (!engine->impl->train.active)
      throw EngineError("no training state: call train_begin first");
    if (numTensors)
      *numTensors = int32_t(engine->impl->train.trainable.size());
    if (step)
      *step = engine->impl->train.step;
  });
}

int32_t qr_engine_train_state_get(qr_engine *engine, int32_t index,
                                  int64_t *numel, float *value, float *m,
                                  float *v, char *err, size_t errLen) {
  return guarded(err, errLen, [&] {
    engine->impl->trainStateGet(index, numel, value, m, v);
  });
}

int32_t qr_engine_train_state_set(qr_engine *engine, int64_t step,
                                  int32_t index, int64_t numel,
                                  const float *value, const float *m,
                                  const float *v, char *err, size_t errLen) {
  return guarded(err, errLen, [&] {
    engine->impl->trainStateSet(step, index, numel, value, m, v);
  });
}

int32_t qr_engine_call(qr_engine *engine, int32_t numInputs,
                       const qr_tensor *inputs, int32_t numOutputs,
                       qr_tensor *outputs, char *err, size_t errLen) {
  return guarded(err, errLen, [&] {
    engine->impl->callInto(numInputs, inputs, numOutputs, outputs);
  });
}

int32_t qr_engine_optimize_step(qr_engine *engine, int32_t numInputs,
                                const qr_tensor *inputs, double lr, float *loss,
                                char *err, size_t errLen) {
  return guarded(err, errLen, [&] {
    float l = engine->impl->optimizeStep(numInputs, inputs, lr);
    if (loss)
      *loss = l;
  });
}

int32_t qr_engine_read_param(qr_engine *engine, int32_t index, float *out,
                             char *err, size_t errLen) {
  return guarded(err, errLen, [&] { engine->impl->readParam(index, out); });
}

} // extern "C"
