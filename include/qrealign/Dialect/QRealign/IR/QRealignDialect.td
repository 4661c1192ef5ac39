//===- QRealignDialect.td - qrealign dialect definition ----*- tablegen -*-===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_DIALECT_TD
#define QREALIGN_DIALECT_TD

include "mlir/IR/OpBase.td"

def QRealign_Dialect : Dialect {
  let name = "qrealign";
  let cppNamespace = "::mlir::qrealign";
  let summary = "Decoder-only transformers for safety-aware quantization";
  let description = [{
    The `qrealign` dialect describes a decoder-only transformer of the Llama
    family (Llama-2/3, Qwen2, Mistral) at the granularity that Q-realign needs:
    one op per decoder block (`qrealign.layer`), explicit linears that carry a
    quantization scheme, and safety boundaries (linear probes fitted on the
    aligned model) attached to layers.

    **Parameters** are declared once at module level with `qrealign.param` and
    read with `qrealign.get_param`. A parameter is either *external*
    (`#qrealign.external<"scope"::"key">`: tensor `key` of the file that the
    module attribute `qrealign.params` maps `scope` to) or, for tests and
    small data, an inline `dense` / `dense_resource` value. The weights of a
    real model never appear in the IR. The importer writes scope `model`;
    learned parameters and probes live in scopes of their own.

    **Tensors** are in row-major value semantics. Activations are
    `[batch, seq, features]`; linear weights are `[out_features, in_features]`
    (the Hugging Face layout, `y = x · Wᵀ + b`). Token ids and positions are
    `[batch, seq]` integers, the attention mask is `[batch, seq]` `i1` with
    `true` for real (non-padding) tokens.

    **Quantization** policy is the `#qrealign.quant` scheme on a linear.
    Linears of one fusion group (`fusion`) share it at deployment;
    `qrealign-check-fusion` checks that they can.

    **Safety boundaries** (`#qrealign.boundary`) record the sparse logistic
    regression probe of one layer: `p(malicious | h) = σ(w·h + b)` evaluated on
    the layer's output residual stream at one token position.

    **Module attributes** (written by `qrealign-import`, read by the engine
    and `qrealign-run`; all optional):

    | attribute | value |
    |---|---|
    | `qrealign.params` | dictionary from parameter scope to the file holding its tensors: a `.safetensors` file, a `.safetensors.index.json`, a Hugging Face directory or a llama2.c `.bin`; a relative path is relative to the IR file's directory (`qrealign-opt -o` into another directory rewrites it: `qrealign-rebase-params`); tools override an entry with `--params SCOPE=PATH` |
    | `qrealign.tokenizer` | tokenizer file (`tokenizer.model`, `tokenizer.json`, llama2.c `tok*.bin`), same path rule |
    | `qrealign.model_type` | `llama`, `mistral`, `qwen2` or `llama2c` |
    | `qrealign.chat_template` | built-in chat template: `llama-2`, `llama-3`, `chatml` or `none` |
    | `qrealign.bos_token_id` | i64 ≥ 0 |
    | `qrealign.eos_token_ids` | array of i64 ≥ 0 |
    | `qrealign.max_positions`, `qrealign.sliding_window` | i64 > 0 |
  }];
  let useDefaultAttributePrinterParser = 1;
  let hasOperationAttrVerify = 1;
  let extraClassDeclaration = [{
    /// Registers the attributes (in QRealignAttrs.cpp, where their storage
    /// classes are complete).
    void registerAttributes();

    /// Name of the module attribute that maps parameter scopes to files,
    /// relative to the IR file's directory.
    static constexpr ::llvm::StringLiteral getParamsAttrName() {
      return "qrealign.params";
    }
    /// The scope the importer writes the model's own weights to.
    static constexpr ::llvm::StringLiteral getModelScope() { return "model"; }

    /// Where parameter scopes resolve for the passes of this context, as
    /// the driving tool set it (ParamEnvironment.h).
    const ParamEnvironment &getParamEnvironment() const { return paramEnv; }
    void setParamEnvironment(ParamEnvironment env) {
      paramEnv = std::move(env);
    }

  private:
    ParamEnvironment paramEnv;

  public:
  }];
}

#endif // QREALIGN_DIALECT_TD
