//===- Passes.td - qrealign transformation passes ----------*- tablegen -*-===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_TRANSFORMS_PASSES_TD
#define QREALIGN_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def QRealignAssignQuantPass : Pass<"qrealign-assign-quant", "::mlir::ModuleOp"> {
  let summary = "Attach a quantization scheme to every linear";
  let description = [{
    Sets the `quant` attribute of every `qrealign.linear` in the module from
    a default scheme, skip selectors and ordered overrides, then enforces the
    fusion rule.

    **Default scheme**: `w-bits`, `a-bits`, `granularity`, `group-size`,
    `symmetric`, `act`, `a-symmetric`. Giving `group-size` alone implies
    `granularity=per-group`.

    **Selectors** pick linears by layer and name:
    - `NAME` (e.g. `down_proj`, `lm_head`): that linear in every layer, or
      outside layers;
    - `L<i>` or `L<i>-<j>`: every linear of layers i..j (inclusive);
    - `L<i>.NAME`, `L<i>-<j>.NAME`: that linear in those layers;
    - `*`: every linear.

    **skip**: comma-separated selectors; matched linears get no scheme (they
    stay in floating point, e.g. `skip=lm_head`).

    **overrides**: comma-separated `SELECTOR:KEY=VALUE[:KEY=VALUE...]`, with
    keys `w-bits`, `a-bits`, `granularity`, `group-size`, `symmetric`, `act`,
    `a-symmetric`, applied in order on top of the default (later entries win), e.g.
    `overrides=L0-1:w-bits=8,down_proj:group-size=64:symmetric=true`.

    **Fusion groups**: the linears of one block with the same `fusion` name
    (q/k/v, gate/up; the importer writes them) become one GEMM in vLLM-style
    runtimes and get one scheme. A skip or override that selects one member
    of a group applies to the whole group, in order, so the result always
    passes `qrealign-check-fusion`.

    Malformed options, selectors that match no linear, and schemes a linear
    cannot take (a group size that does not divide its input width) are
    reported as errors; the pass then fails without changing the IR.

    ```
    qrealign-opt model.mlir \
      --qrealign-assign-quant="w-bits=4 group-size=128 skip=lm_head overrides=L0:w-bits=8"
    ```
  }];
  let options = [
    Option<"wBits", "w-bits", "int", /*default=*/"8",
           "Weight bits: 2, 3, 4, 8 or 16 (16 = not quantized)">,
    Option<"aBits", "a-bits", "int", /*default=*/"16",
           "Activation bits: 4, 8 or 16 (16 = not quantized)">,
    Option<"granularity", "granularity", "std::string", /*default=*/"\"\"",
           "per-tensor, per-channel or per-group (default: per-group if "
           "group-size is set, else per-channel)">,
    Option<"groupSize", "group-size", "int64_t", /*default=*/"0",
           "Input channels per scale group (power of two >= 8); implies "
           "per-group (omit it for per-channel)">,
    Option<"symmetric", "symmetric", "bool", /*default=*/"false",
           "Symmetric weight quantization (no zero point)">,
    Option<"act", "act", "std::string", /*default=*/"\"dynamic\"",
           "Activation scales: dynamic (per token) or static">,
    Option<"aSymmetric", "a-symmetric", "bool", /*default=*/"false",
           "Dynamic activations without a zero point (llm-compressor's and "
           "vLLM's int8 form)">,
    ListOption<"skip", "skip", "std::string",
               "Selectors of linears to leave unquantized">,
    ListOption<"overrides", "overrides", "std::string",
               "SELECTOR:KEY=VALUE[:KEY=VALUE...] entries, applied in order">
  ];
  let statistics = [
    Statistic<"numQuantized", "num-quantized", "Linears given a scheme">,
    Statistic<"numSkipped", "num-skipped", "Linears left unquantized">
  ];
  let dependentDialects = ["::mlir::qrealign::QRealignDialect"];
}

def QRealignCheckFusionPass
    : Pass<"qrealign-check-fusion", "::mlir::ModuleOp"> {
  let summary = "Check that every fusion group can run as one GEMM";
  let description = [{
    Deployment legality for fused-GEMM runtimes (vLLM's fused QKV and
    gate/up projections): the `qrealign.linear`s of one block that carry the
    same `fusion` name must read the same input value and have the same
    `quant` scheme (or none). Each violation is an error on the offending
    linear with a note on the group's first member; the IR is not changed.

    This is a pass and not a verifier rule because it depends on the
    neighbourhood of an op: upstream rewrites such as `--cse` may merge or
    split the producers of an input, and must never turn valid IR invalid.

    ```
    qrealign-opt model.mlir --qrealign-assign-quant="w-bits=4" --qrealign-check-fusion
    ```
  }];
  let statistics = [
    Statistic<"numGroups", "num-groups", "Fusion groups checked">
  ];
}

