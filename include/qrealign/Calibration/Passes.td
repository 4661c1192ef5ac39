//===- Passes.td - Calibration passes ----------------------*- tablegen -*-===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_CALIBRATION_PASSES_TD
#define QREALIGN_CALIBRATION_PASSES_TD

include "mlir/Pass/PassBase.td"

def QRealignBuildCalibrationPass
    : Pass<"qrealign-build-calibration", "::mlir::ModuleOp"> {
  let summary = "Build each layer's calibration objective as functions";
  let description = [{
    What `qrealign-calibrate` optimizes, as IR that can be read and tested
    without the engine. For every `qrealign.layer` of `@forward` it adds:

    - `@qrealign_embed(ids, positions, mask) -> hidden`: the ops of
      `@forward` that compute the first layer's input;
    - `@qrealign_reference_N(hidden, positions, mask) -> hidden`: layer N at
      full precision (its `fake_quantize`, `smooth` and `smooth_weight` ops
      removed, its linears without schemes), the fine-tuned model's target;
    - `@qrealign_calibrate_N(hidden, positions, mask, target,
      target_weight, index, probe_weight, anchor, anchor_weight) -> (loss,
      hidden)`: layer N in fake-quantize form, where the clipping logits of
      its `fake_quantize` ops and the scales of its smoothing ops are read
      `trainable`, followed by the objective:
      - every objective: `qrealign.squared_error` of the output and the
        target, weighted per token (`rtn` and `recon`: every prompt;
        `qrealign`, `qrealign-plus`: benign prompts only);
      - `qrealign`, `qrealign-plus`: `qrealign.boundary_loss` of the state
        at the probed token (`qrealign.gather_token`) against the layer's
        `#qrealign.boundary`, weighted per prompt (malicious ones);
      - `qrealign-plus`: `qrealign.squared_error` of that state and the
        aligned base model's (`anchor`), with coefficient `anchor`.

    Functions built before are replaced. Errors: a layer that is not
    `(hidden, positions, mask) -> hidden`, a layer with nothing to learn
    (not in the fake-quantize form of `qrealign-quantize-weights
    form=fake lwc smooth`) unless the objective is `rtn`, and a layer
    without a boundary when the objective reads probes.

    ```
    qrealign-opt probed-fake.mlir --qrealign-build-calibration="objective=qrealign-plus anchor=0.5"
    ```
  }];
  let options = [
    Option<"objective", "objective", "std::string", /*default=*/"\"qrealign\"",
           "rtn, recon, qrealign or qrealign-plus">,
    Option<"margin", "margin", "double", /*default=*/"0.0",
           "Margin m of the boundary term softplus(m - (w.h + b))">,
    Option<"probeCoefficient", "probe-coefficient", "double",
           /*default=*/"1.0", "Coefficient of the boundary term">,
    Option<"anchor", "anchor", "double", /*default=*/"0.5",
           "Coefficient (lambda) of the anchor term (qrealign-plus)">
  ];
  let dependentDialects = ["::mlir::func::FuncDialect",
                           "::mlir::qrealign::QRealignDialect"];
}

