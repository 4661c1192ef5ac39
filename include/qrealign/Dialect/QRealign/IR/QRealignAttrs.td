//===- QRealignAttrs.td - qrealign attributes and enums ----*- tablegen -*-===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_ATTRS_TD
#define QREALIGN_ATTRS_TD

include "qrealign/Dialect/QRealign/IR/QRealignDialect.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"

//===----------------------------------------------------------------------===//
// Enums
//===----------------------------------------------------------------------===//

def QRealign_Granularity : I32EnumAttr<"Granularity",
    "granularity of the weight quantization scale", [
      I32EnumAttrCase<"PerTensor", 0, "per_tensor">,
      I32EnumAttrCase<"PerChannel", 1, "per_channel">,
      I32EnumAttrCase<"PerGroup", 2, "per_group">
    ]> {
  let cppNamespace = "::mlir::qrealign";
  let genSpecializedAttr = 0;
}

def QRealign_ActQuantMode : I32EnumAttr<"ActQuantMode",
    "how activation scales are obtained", [
      I32EnumAttrCase<"Dynamic", 0, "dynamic">,
      I32EnumAttrCase<"Static", 1, "static">
    ]> {
  let cppNamespace = "::mlir::qrealign";
  let genSpecializedAttr = 0;
}

def QRealign_RopeStyle : I32EnumAttr<"RopeStyle",
    "which dimensions rotary position embedding rotates together", [
      I32EnumAttrCase<"RotateHalf", 0, "rotate_half">,
      I32EnumAttrCase<"Interleaved", 1, "interleaved">
    ]> {
  let cppNamespace = "::mlir::qrealign";
  let genSpecializedAttr = 0;
}


//===----------------------------------------------------------------------===//
// Parameters
//===----------------------------------------------------------------------===//

/// An enum parameter that may be left out of a struct() format, with a
/// default.
class QRealign_DefaultEnumParam<EnumAttrInfo info, string value>
    : EnumParameter<info> {
  let defaultValue = value;
}

/// A 64-bit float, printed and parsed as a float literal.
class QRealign_F64Param<string desc> : AttrParameter<"::llvm::APFloat", desc> {
  let parser = [{ [&]() -> ::mlir::FailureOr<::llvm::APFloat> {
    double v = 0;
    if ($_parser.parseFloat(v))
      return ::mlir::failure();
    return ::llvm::APFloat(v);
  }() }];
  let printer = [{ $_printer.printFloat($_self) }];
  let comparator = "$_lhs.bitwiseIsEqual($_rhs)";
}

class QRealign_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<QRealign_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

//===----------------------------------------------------------------------===//
// ExternalAttr
//===----------------------------------------------------------------------===//

def QRealign_ExternalAttr : QRealign_Attr<"External", "external"> {
  let summary = "A tensor stored outside the IR: scope and key";
  let description = [{
    Names the data of a `qrealign.param` that lives outside the IR, in the
    spirit of IREE's `#stream.parameter.named<"scope"::"key">`: `key` is a
    tensor name inside the file that `scope` maps to. The module attribute
    `qrealign.params` maps each scope to a file (a `.safetensors` file, a
    shard index `.safetensors.index.json`, a Hugging Face directory or a
    llama2.c `.bin`) by a path relative to the IR file; every tool that
    reads parameter data accepts `--params SCOPE=PATH` to override or
    supply one.

    The importer writes scope `model`; learned parameters and probes go to
    scopes of their own, so a module can draw on several files.

    - `scope`: `[A-Za-z_][A-Za-z0-9_-]*`.
    - `key`: any non-empty string (Hugging Face names contain dots).

    ```mlir
    #qrealign.external<"model"::"model.layers.0.self_attn.q_proj.weight">
    ```
  }];
  let parameters = (ins StringRefParameter<"scope">:$scope,
                        StringRefParameter<"tensor name in the scope">:$key);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// True if `scope` is a valid scope name.
    static bool isValidScope(::llvm::StringRef scope);
  }];
}

//===----------------------------------------------------------------------===//
// QuantSchemeAttr
//===----------------------------------------------------------------------===//

