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
    `symmetric`, `act`. Giving `group-size` alone implies
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
    applied in order on top of the default (later entries win), e.g.
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
  let summary = "Round-to-nearest weight quantization into packed storage";
  let description = [{
    Materializes the weight part of every linear's `#qrealign.quant` scheme
    (`w_bits` < 16): min-max round-to-nearest quantization per tensor, per
    channel or per group, symmetric or asymmetric, at 8, 4, 3 or 2 bits,
    with the formulas of `qrealign/Quant/Quantizer.h` (the engine's
    fake-quantize computes the same numbers).

    The levels, scales and zero points of each weight are written, in one
    safetensors file written atomically (`file`), as tensors
    `NAME.weight_packed` (`i8 [N, K]`, or `u8 [N, K/2]` with two levels per
    byte for 2 to 4 bits), `NAME.weight_scale` (`f32`) and, for asymmetric
    schemes, `NAME.weight_zero_point` (`i8`), where NAME is the weight's
    tensor name without `.weight`. The module maps the new parameter scope
    (`scope`) to the file, by a path relative to the output IR, and each
    linear reads its weight through `qrealign.dequantize` of three new
    `qrealign.param`s. A floating-point weight that no op reads any more is
    removed (the embedding may still read the one the LM head shares).

    The weights are read from inline values or from the files of their
    scopes (`qrealign.params`, or the tool's `--params`). Linears whose
    weight is already dequantized are left alone. The file is written
    before the IR is changed; any error leaves the IR unchanged.

    ```
    qrealign-opt model.mlir --qrealign-assign-quant="w-bits=4 group-size=128 skip=lm_head" \
      --qrealign-quantize-weights="file=model-w4.safetensors" -o model-w4.mlir
    ```
  }];
  let options = [
    Option<"file", "file", "std::string", /*default=*/"\"\"",
           "Safetensors file to write the quantized weights to (required)">,
    Option<"scope", "scope", "std::string", /*default=*/"\"quant\"",
           "Parameter scope of the quantized weights">
  ];
  let statistics = [
    Statistic<"numQuantized", "num-quantized", "Weights quantized">,
    Statistic<"numBytes", "num-bytes", "Bytes written">
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

#endif // QREALIGN_TRANSFORMS_PASSES_TD
