//===- CalibrationGraph.h - Calibration objectives as IR --------*- C++ -*-===//
//
// Part of the qrealign project.
//
// Calibration learns the quantization parameters of one decoder layer at a
// time. Its objective is IR: for every `qrealign.layer` of `@forward`,
// buildCalibrationGraph adds to the module
//
//   func.func @qrealign_embed(ids, positions, mask) -> hidden
//       the ops of @forward that compute the first layer's input;
//   func.func @qrealign_reference_N(hidden, positions, mask) -> hidden
//       layer N at full precision (fake quantization and smoothing
//       removed): the fine-tuned model's targets;
//   func.func @qrealign_calibrate_N(hidden, positions, mask, target,
//                                   target_weight, index, probe_weight,
//                                   anchor, anchor_weight) -> (loss, hidden)
//       layer N in fake-quantize form, its clipping and smoothing tensors
//       read `trainable`, and the objective written as ops
//       (qrealign.squared_error, qrealign.gather_token,
//       qrealign.boundary_loss, qrealign.add);
//   func.func @qrealign_statistics_N(hidden, positions, mask) -> (edges...)
//       layer N at full precision, returning the shared input edge of each
//       smoothing scale (what `qrealign.smooth` divides): the activation
//       statistics that initialise the scales SmoothQuant-style.
//
// The engine runs and differentiates these functions (qr_engine_call,
// qr_engine_optimize_step); the driver (Calibrate.h) only feeds batches.
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_CALIBRATION_CALIBRATIONGRAPH_H
#define QREALIGN_CALIBRATION_CALIBRATIONGRAPH_H

#include "qrealign/Dialect/QRealign/IR/QRealign.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringRef.h"

#include <optional>
#include <string>
#include <vector>

namespace qrealign::calibration {
/// What calibration optimizes (docs/calibration.md).
enum class Objective {
  /// Round to nearest: clipping factors 1, smoothing the identity; nothing
  /// learned (baseline).
  RTN,
  /// OmniQuant: the full-precision layer's output on every prompt.
  Recon,
  /// Q-realign as released: reconstruction on benign prompts, and
  /// softplus(margin - (w.h + b)) at the probed token of malicious ones.
  QRealign,
  /// Ours: Q-realign plus an anchor, the squared distance of malicious
  /// prompts' probed-token states to the aligned base model's.
  QRealignPlus,
};

std::optional<Objective> parseObjective(llvm::StringRef name);
llvm::StringRef getObjectiveName(Objective objective);
/// "rtn, recon, qrealign, qrealign-plus".
llvm::StringRef getObjectiveNames();
/// True when the objective reads the layers' safety boundaries.
bool usesProbes(Objective objective);
/// True when the objective needs the aligned base model's states.
bool usesAnchor(Objective objective);

struct GraphOptions {
  Objective objective = Objective::QRealign;
  /// Margin m of the boundary term softplus(m - (w.h + b)).
  double margin = 0.0;
  /// Coefficient of the boundary term.
  double probeCoefficient = 1.0;
  /// Coefficient (lambda) of the anchor term (qrealign-plus).
  double anchorCoefficient = 0.5;
};

/// Symbol names of the functions built for layer `index`.
std::string getReferenceFunctionName(int64_t index);
std::string getCalibrateFunctionName(int64_t index);
std::string getStatisticsFunctionName(int64_t index);
inline constexpr llvm::StringLiteral kEmbedFunctionName = "qrealign_embed";

/// The inputs of a calibration function after the layer's own (hidden,
/// positions, mask), in order.
enum CalibrateInput : unsigned {
  kTarget = 3,
  kTargetWeight,
  kIndex,
  kProbeWeight,
  kAnchor,
  kAnchorWeight,
  kNumCalibrateInputs
};

/// One layer's calibration: the layer, its trainable tensors, its boundary.
struct LayerGraph {
  int64_t index = 0;
  int64_t hiddenSize = 0;
  /// The probed token (the boundary's position; -1 when there is none).
  int64_t position = -1;
  /// Parameters the calibration function reads `trainable`: clipping logits
  /// (`clip`), then smoothing scales (`smooth`), each in module order.
  std::vector<std::string> clip, smooth;
  /// The smoothing scales @qrealign_statistics_N returns an edge for, in
  /// its result order, each with the parameters its consumers'
  /// `qrealign.smooth_weight` ops transform. A scale on no single
  /// `qrealign.smooth`, or on a weight that is not a parameter, is not
  /// here (it starts at the identity).
  struct Statistic {
    std::string scale;
    std::vector<std::string> weights;
  };
  std::vector<Statistic> statistics;
};

/// Builds the functions above for every layer of `@forward`, replacing any
/// built before. Errors are located on the offending op: a layer that is
/// not (hidden, positions, mask) -> hidden, a layer without a boundary when
/// the objective uses probes, a layer with nothing to learn (not in
/// fake-quantize form) unless the objective is rtn.
mlir::FailureOr<std::vector<LayerGraph>>
buildCalibrationGraph(mlir::ModuleOp module, const GraphOptions &options,
                      llvm::StringRef passName);

/// Removes the functions buildCalibrationGraph adds.
void eraseCalibrationGraph(mlir::ModuleOp module);
} // namespace qrealign::calibration

#endif // QREALIGN_CALIBRATION_CALIBRATIONGRAPH_H