def QRealign_QuantSchemeAttr : QRealign_Attr<"QuantScheme", "quant"> {
  let summary = "How a linear's weights and input activations are quantized";
  let description = [{
    A quantization scheme for one `qrealign.linear`.

    - `w_bits`: weight bits, one of 2, 3, 4, 8, or 16 (16 = weights stay in
      floating point).
    - `a_bits`: input-activation bits, one of 4, 8, or 16 (16 = activations
      stay in floating point). Default 16.
    - `granularity`: `per_tensor` (one scale), `per_channel` (one scale per
      output channel, the default) or `per_group` (one scale per
      `group_size` consecutive input channels of each output channel).
    - `group_size`: required with, and only with, `per_group`; a power of two
      of at least 8. The linear verifies that it divides its input width.
    - `symmetric`: weights on signed levels without zero point (`true`) or
      with a zero point (`false`, the default, as in OmniQuant). It does not
      apply to activations (`act_symmetric` does).
    - `act`: `dynamic` (per-token min/max at run time, the default) or
      `static` (calibrated per-tensor scale). Only meaningful when
      `a_bits < 16`.
    - `act_symmetric`: dynamic activations quantized per token without a
      zero point, `s = max(max|x|, 1e-8) / (2^(a_bits-1) - 1)` and levels
      clamped to `[-2^(a_bits-1), 2^(a_bits-1) - 1]` (`true`: what
      llm-compressor's W8A8 recipes and vLLM's int8 kernels use), or with a
      zero point per token (`false`, the default: OmniQuant's quantizer).
      Only with `a_bits < 16` and `act = dynamic`.

    Parameters equal to their default are not printed.

    ```mlir
    // W4A16, groups of 128 input channels, asymmetric.
    #qrealign.quant<w_bits = 4, granularity = per_group, group_size = 128>
    // W8A8 per-channel weights, dynamic per-token activations.
    #qrealign.quant<w_bits = 8, a_bits = 8>
    // W8A8 as llm-compressor writes it: symmetric weights and activations.
    #qrealign.quant<w_bits = 8, a_bits = 8, symmetric = true, act_symmetric = true>
    ```
  }];
  let parameters = (ins
    "unsigned":$w_bits,
    DefaultValuedParameter<"unsigned", "16">:$a_bits,
    QRealign_DefaultEnumParam<QRealign_Granularity,
                              "::mlir::qrealign::Granularity::PerChannel">
        :$granularity,
    DefaultValuedParameter<"int64_t", "0">:$group_size,
    DefaultValuedParameter<"bool", "false">:$symmetric,
    QRealign_DefaultEnumParam<QRealign_ActQuantMode,
                              "::mlir::qrealign::ActQuantMode::Dynamic">:$act,
    DefaultValuedParameter<"bool", "false">:$act_symmetric
  );
  // The builders default act_symmetric, so that schemes without quantized
  // activations are built as before.
  let skipDefaultBuilders = 1;
  let builders = [
    AttrBuilder<(ins "unsigned":$w_bits, "unsigned":$a_bits,
                     "::mlir::qrealign::Granularity":$granularity,
                     "int64_t":$group_size, "bool":$symmetric,
                     "::mlir::qrealign::ActQuantMode":$act,
                     CArg<"bool", "false">:$act_symmetric), [{
      return $_get($_ctxt, w_bits, a_bits, granularity, group_size, symmetric,
                   act, act_symmetric);
    }]>
  ];
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// True if the weights are quantized (w_bits < 16).
    bool quantizesWeights() const { return getWBits() < 16; }
    /// True if the input activations are quantized (a_bits < 16).
    bool quantizesActivations() const { return getABits() < 16; }
    /// Average storage bits per weight element of a linear with
    /// `inFeatures` input channels, counting an f16 scale per scale group and,
    /// for asymmetric schemes, a zero point of `w_bits` bits. 16 for
    /// unquantized weights.
    double getBitsPerWeight(int64_t inFeatures) const;
    /// Number of scale groups along the input dimension of a linear with
    /// `inFeatures` input channels (1 unless per_group).
    int64_t getNumGroups(int64_t inFeatures) const;
    /// A short human-readable form such as `W4A16 g128 asym`.
    std::string getShortName() const;
  }];
}

//===----------------------------------------------------------------------===//
// SafetyBoundaryAttr
//===----------------------------------------------------------------------===//

def QRealign_SafetyBoundaryAttr : QRealign_Attr<"SafetyBoundary", "boundary"> {
  let summary = "A layer's safety boundary: a linear probe on its output";
  let description = [{
    The safety boundary of the decoder layer that carries it: a sparse
    logistic-regression probe fitted on the *aligned* model, which
    classifies the layer's output residual stream `h ∈ R^D` at token
    `position` as malicious when `w·h + b > 0` (`p(malicious) = σ(w·h +
    b)`). The layer is the op the attribute is attached to; the attribute
    does not repeat its index.

    - `weight`: symbol of a `qrealign.param` of type `tensor<D x f*>`, where
      `D` is the hidden size of the layer carrying the boundary.
    - `bias`: symbol of a `qrealign.param` of type `tensor<1 x f*>`, the
      probe's intercept `b`.
    - `position`: the token position the probe reads. Negative values count
      from the end of the prompt: `-1` is the last prompt token (the end of
      the chat template's generation prompt), which is what Q-realign uses.
    - `accuracy`: held-out accuracy of the probe, in [0, 1].

    `qrealign-attach-probes` writes boundaries from a probes file whose
    tensors are the parameters' data (scope `probes`).

    ```mlir
    #qrealign.boundary<weight = @probes.layers.1.weight, bias = @probes.layers.1.bias, position = -1, accuracy = 0.97>
    ```
  }];
  let parameters = (ins
    "::mlir::FlatSymbolRefAttr":$weight,
    "::mlir::FlatSymbolRefAttr":$bias,
    "int64_t":$position,
    QRealign_F64Param<"held-out accuracy in [0, 1]">:$accuracy
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

#endif // QREALIGN_ATTRS_TD
