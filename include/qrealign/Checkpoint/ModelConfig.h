//===- ModelConfig.h - Llama-family model hyper-parameters ------*- C++ -*-===//
//
// The architecture description the importers build IR from: parsed from a
// Hugging Face `config.json` (llama, mistral, qwen2) or from a llama2.c
// header.
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_CHECKPOINT_MODELCONFIG_H
#define QREALIGN_CHECKPOINT_MODELCONFIG_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace qrealign {
struct Llama2CConfig;

/// Upper bounds on architecture values, checked before anything is sized
/// from them (docs/robustness.md). Each is at least ten times the largest
/// published Llama-family model's value.
struct ModelLimits {
  static constexpr int64_t kMaxLayers = 1024;
  static constexpr int64_t kMaxHiddenSize = int64_t(1) << 20;
  static constexpr int64_t kMaxIntermediateSize = int64_t(1) << 22;
  static constexpr int64_t kMaxHeads = int64_t(1) << 14;
  static constexpr int64_t kMaxHeadDim = int64_t(1) << 14;
  static constexpr int64_t kMaxVocabSize = int64_t(1) << 24;
  static constexpr int64_t kMaxPositions = int64_t(1) << 24;
  /// Largest config.json read.
  static constexpr uint64_t kMaxConfigFileSize = uint64_t(1) << 20;
};

struct ModelConfig {
  /// "llama", "mistral", "qwen2" or "llama2c".
  std::string modelType;
  int64_t hiddenSize = 0;
  int64_t numLayers = 0;
  int64_t numHeads = 0;
  int64_t numKVHeads = 0;
  int64_t headDim = 0;
  int64_t intermediateSize = 0;
  int64_t vocabSize = 0;
  int64_t maxPositions = 0;
  double rmsNormEps = 1e-6;
  double ropeTheta = 10000.0;
  /// RoPE pairs (j, j + head_dim/2) (Hugging Face) or (2i, 2i+1) (llama2.c).
  bool ropeInterleaved = false;
  bool tieWordEmbeddings = false;
  /// Bias on q/k/v (qwen2; llama's `attention_bias` also adds one to o).
  bool qkvBias = false;
  bool oBias = false;
  bool mlpBias = false;
  /// Mistral's sliding window (0 = none).
  int64_t slidingWindow = 0;
  int64_t bosTokenId = -1;
  std::vector<int64_t> eosTokenIds;
  /// Checks every invariant the IR verifier checks (positivity,
  /// divisibility, finite RoPE and norm constants), the bounds of
  /// ModelLimits, and that BOS/EOS ids lie in the vocabulary. A config that
  /// validates imports to IR that verifies.
  llvm::Error validate(llvm::StringRef origin) const;
};

/// Parses a Hugging Face `config.json`. Unsupported architectures and
/// settings are errors that list what is supported.
llvm::Expected<ModelConfig> parseHFConfig(llvm::StringRef path);
/// Parses config.json text (`origin` names it in diagnostics).
llvm::Expected<ModelConfig> parseHFConfigText(llvm::StringRef text,
                                              llvm::StringRef origin);

/// The config of a llama2.c checkpoint.
ModelConfig getLlama2CModelConfig(const Llama2CConfig &header);
} // namespace qrealign

#endif // QREALIGN_CHECKPOINT_MODELCONFIG_H
