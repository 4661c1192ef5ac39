//===- Calibrate.h - Layer-wise calibration over the engine -----*- C++ -*-===//
//
// Part of the qrealign project.
//
// The driver of calibration, shared by the pass `qrealign-calibrate`: it
// builds the calibration graph (CalibrationGraph.h) in a copy of the
// module, then, one layer at a time, computes the full-precision targets,
// optimizes the layer's trainable tensors against its objective with the
// engine (dlopen'ed; libtorch never links here), and feeds the quantized
// layer's outputs to the next layer (OmniQuant's chaining). Learned tensors
// are written to a new parameter scope, and the module's trainable
// parameters are re-pointed to it.
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_CALIBRATION_CALIBRATE_H
#define QREALIGN_CALIBRATION_CALIBRATE_H

#include "qrealign/Calibration/CalibrationGraph.h"

#include "mlir/IR/BuiltinOps.h"

#include <string>
#include <vector>

namespace qrealign::calibration {
struct CalibrationOptions {
  GraphOptions graph;
  /// Labelled prompts (JSONL with "prompt" and "label": 1 malicious, 0
  /// benign), rendered with the model's chat template (or `chatTemplate`)
  /// and `system`, at most `maxTokens` tokens (longer prompts keep their
  /// end, where the probed token is).
  std::string dataPath;
  std::string chatTemplate;
  std::string system;
  int maxTokens = 128;
  /// cpu, cuda (or cuda:N), or auto (cuda when the engine has it).
  std::string device = "auto";
  int numThreads = 1;
  std::string executablePath;
  uint64_t seed = 0;
  int batchSize = 1;
  /// Epochs per layer: one value for all layers, or two: the first for
  /// layers 0..L/2, the second for the rest (the paper's 5/15 schedule).
  std::vector<int> epochs = {10};
  /// AdamW learning rates of clipping logits (LWC) and smoothing scales
  /// (LET), OmniQuant's 1e-2 and 1e-3 by default.
  double clipLr = 1e-2, smoothLr = 1e-3;
  /// Start the smoothing scales SmoothQuant's way, from the calibration
  /// set's full-precision activations (c max|x_k|^alpha / max|W[:, k]|^(1 -
  /// alpha), c making their geometric mean 1), as OmniQuant does;
  /// otherwise from the module's values.
  bool smoothQuantInit = true;
  double smoothAlpha = 0.5;
  /// The aligned base model (IR, HF directory or llama2.c .bin) whose
  /// states anchor qrealign-plus.
  std::string basePath;
  /// Where the learned tensors go: a safetensors file (written atomically)
  /// mapped as `scope`.
  std::string file;
  std::string scope = "calibrated";
  /// A directory for a checkpoint after each layer; a run with the same
  /// inputs resumes from it.
  std::string checkpointDir;
  /// Stop (with an error) after calibrating this many layers in this run,
  /// leaving the checkpoint to resume from; 0: run to the end.
  int stopAfter = 0;
  /// Print progress lines on stderr.
  bool progress = true;
};

/// What one layer's calibration did.
struct LayerResult {
  int64_t layer = 0;
  double initialLoss = 0, finalLoss = 0;
  int64_t steps = 0;
  bool rolledBack = false;
  /// Wall time of the layer, and of its optimizer steps alone.
  double seconds = 0, stepSeconds = 0;
};

/// Calibrates `module` in place (see the file comment). Errors are
/// diagnostics prefixed with `passName`, located on the offending op or on
/// the module; on error the module is unchanged.
mlir::LogicalResult calibrate(mlir::ModuleOp module,
                              const CalibrationOptions &options,
                              llvm::StringRef passName,
                              std::vector<LayerResult> *results = nullptr);
} // namespace qrealign::calibration

#endif // QREALIGN_CALIBRATION_CALIBRATE_H
