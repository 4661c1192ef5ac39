//===- Export.h - qrealign IR to compressed-tensors directories -*- C++ -*-===//
//
// Part of the qrealign project.
//
// Writes a deployable module (weights packed by qrealign-quantize-weights,
// or a compressed-tensors checkpoint imported by qrealign-import) as a
// Hugging Face directory in the compressed-tensors format that
// llm-compressor writes and vLLM loads: `config.json` with a
// `quantization_config`, one `model.safetensors`, and the tokenizer files
// of the source directory. The stored levels are the module's bytes (4-bit
// nibbles are already compressed-tensors' little-endian words); importing
// the directory gives a module that dequantizes the same bytes, and
// exporting that again writes identical files.
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_EXPORT_EXPORT_H
#define QREALIGN_EXPORT_EXPORT_H

#include "mlir/IR/BuiltinOps.h"

#include <string>

namespace qrealign {
struct ExportOptions {
  /// The directory to write (the output policy of docs/robustness.md).
  std::string outputDir;
  /// Overwrite an existing output directory that a qrealign tool wrote.
  bool force = false;
  /// The Hugging Face directory whose config.json (and tokenizer files)
  /// describe the model; default: the directory of the module's `model`
  /// parameter scope, where qrealign-import found the checkpoint.
  std::string sourceDir;
};

/// Exports `module`. Every problem is a diagnostic: on the op that cannot
/// be exported (a linear whose weight is not stored levels or a float
/// parameter, a scheme compressed-tensors cannot hold), or on the module
/// (files, a config.json that does not describe the module's tensors).
/// The parameter scopes resolve through the qrealign dialect's
/// ParamEnvironment.
mlir::LogicalResult exportCompressedTensors(mlir::ModuleOp module,
                                            const ExportOptions &options);
} // namespace qrealign

#endif // QREALIGN_EXPORT_EXPORT_H
