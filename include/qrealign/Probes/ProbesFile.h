//===- ProbesFile.h - The probes file of qrealign-probe fit -----*- C++ -*-===//
//
// Part of the qrealign project.
//
// A probes file is safetensors (docs/probes.md): for each probe NAME, the
// tensors NAME.weight (f32 [hidden]) and NAME.bias (f32 [1]); metadata
// `format` = `qrealign-probes` and `probes`, a JSON object with at least
// hidden_size, num_layers and `probes`, a list of records with name,
// tensor and position. Layer N's probe is `layers.N`, fitted on "output of
// qrealign.layer N"; the final norm's is `final_norm`. This file is the one
// place that knows these names; qrealign-probe writes and reads it, and
// qrealign-attach-probes reads it.
//
// No MLIR, no libtorch.
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_PROBES_PROBESFILE_H
#define QREALIGN_PROBES_PROBESFILE_H

#include "qrealign/Probes/Separability.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

#include <optional>
#include <string>
#include <vector>

namespace qrealign::probes {
/// `layers.N`, the name of layer N's probe.
std::string getLayerProbeName(int64_t layer);
/// What layer N's probe is fitted on: "output of qrealign.layer N".
std::string getLayerProbeTensor(int64_t layer);
/// The final norm's probe and its tensor.
llvm::StringRef getFinalNormProbeName();
llvm::StringRef getFinalNormProbeTensor();
/// The probe and tensor of capture index `index` of a model with
/// `numLayers` layers: layer `index`, or the final norm when index ==
/// numLayers (the engine's capture convention).
std::string getProbeName(int64_t index, int64_t numLayers);
std::string getProbeTensor(int64_t index, int64_t numLayers);

struct ProbeRecord {
  std::string name, tensor;
  /// The token the probe reads: -1, the last prompt token.
  int64_t position = -1;
  /// Empty when the file lacks the tensors or they are misshapen (the
  /// reader leaves the judgement to its user).
  std::vector<float> weight;
  float bias = 0;
  /// The record's other fields (accuracies, solver results).
  llvm::json::Object info;
  bool hasData() const { return !weight.empty(); }
  /// Whether it was fitted on `tensor` at the last prompt token.
  bool isFittedOn(llvm::StringRef tensor) const {
    return this->tensor == tensor && position == -1;
  }
  std::optional<double> getHeldoutAccuracy() const {
    return info.getNumber("heldout_accuracy");
  }
  /// The boundary, in double precision.
  LinearProbe getLinearProbe() const {
    return {std::vector<double>(weight.begin(), weight.end()), bias};
  }
};

struct ProbesFile {
  int64_t hiddenSize = 0, numLayers = 0;
  /// The metadata's other fields (model, data, solver options).
  llvm::json::Object info;
  std::vector<ProbeRecord> probes;
  const ProbeRecord *lookup(llvm::StringRef name) const;
};

/// Reads `path`. Errors (naming the file): not safetensors, not a probes
/// file, metadata without hidden_size, num_layers or probes, or a record
/// without name, tensor or position.
llvm::Expected<ProbesFile> readProbesFile(llvm::StringRef path);
/// The `probes` metadata `json` of the file `path` alone: every record
/// without its tensors (hasData() false). The same errors.
llvm::Expected<ProbesFile> parseProbesMetadata(llvm::StringRef json,
                                               llvm::StringRef path);

/// Features [n, d] and labels of a CSV (qrealign-probe solve): numbers
/// separated by commas, the last one the label (0 or 1); blank lines and
/// lines starting with '#' skipped. Errors are located (PATH:LINE:COLUMN).
llvm::Error parseFeatureCSV(llvm::StringRef path, llvm::StringRef text,
                            std::vector<float> &x, std::vector<int8_t> &y,
                            int64_t &d);

/// Writes `file` to `path` atomically.
llvm::Error writeProbesFile(llvm::StringRef path, const ProbesFile &file);
} // namespace qrealign::probes

#endif // QREALIGN_PROBES_PROBESFILE_H
