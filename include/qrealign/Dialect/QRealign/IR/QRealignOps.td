//===- QRealignOps.td - qrealign operations ----------------*- tablegen -*-===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_OPS_TD
#define QREALIGN_OPS_TD

include "qrealign/Dialect/QRealign/IR/QRealignDialect.td"
include "qrealign/Dialect/QRealign/IR/QRealignAttrs.td"
include "qrealign/Dialect/QRealign/IR/QRealignInterfaces.td"
include "mlir/IR/OpBase.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/IR/RegionKindInterface.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

class QRealign_Op<string mnemonic, list<Trait> traits = []>
    : Op<QRealign_Dialect, mnemonic, traits>;

/// Float tensors of any rank (activations).
def QRealign_FloatTensor : RankedTensorOf<[AnyFloat]>;
/// Integer tensors (token ids, positions).
def QRealign_IntTensor : RankedTensorOf<[AnySignlessInteger]>;

//===----------------------------------------------------------------------===//
// Parameters
//===----------------------------------------------------------------------===//

def QRealign_ParamOp : QRealign_Op<"param", [Symbol,
    HasParent<"::mlir::ModuleOp">]> {
  let summary = "Declares a model parameter (weight) by symbol";
  let description = [{
    Declares one parameter tensor of the model, once, at module level. Its
    contents are either external, a `#qrealign.external<"scope"::"key">`
    reference to tensor `key` of the file that the module attribute
    `qrealign.params` (or a tool's `--params SCOPE=PATH`) maps `scope` to,
    or inline, an elements attribute (`dense` or `dense_resource`; for tests
    and small data). The type must have a static shape; its element type is
    the type the tensor has in storage (`bf16`, `f16`, `f32` or an integer).

    Whether the scope is mapped is not a property of the op: tools report
    an unmapped scope, located on the parameter, when they read the data.

    ```mlir
    module attributes {qrealign.params = {model = "model.safetensors"}} {
      qrealign.param @l0.q_proj : tensor<4096x4096xbf16>
          = #qrealign.external<"model"::"model.layers.0.self_attn.q_proj.weight">
      qrealign.param @tiny : tensor<2xf32> = dense<[1.0, 2.0]>
    }
    ```
  }];
  let arguments = (ins
    SymbolNameAttr:$sym_name,
    TypeAttrOf<AnyStaticShapeTensor>:$type,
    AnyAttrOf<[ElementsAttr, QRealign_ExternalAttr]>:$initial_value
  );
  let assemblyFormat = [{
    $sym_name `:` custom<ParamTypeAndInit>($type, $initial_value) attr-dict
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::RankedTensorType getTensorType() {
      return ::llvm::cast<::mlir::RankedTensorType>(getType());
    }
    /// The external reference, or null for an inline parameter.
    ExternalAttr getExternal() {
      return ::llvm::dyn_cast<ExternalAttr>(getInitialValue());
    }
    /// The inline value, or null for an external parameter.
    ::mlir::ElementsAttr getInlineValue() {
      return ::llvm::dyn_cast<::mlir::ElementsAttr>(getInitialValue());
    }
    bool isExternal() { return static_cast<bool>(getExternal()); }
  }];
}

def QRealign_GetParamOp : QRealign_Op<"get_param", [Pure,
    DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "Reads a parameter declared with qrealign.param";
  let description = [{
    Produces the value of the module-level parameter `name`. The result type
    must equal the declared type. May be used inside `qrealign.layer`
    regions, which are isolated from values above but not from symbols.

    `trainable` marks the read as a tensor that calibration optimizes
    (`qrealign-build-calibration` sets it on clipping and smoothing tensors
    in the functions it builds): the engine computes everything that
    depends on it at run time, with gradients, instead of once. It does not
    change the value.

    ```mlir
    %w = qrealign.get_param @l0.q_proj : tensor<4096x4096xbf16>
    %c = qrealign.get_param @l0.q_proj.weight_clip_max trainable
        : tensor<4096x1xf32>
    ```
  }];
  let arguments = (ins FlatSymbolRefAttr:$name, UnitAttr:$trainable);
  let results = (outs AnyStaticShapeTensor:$result);
  let assemblyFormat =
      "$name (`trainable` $trainable^)? attr-dict `:` type($result)";
}

//===----------------------------------------------------------------------===//
// Compute ops
//===----------------------------------------------------------------------===//

def QRealign_EmbeddingOp : QRealign_Op<"embedding", [Pure]> {
  let summary = "Token embedding lookup";
  let description = [{
    `result[b, s, :] = table[ids[b, s], :]`. The table is `[vocab, D]`; ids
    may have any rank r and the result has rank r + 1. Out-of-range ids are
    undefined behaviour at this level; runtimes check them.

    ```mlir
    %h = qrealign.embedding %ids, %table
        : (tensor<?x?xi64>, tensor<32000x4096xbf16>) -> tensor<?x?x4096xf32>
    ```
  }];
  let arguments = (ins QRealign_IntTensor:$ids,
                       RankedTensorOf<[AnyFloat]>:$table);
  let results = (outs QRealign_FloatTensor:$result);
  let assemblyFormat = [{
    $ids `,` $table attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def QRealign_RMSNormOp : QRealign_Op<"rms_norm", [Pure]> {
  let summary = "Root-mean-square layer normalization";
  let description = [{
    `y = x / sqrt(mean(x², last axis) + epsilon) * weight`, as in Llama
    (`LlamaRMSNorm`); the statistics are computed in f32. `weight` has one
    element per feature of the last axis.

    ```mlir
    %y = qrealign.rms_norm %x, %w eps = 1.000000e-05
        : (tensor<?x?x4096xf32>, tensor<4096xbf16>) -> tensor<?x?x4096xf32>
    ```
  }];
  let arguments = (ins QRealign_FloatTensor:$input,
                       RankedTensorOf<[AnyFloat]>:$weight,
                       F64Attr:$epsilon);
  let results = (outs QRealign_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight `eps` `=` $epsilon attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def QRealign_LinearOp : QRealign_Op<"linear", [Pure]> {
  let summary = "y = x · Wᵀ (+ b), the unit of quantization";
  let description = [{
    A linear layer with weight `[N, K]` (out, in) applied to the last axis of
    `input` (`[..., K]` → `[..., N]`), with an optional bias `[N]`. `name`
    is the linear's role in its layer (`q_proj`, `k_proj`, `v_proj`,
    `o_proj`, `gate_proj`, `up_proj`, `down_proj`, `lm_head`): quantization
    options select linears by it.

    The weight is a float tensor: quantized weights reach a linear through
    the ops that produce them, never as a storage type of the linear's
    operand, so there is one description of how a weight is quantized.

    Optional attributes:
    - `quant`: the `#qrealign.quant` scheme (the policy) of this linear.
    - `fusion`: the fusion group of this linear within its block (the
      importer writes `"qkv"` for q/k/v and `"gate_up"` for gate/up).
      Fused-GEMM runtimes (vLLM) run a group as one GEMM over one input
      with one scheme; `qrealign-check-fusion` checks that a module can be
      deployed so, and `qrealign-assign-quant` assigns one scheme per
      group. The verifier does not look at the other members: that is a
      property of the neighbourhood, which upstream rewrites may change.

    ```mlir
    %q = qrealign.linear "q_proj" %x, %wq
        {fusion = "qkv", quant = #qrealign.quant<w_bits = 4, granularity = per_group, group_size = 128>}
        : (tensor<?x?x4096xf32>, tensor<4096x4096xbf16>) -> tensor<?x?x4096xf32>
    %k = qrealign.linear "k_proj" %x, %wk bias %bk
        : (tensor<?x?x896xf32>, tensor<128x896xbf16>, tensor<128xbf16>)
        -> tensor<?x?x128xf32>
    ```
  }];
  let arguments = (ins
    StrAttr:$name,
    QRealign_FloatTensor:$input,
    RankedTensorOf<[AnyFloat]>:$weight,
    Optional<RankedTensorOf<[AnyFloat]>>:$bias,
    OptionalAttr<QRealign_QuantSchemeAttr>:$quant,
    OptionalAttr<StrAttr>:$fusion
  );
  let results = (outs QRealign_FloatTensor:$result);
  let assemblyFormat = [{
    $name $input `,` $weight (`bias` $bias^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// Output features N.
    int64_t getOutFeatures() {
      return ::llvm::cast<::mlir::RankedTensorType>(getWeight().getType())
          .getDimSize(0);
    }
    /// Input features K.
    int64_t getInFeatures() {
      return ::llvm::cast<::mlir::RankedTensorType>(getWeight().getType())
          .getDimSize(1);
    }
    /// The index of the enclosing qrealign.layer, or std::nullopt outside
    /// layers (e.g. the LM head).
    std::optional<int64_t> getLayerIndex();
  }];
}

def QRealign_DequantizeOp : QRealign_Op<"dequantize", [Pure]> {
  let summary = "A linear weight from packed integer storage and its scales";
  let description = [{
    The deployment form of a quantized weight: `result[n, k] = (q[n, k] -
    zero_point[r, g]) * scale[r, g]` with `g = k / (K / G)` and `r = n` (or
    0 when `scale` has one row), where `q` are signed `bits`-bit levels
    unpacked from `packed`:

    - `packed` of `i8`: `[N, K]`, one two's-complement level per byte, for
      any `bits` (compressed-tensors' `int-quantized`, which stores W8A8,
      W4A8 and W4A4 weights this way; what qrealign writes for 5 to 8
      bits). Levels outside the signed range of `bits` are an error where
      the bytes are read;
    - `packed` of `ui8`, `bits` 2 to 4: `[N, K/2]`, two levels per byte along
      the input dimension, element `2j` in the low nibble of byte `j`,
      stored offset-binary (`q + 8`): byte-identical to compressed-tensors'
      `pack-quantized` at 4 bits.
    - `bits` 4 or 8 with `packed` of `i32`: compressed-tensors'
      `pack-quantized` words as `qrealign-import` reads them, `[N, K / f]`
      with `f = 32 / bits` levels per word, element `i` of a word at bit
      `bits * i`, stored offset-binary (`q + 2^(bits-1)`); `K` is a
      multiple of `f`.

    `scale` is `[N, G]` (per group of `K / G` input channels; `G = 1` per
    channel) or `[1, 1]` (per tensor); `zero_point`, for asymmetric schemes,
    is `i8` of the same shape (signed, in the levels' range), or, with `i32`
    words, the same levels packed like the weight but along the rows:
    `[ceil(R / f), G]` for a scale of `R` rows (compressed-tensors'
    `weight_zero_point`). The result is `[N, K]`; its element type is the
    compute type.

    ```mlir
    %w = qrealign.dequantize %packed, %scale zero_point %zp bits = 4
        : (tensor<4096x2048xui8>, tensor<4096x32xf32>, tensor<4096x32xi8>)
        -> tensor<4096x4096xf32>
    // The same weight in compressed-tensors' words.
    %v = qrealign.dequantize %words, %scale zero_point %zwords bits = 4
        : (tensor<4096x512xi32>, tensor<4096x32xf32>, tensor<512x32xi32>)
        -> tensor<4096x4096xf32>
    ```
  }];
  let extraClassDeclaration = [{
    /// True if the storage is compressed-tensors' 32-bit words.
    bool isWordPacked() {
      return getPacked().getType().getElementType().isInteger(32);
    }
    /// True if the storage holds two levels per byte (`ui8`).
    bool isNibblePacked() {
      return getPacked().getType().getElementType().isUnsignedInteger(8);
    }

  private:
    /// The checks of `scale` against the result [n, k].
    ::llvm::LogicalResult verifyScale(int64_t n, int64_t k, int64_t rows,
                                      int64_t groups);
    /// The checks of the i32 word storage.
    ::llvm::LogicalResult verifyWords(int64_t n, int64_t k, int64_t rows,
                                      int64_t groups);

  public:
  }];
  let arguments = (ins RankedTensorOf<[I8, UI8, I32]>:$packed,
                       RankedTensorOf<[AnyFloat]>:$scale,
                       Optional<RankedTensorOf<[I8, I32]>>:$zero_point,
                       I64Prop:$bits);
  let results = (outs RankedTensorOf<[AnyFloat]>:$result);
  let assemblyFormat = [{
    $packed `,` $scale (`zero_point` $zero_point^)? `bits` `=` $bits
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def QRealign_FakeQuantizeOp : QRealign_Op<"fake_quantize", [Pure,
    AttrSizedOperandSegments]> {
  let summary = "Quantize-dequantize of a weight or an activation";
  let description = [{
    Rounds `input` to the grid of `bits`-bit signed levels and maps it back:
    `result = (clamp(round(x / s) + z, -2^(b-1), 2^(b-1) - 1) - z) * s`,
    with rounding to nearest, ties to even (the formulas of
    `qrealign/Quant/Quantizer.h`), computed in f32. The result has the
    shape of the input; its element type is the compute type (a `bf16`
    weight quantizes to `f32` values, as `qrealign.dequantize` gives).
    This is the form that calibration trains; `qrealign.dequantize` of
    packed levels is the form that is deployed.

    Ranges are taken over the last axis:
    - `per_tensor`: one range for the whole tensor;
    - `per_channel`: one range per row, i.e. per output channel of a weight
      `[N, K]` or per token of an activation `[..., K]`;
    - `per_group`: one range per `group_size` consecutive elements of each
      row (on Q or K `[B, S, H * head_dim]` with `group_size = head_dim`:
      per token and head).

    The scale `s` and zero point `z` are either operands, or computed from
    the data when `scale` is absent (dynamic ranges):

    - **Static**: `scale` (f32) and, unless `symmetric`, `zero_point` (i8,
      signed, in the levels' range) of shape `[R, G]`: `[1, 1]` per tensor,
      `[N, 1]` per channel and `[N, K / group_size]` per group, where a
      per-channel or per-group input must be a 2-D `[N, K]` tensor with
      static shape (a weight). Static activation quantization (`act =
      static`) is a per-tensor `fake_quantize` of the linear's input.
    - **Dynamic**: min-max ranges of the data. Asymmetric: the range
      `[lo, hi] = [σ(clip_min) · min(x, 0), σ(clip_max) · max(x, 0)]`,
      `s = max((hi - lo) / (2^b - 1), 1e-8)`, `z = round(-lo / s) - 2^(b-1)`.
      Symmetric: `s = max(σ(clip_max) · max|x| / (2^(b-1) - 1), 1e-8)`,
      `z = 0`.

    `clip_max` and `clip_min` are OmniQuant's learnable weight clipping
    (LWC): logits of shape `[R, G]` (as for `scale`; a 2-D static input)
    whose sigmoids scale each channel's or group's maximum and minimum.
    Without them the factors are 1 (plain round-to-nearest). Symmetric
    quantization takes `clip_max` only.

    Gradient (for calibration): rounding passes the gradient straight
    through (`∂round(v)/∂v := 1`), clamping to the level range stops it;
    the clipping factors get their exact gradient through `s` and `z`
    (with the same straight-through rule for the rounding inside `z`), as
    in OmniQuant.

    ```mlir
    // W4 g128 asymmetric with learnable clipping (the calibration form).
    %wq = qrealign.fake_quantize %w clip %up, %lo bits = 4 per_group
        group_size = 128
        : (tensor<4096x4096xf32>, tensor<4096x32xf32>, tensor<4096x32xf32>)
        -> tensor<4096x4096xf32>
    // A8 dynamic per token and head on the attention's query.
    %q8 = qrealign.fake_quantize %q bits = 8 per_group group_size = 128
        : (tensor<?x?x4096xf32>) -> tensor<?x?x4096xf32>
    // A8 static per tensor.
    %x8 = qrealign.fake_quantize %x scale %s zero_point %z bits = 8 per_tensor
        : (tensor<?x?x4096xf32>, tensor<1x1xf32>, tensor<1x1xi8>)
        -> tensor<?x?x4096xf32>
    ```
  }];
  let arguments = (ins QRealign_FloatTensor:$input,
                       Optional<RankedTensorOf<[F32]>>:$scale,
                       Optional<RankedTensorOf<[I8]>>:$zero_point,
                       Optional<RankedTensorOf<[AnyFloat]>>:$clip_max,
                       Optional<RankedTensorOf<[AnyFloat]>>:$clip_min,
                       I64Prop:$bits,
                       EnumProp<QRealign_Granularity>:$granularity,
                       OptionalAttr<I64Attr>:$group_size,
                       UnitAttr:$symmetric);
  let results = (outs QRealign_FloatTensor:$result);
  let assemblyFormat = [{
    $input (`scale` $scale^)? (`zero_point` $zero_point^)?
    (`clip` $clip_max^ (`,` $clip_min^)?)? `bits` `=` $bits $granularity
    (`group_size` `=` $group_size^)? (`symmetric` $symmetric^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// True if the ranges come from the data (no `scale` operand).
    bool isDynamic() { return !getScale(); }
    /// The `[R, G]` shape of scales and clipping factors for a 2-D static
    /// input, or std::nullopt when the input is not one.
    std::optional<std::pair<int64_t, int64_t>> getRangeShape();
  }];
}

def QRealign_SmoothOp : QRealign_Op<"smooth", [Pure,
    AllTypesMatch<["input", "result"]>]> {
  let summary = "Equivalent transformation of a shared activation edge (LET)";
  let description = [{
    OmniQuant's learnable equivalent transformation, activation side:
    `result[..., k] = input[..., k] / scale[k]`, with `scale` of `K`
    elements (the last axis). It sits on the edge that every consumer of
    the input shares (the output of the `rms_norm` before q/k/v or
    gate/up), so fused linears cannot disagree on it. Each consumer's
    weight carries the inverse, `qrealign.smooth_weight` with the same
    scale, so that the pair computes the model's function while the
    quantizers see the transformed tensors. `qrealign-fold-smoothing`
    folds `scale` into the preceding `rms_norm` weight and the consumers'
    weights, removing both ops.

    Only a scale: OmniQuant's shift needs a bias to absorb it before the
    edge, which `rms_norm` does not have (OmniQuant turns shifts off for
    Llama for the same reason).

    ```mlir
    %xs = qrealign.smooth %x, %s
        : (tensor<?x?x4096xf32>, tensor<4096xf32>) -> tensor<?x?x4096xf32>
    ```
  }];
  let arguments = (ins QRealign_FloatTensor:$input,
                       RankedTensorOf<[AnyFloat]>:$scale);
  let results = (outs QRealign_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $scale attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def QRealign_SmoothWeightOp : QRealign_Op<"smooth_weight", [Pure]> {
  let summary = "The weight side of a smoothing transformation";
  let description = [{
    `result[n, k] = weight[n, k] * scale[k]`, in f32: the weight `[N, K]` of
    a linear whose input went through `qrealign.smooth` with the same
    `scale` (`K` elements), so that `linear(smooth(x, s), smooth_weight(W,
    s)) = linear(x, W)`. A `fake_quantize` of the result quantizes the
    transformed weight, as OmniQuant does.

    ```mlir
    %ws = qrealign.smooth_weight %w, %s
        : (tensor<4096x4096xbf16>, tensor<4096xf32>) -> tensor<4096x4096xf32>
    ```
  }];
  let arguments = (ins RankedTensorOf<[AnyFloat]>:$weight,
                       RankedTensorOf<[AnyFloat]>:$scale);
  let results = (outs RankedTensorOf<[AnyFloat]>:$result);
  let assemblyFormat = [{
    $weight `,` $scale attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def QRealign_RopeOp : QRealign_Op<"rope", [Pure]> {
  let summary = "Rotary position embedding";
  let description = [{
    Rotates each head of `input` (`[B, S, H * head_dim]`) by the angle
    `position[b, s] · theta^(-2i / head_dim)` for frequency `i`. `style`
    chooses which dimensions form a rotated pair:

    - `rotate_half`: `(j, j + head_dim / 2)`, as Hugging Face Llama, Qwen2
      and Mistral;
    - `interleaved`: `(2i, 2i + 1)`, as Meta's reference code and llama2.c.

    ```mlir
    %q2 = qrealign.rope rotate_half %q, %pos head_dim = 128 theta = 1.000000e+04
        : (tensor<?x?x4096xf32>, tensor<?x?xi64>) -> tensor<?x?x4096xf32>
    ```
  }];
  let arguments = (ins EnumProp<QRealign_RopeStyle>:$style,
                       QRealign_FloatTensor:$input,
                       QRealign_IntTensor:$positions,
                       I64Prop:$head_dim,
                       F64Attr:$theta);
  let results = (outs QRealign_FloatTensor:$result);
  let assemblyFormat = [{
    $style $input `,` $positions `head_dim` `=` $head_dim `theta` `=` $theta
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def QRealign_AttentionOp : QRealign_Op<"attention", [Pure]> {
  let summary = "Scaled dot-product attention with grouped-query heads";
  let description = [{
    Multi-head attention over `query` `[B, Sq, num_heads * head_dim]`, `key`
    and `value` `[B, Sk, num_kv_heads * head_dim]`. Query head `h` attends
    with key/value head `h / (num_heads / num_kv_heads)` (grouped-query
    attention; `num_kv_heads == num_heads` is multi-head attention).
    `softmax(q · kᵀ · scale)` is masked by `causal` (query `i` sees keys
    `j ≤ i + Sk - Sq`) and by the optional `mask` `[B, Sk]` (`true` = real
    token, `false` = padding that nobody attends to). The result is
    `[B, Sq, num_heads * head_dim]`.

    ```mlir
    %o = qrealign.attention %q, %k, %v mask %m heads = 32 kv_heads = 8
        head_dim = 128 scale = 0.088388347648318433 causal
        : (tensor<?x?x4096xf32>, tensor<?x?x1024xf32>, tensor<?x?x1024xf32>,
           tensor<?x?xi1>) -> tensor<?x?x4096xf32>
    ```
  }];
  let arguments = (ins QRealign_FloatTensor:$query,
                       QRealign_FloatTensor:$key,
                       QRealign_FloatTensor:$value,
                       Optional<TensorOf<[I1]>>:$mask,
                       I64Prop:$num_heads,
                       I64Prop:$num_kv_heads,
                       I64Prop:$head_dim,
                       F64Attr:$scale,
                       UnitAttr:$causal);
  let results = (outs QRealign_FloatTensor:$result);
  let assemblyFormat = [{
    $query `,` $key `,` $value (`mask` $mask^)? `heads` `=` $num_heads
    `kv_heads` `=` $num_kv_heads `head_dim` `=` $head_dim `scale` `=` $scale
    (`causal` $causal^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def QRealign_SwiGLUOp : QRealign_Op<"swiglu", [Pure,
    SameOperandsAndResultType]> {
  let summary = "SwiGLU gate: silu(gate) · up";
  let description = [{
    `silu(gate) * up` elementwise, where `silu(x) = x · σ(x)`: the gated
    activation between `gate_proj`/`up_proj` and `down_proj` of a Llama MLP.

    ```mlir
    %a = qrealign.swiglu %gate, %up : tensor<?x?x11008xf32>
    ```
  }];
  let arguments = (ins QRealign_FloatTensor:$gate, QRealign_FloatTensor:$up);
  let results = (outs QRealign_FloatTensor:$result);
  let assemblyFormat = "$gate `,` $up attr-dict `:` type($result)";
}

def QRealign_AddOp : QRealign_Op<"add", [Pure, Commutative,
    SameOperandsAndResultType]> {
  let summary = "Elementwise add: residual connections and loss terms";
  let description = [{
    Elementwise `lhs + rhs`: the residual connections of a decoder block,
    and the sum of scalar loss terms in calibration functions.

    ```mlir
    %h2 = qrealign.add %h, %attn : tensor<?x?x4096xf32>
    ```
  }];
  let arguments = (ins QRealign_FloatTensor:$lhs, QRealign_FloatTensor:$rhs);
  let results = (outs QRealign_FloatTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
}

//===----------------------------------------------------------------------===//
// Calibration objectives
//===----------------------------------------------------------------------===//

def QRealign_GatherTokenOp : QRealign_Op<"gather_token", [Pure]> {
  let summary = "One token's state per sequence";
  let description = [{
    `result[b, :] = input[b, index[b], :]`: the residual stream `[B, S, D]`
    at one position per sequence, such as the last prompt token that a
    safety boundary reads. `index` holds column indices into `S` (the
    caller resolves padding); an index outside `[0, S)` is a run-time
    error.

    ```mlir
    %last = qrealign.gather_token %h, %index
        : (tensor<?x?x64xf32>, tensor<?xi64>) -> tensor<?x64xf32>
    ```
  }];
  let arguments = (ins QRealign_FloatTensor:$input,
                       RankedTensorOf<[I64]>:$index);
  let results = (outs QRealign_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $index attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def QRealign_SquaredErrorOp : QRealign_Op<"squared_error", [Pure]> {
  let summary = "Weighted mean squared error, a scalar loss term";
  let description = [{
    `result = coefficient · Σ_i weight[i] · mean_d (lhs[i, d] − rhs[i, d])²`,
    where `i` ranges over every index but the last axis (tokens of a batch
    `[B, S]`, or sequences `[B]`) and `d` over the last axis. The weights
    select and normalise: the calibration driver gives `1 / n` to each of
    the `n` real tokens of benign prompts and 0 to padding, so the term is
    the mean over real tokens (the released code averages over padding
    too). The gradient flows into both operands.

    ```mlir
    %recon = qrealign.squared_error %yq, %target, %w coefficient = 1.0
        : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?xf32>) -> tensor<f32>
    ```
  }];
  let arguments = (ins QRealign_FloatTensor:$lhs, QRealign_FloatTensor:$rhs,
                       RankedTensorOf<[F32]>:$weight, F64Attr:$coefficient);
  let results = (outs 0DTensorOf<[F32]>:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs `,` $weight `coefficient` `=` $coefficient attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def QRealign_BoundaryLossOp : QRealign_Op<"boundary_loss", [Pure]> {
  let summary = "Re-separation loss: push states across a safety boundary";
  let description = [{
    Q-realign's safety term on states `h` `[B, D]` and a boundary (probe)
    `w` `[D]`, `b` `[1]`:
    `result = coefficient · Σ_i weight[i] · softplus(margin − (w·h_i + b))`,
    which is `−log σ(w·h + b)` at margin 0: the released code's loss on
    malicious prompts, small once a state is on the malicious side of the
    boundary by more than the margin. `weight` `[B]` selects and
    normalises (1 / n for each of the n malicious prompts, 0 for benign
    ones). The gradient flows into `h` only.

    ```mlir
    %safety = qrealign.boundary_loss %last, %w, %b, %sel margin = 0.0
        coefficient = 1.0
        : (tensor<?x64xf32>, tensor<64xf32>, tensor<1xf32>, tensor<?xf32>) -> tensor<f32>
    ```
  }];
  let arguments = (ins QRealign_FloatTensor:$input,
                       RankedTensorOf<[AnyFloat]>:$probe_weight,
                       RankedTensorOf<[AnyFloat]>:$probe_bias,
                       RankedTensorOf<[F32]>:$weight, F64Attr:$margin,
                       F64Attr:$coefficient);
  let results = (outs 0DTensorOf<[F32]>:$result);
  let assemblyFormat = [{
    $input `,` $probe_weight `,` $probe_bias `,` $weight `margin` `=` $margin
    `coefficient` `=` $coefficient attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Structure
//===----------------------------------------------------------------------===//

def QRealign_LayerOp : QRealign_Op<"layer", [IsolatedFromAbove,
    RecursiveMemoryEffects, RecursivelySpeculatable,
    DeclareOpInterfaceMethods<SymbolUserOpInterface>,
    DeclareOpInterfaceMethods<QRealign_SafetyBoundaryOpInterface>]> {
  let summary = "One decoder block";
  let description = [{
    One decoder block of the transformer, the unit that probing and
    calibration work on. The region is isolated from above: it reads the
    residual stream and side inputs only through its block arguments, which
    mirror `inputs`, and parameters through `qrealign.get_param`. The first
    input is the residual stream `[B, S, D]`; the others are side inputs such
    as positions and the attention mask. The region yields the new residual
    stream, of the same type as the first input.

    `index` is the layer's position in the model (0-based) and is unique
    among the layers of one block. `boundary` is the layer's safety boundary,
    a probe on the yielded residual stream; its weight must have `D`
    elements.

    ```mlir
    %h1 = qrealign.layer 0 (%h0, %pos, %mask)
        : (tensor<?x?x64xf32>, tensor<?x?xi64>, tensor<?x?xi1>)
        -> tensor<?x?x64xf32> {
    ^bb0(%x: tensor<?x?x64xf32>, %p: tensor<?x?xi64>, %m: tensor<?x?xi1>):
      ...
      qrealign.yield %out : tensor<?x?x64xf32>
    }
    ```
  }];
  let arguments = (ins I64Prop:$index,
                       Variadic<AnyRankedTensor>:$inputs,
                       OptionalAttr<QRealign_SafetyBoundaryAttr>:$boundary);
  let results = (outs QRealign_FloatTensor:$result);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    $index (`boundary` $boundary^)? ` ` `(` $inputs `)` attr-dict `:`
    functional-type($inputs, results) $body
  }];
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
  let extraClassDeclaration = [{
    /// The residual stream entering the layer.
    ::mlir::Value getHidden() { return getInputs().front(); }
  }];
}

def QRealign_YieldOp : QRealign_Op<"yield", [Pure, Terminator, ReturnLike,
    HasParent<"LayerOp">]> {
  let summary = "Yields a layer's output residual stream";
  let description = [{
    Terminates a `qrealign.layer` region with the layer's output.

    ```mlir
    qrealign.yield %out : tensor<?x?x64xf32>
    ```
  }];
  let arguments = (ins QRealign_FloatTensor:$value);
  let assemblyFormat = "$value attr-dict `:` type($value)";
}

#endif // QREALIGN_OPS_TD