def QRealignCalibratePass : Pass<"qrealign-calibrate", "::mlir::ModuleOp"> {
  let summary = "Learn quantization parameters layer by layer (Q-realign)";
  let description = [{
    Learns the clipping logits (LWC) and smoothing scales (LET) of a module
    in fake-quantize form (`qrealign-quantize-weights form=fake lwc
    smooth`), one decoder layer at a time, against the objective that
    `qrealign-build-calibration` writes as IR, with the libtorch engine
    (loaded only when this pass runs; on the GPU with `device=cuda` or
    `auto` and a CUDA engine).

    For each layer, in order: the full-precision layer's outputs on the
    full-precision stream are the targets; its smoothing scales start
    SmoothQuant's way (`smooth-init`), `s_k = c max|x_k|^alpha /
    max|W[:, k]|^(1 - alpha)`, from the maxima of the full-precision edge
    `x` over the calibration set's tokens and of the consumers' weights
    `W`, with `c` making their geometric mean 1; the layer's trainable
    tensors
    take `epochs` passes of AdamW over the calibration prompts in batches of
    `batch-size` (shuffled per epoch from `seed`); its outputs on the
    quantized stream feed the next layer (OmniQuant's chaining). A layer
    whose loss is not finite or ends above where it started is rolled back
    to round-to-nearest parameters (clipping factors 1, smoothing the
    identity), with a warning.

    The learned tensors are written, atomically, to `file`, mapped as the
    new scope `scope`, and every trainable parameter is re-pointed to it.
    The module records what was run in `qrealign.calibration`: objective,
    data digest, prompt counts, schedule, and each layer's initial and final
    loss. With `checkpoint=DIR`, the state after each layer is saved there,
    and a run with the same inputs resumes from it with the same result.

    Calibration prompts (`data`) are JSONL objects with `"prompt"` and
    `"label"` (1 malicious, 0 benign), rendered with the model's chat
    template and tokenizer, at most `max-tokens` tokens (keeping the end).

    ```
    qrealign-opt finetuned.mlir \
      --qrealign-assign-quant="w-bits=8 a-bits=8 skip=lm_head" \
      --qrealign-quantize-weights="form=fake lwc smooth file=init.safetensors scope=init" \
      --qrealign-attach-probes="file=probes.safetensors" \
      --qrealign-calibrate="data=calib.jsonl objective=qrealign-plus base=base/ file=learned.safetensors" \
      -o calibrated.mlir
    ```
  }];
  let options = [
    Option<"objective", "objective", "std::string", /*default=*/"\"qrealign\"",
           "rtn, recon, qrealign or qrealign-plus">,
    Option<"data", "data", "std::string", /*default=*/"\"\"",
           "Labelled calibration prompts (JSONL) (required)">,
    Option<"chatTemplate", "chat-template", "std::string", /*default=*/"\"\"",
           "Chat template (default: the model's)">,
    Option<"system", "system", "std::string", /*default=*/"\"\"",
           "System prompt">,
    Option<"maxTokens", "max-tokens", "int", /*default=*/"128",
           "Prompt length in tokens (longer prompts keep their end)">,
    Option<"device", "device", "std::string", /*default=*/"\"auto\"",
           "cpu, cuda or auto">,
    Option<"threads", "threads", "int", /*default=*/"1",
           "CPU threads of the engine">,
    Option<"seed", "seed", "uint64_t", /*default=*/"0",
           "Seed of the batch order">,
    Option<"batchSize", "batch-size", "int", /*default=*/"1",
           "Prompts per optimizer step (the released code's 1)">,
    ListOption<"epochs", "epochs", "int",
               "Epochs per layer: one count, or two (layers 0..L/2, then "
               "the rest; the paper's 5,15); default 10">,
    Option<"clipLr", "clip-lr", "double", /*default=*/"1e-2",
           "Learning rate of clipping logits">,
    Option<"smoothLr", "smooth-lr", "double", /*default=*/"1e-3",
           "Learning rate of smoothing scales">,
    Option<"smoothInit", "smooth-init", "std::string",
           /*default=*/"\"smoothquant\"",
           "Where smoothing scales start: smoothquant (from the calibration "
           "set's activations) or module (their values in the module)">,
    Option<"smoothAlpha", "smooth-alpha", "double", /*default=*/"0.5",
           "SmoothQuant's migration strength alpha, in [0, 1]">,
    Option<"margin", "margin", "double", /*default=*/"0.0",
           "Margin of the boundary term">,
    Option<"probeCoefficient", "probe-coefficient", "double",
           /*default=*/"1.0", "Coefficient of the boundary term">,
    Option<"anchor", "anchor", "double", /*default=*/"0.5",
           "Coefficient of the anchor term (qrealign-plus)">,
    Option<"base", "base", "std::string", /*default=*/"\"\"",
           "The aligned base model (qrealign-plus)">,
    Option<"file", "file", "std::string", /*default=*/"\"\"",
           "Safetensors file for the learned tensors (required)">,
    Option<"scope", "scope", "std::string", /*default=*/"\"calibrated\"",
           "Parameter scope of the learned tensors">,
    Option<"checkpoint", "checkpoint", "std::string", /*default=*/"\"\"",
           "Directory for per-layer checkpoints (resume)">,
    Option<"stopAfter", "stop-after", "int", /*default=*/"0",
           "Stop after this many layers, to resume from the checkpoint "
           "later (0: run to the end)">,
    Option<"quiet", "quiet", "bool", /*default=*/"false",
           "No progress lines">
  ];
  let statistics = [
    Statistic<"numLayers", "num-layers", "Layers calibrated">,
    Statistic<"numRolledBack", "num-rolled-back",
              "Layers rolled back to round to nearest">
  ];
  let dependentDialects = ["::mlir::func::FuncDialect",
                           "::mlir::qrealign::QRealignDialect"];
}

#endif // QREALIGN_CALIBRATION_PASSES_TD