def QRealignQuantizeWeightsPass
    : Pass<"qrealign-quantize-weights", "::mlir::ModuleOp"> {
  let summary = "Materialize each linear's scheme as quantization ops";
  let description = [{
    Materializes the weight part of every linear's `#qrealign.quant` scheme
    (`w_bits` < 16): min-max round-to-nearest quantization per tensor, per
    channel or per group, symmetric or asymmetric, at 8, 4, 3 or 2 bits,
    with the formulas of `qrealign/Quant/Quantizer.h`. Two forms:

    - `form=packed` (the default, the deployment form): the levels, scales
      and zero points of each weight are written, in one safetensors file
      written atomically (`file`), as tensors `NAME.weight_packed` (`i8
      [N, K]`, or `u8 [N, K/2]` with two levels per byte for 2 to 4 bits),
      `NAME.weight_scale` (`f32`) and, for asymmetric schemes,
      `NAME.weight_zero_point` (`i8`), where NAME is the weight's tensor
      name without `.weight`. Each linear reads its weight through
      `qrealign.dequantize` of three new `qrealign.param`s.
    - `form=fake` (the form calibration trains): each linear reads
      `qrealign.fake_quantize` of its float weight, with dynamic ranges.
      With `lwc`, the op gets learnable clipping logits, tensors
      `NAME.weight_clip_max` (and `NAME.weight_clip_min` when asymmetric)
      initialised to `lwc-init` (OmniQuant's 4.0: factors σ(4) ≈ 0.982).
      With `smooth`, every `rms_norm` whose result only quantized linears
      read gets a `qrealign.smooth` on that shared edge and each of those
      linears a `qrealign.smooth_weight` before its `fake_quantize`, both
      with one scale tensor `NORM.smooth_scale` initialised to ones (the
      identity; to be learned, and folded by `qrealign-fold-smoothing`).

    Both forms write new tensors, if any, to one safetensors file (`file`,
    written atomically) which the module maps as the new parameter scope
    `scope`, by a path relative to the output IR. With `qk`, the query and
    key operands of each attention whose `q_proj`/`k_proj` scheme quantizes
    activations get a dynamic asymmetric `fake_quantize` at that width, per
    token and head (`per_group`, `group_size` = head_dim), as OmniQuant
    quantizes the Q·Kᵀ product's inputs.

    `form=packed` also materializes the calibration form: a linear whose
    weight is a `fake_quantize` with dynamic ranges of a parameter (after
    `qrealign-calibrate` and `qrealign-fold-smoothing`) gets the packed
    levels of exactly those ranges, its clipping factors included, at the
    `fake_quantize`'s width and granularity, so the packed module computes
    what the calibrated one does; a weight still smoothed is an error (fold
    first).

    A floating-point weight (or clipping logit) that no op reads any more is
    removed (the embedding may still read the one the LM head shares). The
    weights are read from inline values or from the files of their scopes
    (`qrealign.params`, or the tool's `--params`). Linears whose weight is
    otherwise already quantized are left alone. The file is written before the IR is
    changed; any error leaves the IR unchanged.

    ```
    qrealign-opt model.mlir --qrealign-assign-quant="w-bits=4 group-size=128 skip=lm_head" \
      --qrealign-quantize-weights="file=model-w4.safetensors" -o model-w4.mlir
    qrealign-opt model.mlir --qrealign-assign-quant="w-bits=4 a-bits=4 group-size=128 skip=lm_head" \
      --qrealign-quantize-weights="form=fake lwc smooth qk file=learn.safetensors scope=learn" -o w4a4-fake.mlir
    ```
  }];
  let options = [
    Option<"file", "file", "std::string", /*default=*/"\"\"",
           "Safetensors file to write new tensors to (required when there "
           "are any)">,
    Option<"scope", "scope", "std::string", /*default=*/"\"quant\"",
           "Parameter scope of the new tensors">,
    Option<"form", "form", "std::string", /*default=*/"\"packed\"",
           "packed (dequantize of packed levels) or fake (fake_quantize of "
           "the float weights)">,
    Option<"lwc", "lwc", "bool", /*default=*/"false",
           "form=fake: learnable weight clipping logits">,
    Option<"lwcInit", "lwc-init", "double", /*default=*/"4.0",
           "Initial clipping logit">,
    Option<"smooth", "smooth", "bool", /*default=*/"false",
           "form=fake: identity smoothing on each rms_norm edge read by "
           "quantized linears">,
    Option<"qk", "qk", "bool", /*default=*/"false",
           "Quantize attention Q and K at the q_proj/k_proj activation width">
  ];
  let statistics = [
    Statistic<"numQuantized", "num-quantized", "Weights quantized">,
    Statistic<"numSmoothed", "num-smoothed", "Smoothing ops inserted">,
    Statistic<"numQK", "num-qk", "Attention Q/K operands quantized">,
    Statistic<"numBytes", "num-bytes", "Bytes written">
  ];
  let dependentDialects = ["::mlir::qrealign::QRealignDialect"];
}

def QRealignFoldSmoothingPass
    : Pass<"qrealign-fold-smoothing", "::mlir::ModuleOp"> {
  let summary = "Fold qrealign.smooth into the rms_norm before it and the "
                "linears after it";
  let description = [{
    Removes every `qrealign.smooth` whose input is an `rms_norm` and whose
    users are all `qrealign.linear`s that read it as their input and carry
    the inverse transformation in their weight (`qrealign.smooth_weight`
    with the same scale parameter, directly or under a `fake_quantize`,
    the calibration form): the norm's weight `g` becomes `g / scale` and
    each `smooth_weight(W, scale)` becomes the parameter `W · diag(scale)`,
    so the module computes the same function without the two ops (up to
    f32 rounding; a `fake_quantize` then quantizes the folded weight, as
    OmniQuant quantizes after its equivalent transformation). A `smooth`
    that cannot fold is an error located on it or on the offending user.

    The folded tensors are written to one safetensors file (`file`, written
    atomically) that the module maps as the new scope `scope`; their names
    are those of the tensors they replace. Parameters no op reads any more
    are removed.

    ```
    qrealign-opt calibrated.mlir --qrealign-fold-smoothing="file=folded.safetensors"
    ```
  }];
  let options = [
    Option<"file", "file", "std::string", /*default=*/"\"\"",
           "Safetensors file to write the folded tensors to (required)">,
    Option<"scope", "scope", "std::string", /*default=*/"\"smooth\"",
           "Parameter scope of the folded tensors">
  ];
  let statistics = [
    Statistic<"numFolded", "num-folded", "Smoothing ops folded">
  ];
  let dependentDialects = ["::mlir::qrealign::QRealignDialect"];
}

def QRealignAttachProbesPass
    : Pass<"qrealign-attach-probes", "::mlir::ModuleOp"> {
  let summary = "Attach per-layer safety boundaries from a probes file";
  let description = [{
    Reads a probes file written by `qrealign-probe fit` (safetensors with
    `format = qrealign-probes` metadata) and attaches to every
    `qrealign.layer` of the module a `#qrealign.boundary` whose weight and
    bias are new `qrealign.param`s in scope `scope`, mapped to the file by a
    path relative to the output IR (the file itself is not copied). The
    probes may have been fitted on another model of the same shape (the
    aligned base, applied to the fine-tuned model).

    The pass checks, each failure a located error that leaves the IR
    unchanged:
    - the file is a probes file, and it was fitted on a model with as many
      layers as the module has `qrealign.layer`s, of the same hidden size as
      each layer's residual stream;
    - the probe attached to layer N was fitted on the output of layer N at
      the last prompt token (not on another tensor, such as the final
      norm's output);
    - its tensors have the shapes a boundary needs (`[D]`, `[1]`);
    - no layer already carries a boundary, and the scope is new.

    The probe on the final norm's output (`final_norm`) is not attached: no
    layer yields that tensor.

    ```
    qrealign-probe fit base/ --data probe.jsonl -o probes.safetensors
    qrealign-opt finetuned.mlir --qrealign-attach-probes="file=probes.safetensors" -o probed.mlir
    ```
  }];
  let options = [
    Option<"file", "file", "std::string", /*default=*/"\"\"",
           "Probes file (qrealign-probe fit) (required)">,
    Option<"scope", "scope", "std::string", /*default=*/"\"probes\"",
           "Parameter scope of the probe tensors">
  ];
  let statistics = [
    Statistic<"numAttached", "num-attached", "Boundaries attached">
  ];
  let dependentDialects = ["::mlir::qrealign::QRealignDialect"];
}

def QRealignQuantReportPass
    : Pass<"qrealign-quant-report", "::mlir::ModuleOp"> {
  let summary = "Print a table of every linear's scheme and weight footprint";
  let description = [{
    Prints a Markdown table with one row per `qrealign.linear`: layer, name,
    weight shape `N×K`, scheme, storage bits per weight (counting f16 scales
    and zero points), and weight bytes in FP16 and as quantized; then the
    totals and the compression ratio. The IR is not changed.

    The table goes to stderr, or atomically to `file` if given (written to a
    temporary file, then renamed).
  }];
  let options = [
    Option<"file", "file", "std::string", /*default=*/"\"\"",
           "Write the table to this file instead of stderr">
  ];
}

def QRealignRebaseParamsPass
    : Pass<"qrealign-rebase-params", "::mlir::ModuleOp"> {
  let summary = "Make the module's file paths relative to where it is written";
  let description = [{
    The module's `qrealign.params` entries and `qrealign.tokenizer` are
    recorded relative to the IR file's directory. When a tool writes the
    module to another directory, this pass rewrites every relative path so
    that it names the same file from there (relative to the output's
    directory), and makes later passes resolve scopes from there too.
    `qrealign-opt` runs it first whenever `-o` names a file in another
    directory than the input; with both in one directory, or output to
    stdout, it changes nothing. Directories come from the qrealign dialect's
    ParamEnvironment (the tool sets them); absolute paths stay as they are.
  }];
  let dependentDialects = ["::mlir::qrealign::QRealignDialect"];
}

#endif // QREALIGN_TRANSFORMS_PASSES_TD
