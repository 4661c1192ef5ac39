//===- Import.h - Checkpoints to qrealign IR --------------------*- C++ -*-===//
//
// Builds a qrealign module (one `qrealign.param` per tensor, external data,
// and a `func.func @forward(ids, positions, mask) -> logits` of
// `qrealign.layer` blocks) from a Hugging Face Llama-family directory or a
// llama2.c checkpoint. Only headers are read: importing a 70B checkpoint
// costs what importing a 7K one does.
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_IMPORT_IMPORT_H
#define QREALIGN_IMPORT_IMPORT_H

#include "qrealign/Checkpoint/Checkpoint.h"
#include "qrealign/Checkpoint/CompressedTensors.h"
#include "qrealign/Checkpoint/ModelConfig.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace qrealign {
struct ImportOptions {
  /// Tokenizer file to record in the module (`qrealign.tokenizer`); found
  /// next to the checkpoint when empty.
  std::string tokenizerPath;
  /// Built-in chat template to record (`qrealign.chat_template`); guessed
  /// from the model when empty.
  std::string chatTemplate;
  /// The directory the IR will be written to: the checkpoint and tokenizer
  /// paths are recorded relative to it, so that IR and model move together.
  /// Empty: absolute paths (IR written to stdout or kept in memory).
  std::string irDirectory;
};

/// Everything an importer found: the model's config and its checkpoint.
struct ImportedModel {
  ModelConfig config;
  std::unique_ptr<Checkpoint> checkpoint;
  /// The checkpoint's path (absolute); recorded as scope `model` of
  /// `qrealign.params`.
  std::string checkpointPath;
  /// Absolute path of the tokenizer, or empty.
  std::string tokenizerPath;
  std::string chatTemplate;
  /// ImportOptions::irDirectory.
  std::string irDirectory;
  /// The config's compressed-tensors `quantization_config`: the linears it
  /// targets read their stored levels through `qrealign.dequantize`.
  std::optional<CompressedTensorsConfig> quantization;
};

/// Opens `path` (a Hugging Face model directory, a llama2.c `.bin`) and reads
/// its config and checkpoint headers.
llvm::Expected<ImportedModel> openModel(llvm::StringRef path,
                                        const ImportOptions &options = {});

/// Checks that the checkpoint holds every tensor the config implies, with
/// the right shapes and a float dtype (for a compressed-tensors checkpoint,
/// the stored levels, scales, zero points and shape of each quantized
/// linear instead of its weight), then builds the module. Parameters
/// are `#qrealign.external<"model"::NAME>`; every op carries a name location
/// from its checkpoint tensor (`model.layers.3.self_attn.q_proj`), which
/// the IR keeps when printed with debug info (as qrealign-import does).
llvm::Expected<mlir::OwningOpRef<mlir::ModuleOp>>
importModel(mlir::MLIRContext &context, const ImportedModel &model);

/// The Hugging Face tensor names and shapes a config implies, in module
/// order.
std::vector<std::pair<std::string, llvm::SmallVector<int64_t, 4>>>
getExpectedTensors(const ModelConfig &config);

/// The dialects an imported module uses.
void registerImportDialects(mlir::DialectRegistry &registry);
} // namespace qrealign

#endif // QREALIGN_IMPORT_IMPORT_H
