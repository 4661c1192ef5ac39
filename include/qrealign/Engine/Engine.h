//===- Engine.h - Load and drive the libtorch execution engine --*- C++ -*-===//
//
// A C++ handle on the engine shared library (EngineAPI.h). The library is
// found, in order, at $QREALIGN_ENGINE_LIBRARY, next to the tool
// (<bin>/../lib/libQRealignEngine.so) or on the loader's search path, and
// loaded with dlopen only when a tool runs a model; tools that never run one
// never pay libtorch's start-up.
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_ENGINE_ENGINE_H
#define QREALIGN_ENGINE_ENGINE_H

#include "qrealign/Engine/EngineAPI.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <string>
#include <vector>

namespace qrealign {
class Program;

struct EngineOptions {
  std::string device = "cpu";
  /// CPU intra-op threads (1 is fastest for small models on 2 cores).
  int numThreads = 1;
  /// Where the tool runs from (argv[0]), to find the library beside it.
  std::string executablePath;
};

/// Optimizer and adapter settings of Engine::trainBegin (AdamW).
struct TrainOptions {
  double weightDecay = 0.0;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  /// Maximum global gradient norm; <= 0 disables clipping.
  double gradClip = 1.0;
  /// 0: full fine-tuning. Otherwise LoRA adapters of this rank on
  /// `loraTargets`, merged into the weights by trainEnd.
  int loraRank = 0;
  double loraAlpha = 32.0;
  std::string loraTargets = "q_proj,v_proj";
  /// Dropout on the adapters' input (PEFT's lora_dropout), in [0, 1).
  double loraDropout = 0.0;
  /// LoRA initialisation and dropout masks.
  uint64_t seed = 0;
  /// Calibration: train only the parameters marked trainable (see
  /// EngineAPI.h), each at `lr` times its entry of `lrScales` (program
  /// order; empty: 1), through optimizeStep.
  bool trainableOnly = false;
  std::vector<double> lrScales;
};

struct GenerateResult {
  std::vector<std::vector<int64_t>> tokens;
  qr_generate_stats stats{};
};

class Engine {
public:
  /// Loads the engine library and creates an engine for `program`.
  static llvm::Expected<std::unique_ptr<Engine>>
  create(const Program &program, const EngineOptions &options);
  ~Engine();

  /// The device the engine runs on ("cpu", "cuda:0").
  std::string getDevice() const;
  /// The library's build description (libtorch version, CUDA).
  std::string getBuildInfo() const;
  int64_t getVocabSize() const { return vocab; }
  int64_t getHiddenSize() const { return hidden; }
  /// The number of qrealign.layer ops (decoder layers).
  int32_t getNumLayers() const { return numLayers; }

  /// Logits of the last token of each sequence ([batch][vocab]), or of every
  /// token when `allPositions` ([sum of lengths][vocab]).
  llvm::Expected<std::vector<std::vector<float>>>
  forward(llvm::ArrayRef<std::vector<int64_t>> batch,
          bool allPositions = false);
  /// Residual stream after `layers` at one position per sequence (negative:
  /// from the end); layer getNumLayers() is the LM head's input (the final
  /// norm's output). Result [batch][layer][hidden].
  llvm::Expected<std::vector<std::vector<std::vector<float>>>>
  capture(llvm::ArrayRef<std::vector<int64_t>> batch,
          llvm::ArrayRef<int32_t> layers, llvm::ArrayRef<int32_t> positions);
  /// The final norm and LM head applied to `states` ([n][hidden]): logits
  /// [n][vocab]. On a layer's captured state this is the logit lens.
  llvm::Expected<std::vector<std::vector<float>>>
  head(llvm::ArrayRef<std::vector<float>> states);
  /// Greedy decoding with a KV cache. With `patch`, the residual stream
  /// after layer `patch->layer` at the last prompt token of sequence b is
  /// replaced by `patch->values[b]` while the prompt runs.
  struct Patch {
    int32_t layer = -1;
    std::vector<std::vector<float>> values; // [batch][hidden]
  };
  llvm::Expected<GenerateResult>
  generate(llvm::ArrayRef<std::vector<int64_t>> batch, int maxNewTokens,
           llvm::ArrayRef<int64_t> eosIds, const Patch *patch = nullptr);

  /// Starts training (see EngineAPI.h): every parameter, or LoRA adapters.
  llvm::Error trainBegin(const TrainOptions &options);
  /// One AdamW step on next-token cross-entropy; `targets[b][t]` marks the
  /// tokens of sequence b that are predicted (never the first). Returns the
  /// mean loss over targets before the step.
  llvm::Expected<float> trainStep(llvm::ArrayRef<std::vector<int64_t>> batch,
                                  llvm::ArrayRef<std::vector<uint8_t>> targets,
                                  double lr);
  /// The same loss without a step.
  llvm::Expected<float> evalLoss(llvm::ArrayRef<std::vector<int64_t>> batch,
                                 llvm::ArrayRef<std::vector<uint8_t>> targets);
  /// Ends training, merging LoRA adapters into the weights.
  llvm::Error trainEnd();
  /// Writes the training state (the trainable tensors, their AdamW moments
  /// and the step count) as safetensors at `path` (atomically), so that
  /// loadTrainState continues exactly where this run is. `metadata` is
  /// stored beside the engine's own keys (format, step, tensors).
  llvm::Error saveTrainState(
      llvm::StringRef path,
      llvm::ArrayRef<std::pair<std::string, std::string>> metadata = {});
  /// Restores a state written by saveTrainState, after trainBegin with the
  /// same program and options; returns its step count. Mismatched files get
  /// an error naming the file and the tensor.
  llvm::Expected<int64_t> loadTrainState(llvm::StringRef path);
  /// Runs a function program (not @forward): `inputs` in order, results
  /// into `outputs`, f32 buffers of the shapes the caller expects.
  llvm::Error call(llvm::ArrayRef<qr_tensor> inputs,
                   llvm::MutableArrayRef<qr_tensor> outputs);
  /// One AdamW step on a function program's output 0 (a scalar loss),
  /// after trainBegin with trainableOnly; returns the loss before it.
  llvm::Expected<float> optimizeStep(llvm::ArrayRef<qr_tensor> inputs,
                                     double lr);
  /// Parameter `index` of the program, as float32.
  llvm::Expected<std::vector<float>> readParam(int index);
  /// Writes every parameter, under its checkpoint tensor name, as float32
  /// (or, with `bf16`, bfloat16 rounded to nearest even) safetensors at
  /// `path` (atomically).
  llvm::Error saveSafeTensors(llvm::StringRef path, bool bf16 = false);

private:
  Engine() = default;
  const Program *program = nullptr;
  struct Api;
  std::unique_ptr<Api> api;
  qr_engine *handle = nullptr;
  int64_t vocab = 0, hidden = 0;
  int32_t numLayers = 0;
};
} // namespace qrealign

#endif // QREALIGN_ENGINE_ENGINE_H
