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

  /// Logits of the last token of each sequence ([batch][vocab]), or of every
  /// token when `allPositions` ([sum of lengths][vocab]).
  llvm::Expected<std::vector<std::vector<float>>>
  forward(llvm::ArrayRef<std::vector<int64_t>> batch,
          bool allPositions = false);
  /// Residual stream after `layers` at one position per sequence (negative:
  /// from the end). Result [batch][layer][hidden].
  llvm::Expected<std::vector<std::vector<std::vector<float>>>>
  capture(llvm::ArrayRef<std::vector<int64_t>> batch,
          llvm::ArrayRef<int32_t> layers, llvm::ArrayRef<int32_t> positions);
  /// Greedy decoding with a KV cache.
  llvm::Expected<GenerateResult>
  generate(llvm::ArrayRef<std::vector<int64_t>> batch, int maxNewTokens,
           llvm::ArrayRef<int64_t> eosIds);

private:
  Engine() = default;
  struct Api;
  std::unique_ptr<Api> api;
  qr_engine *handle = nullptr;
  int64_t vocab = 0, hidden = 0;
};
} // namespace qrealign

#endif // QREALIGN_ENGINE_ENGINE_H
