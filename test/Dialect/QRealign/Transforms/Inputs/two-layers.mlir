// Two Llama decoder layers (hidden 64, 4 heads of 16, 2 kv heads,
// intermediate 128) and an LM head, with external weights. The pass tests
// only look at the linears.
module attributes {qrealign.params = {model = "model.safetensors"}} {
  qrealign.param @wq0 : tensor<64x64xbf16> = #qrealign.external<"model"::"model.layers.0.self_attn.q_proj.weight">
  qrealign.param @wk0 : tensor<32x64xbf16> = #qrealign.external<"model"::"model.layers.0.self_attn.k_proj.weight">
  qrealign.param @wv0 : tensor<32x64xbf16> = #qrealign.external<"model"::"model.layers.0.self_attn.v_proj.weight">
  qrealign.param @wo0 : tensor<64x64xbf16> = #qrealign.external<"model"::"model.layers.0.self_attn.o_proj.weight">
  qrealign.param @wg0 : tensor<128x64xbf16> = #qrealign.external<"model"::"model.layers.0.mlp.gate_proj.weight">
  qrealign.param @wu0 : tensor<128x64xbf16> = #qrealign.external<"model"::"model.layers.0.mlp.up_proj.weight">
  qrealign.param @wd0 : tensor<64x128xbf16> = #qrealign.external<"model"::"model.layers.0.mlp.down_proj.weight">
  qrealign.param @wq1 : tensor<64x64xbf16> = #qrealign.external<"model"::"model.layers.1.self_attn.q_proj.weight">
  qrealign.param @wk1 : tensor<32x64xbf16> = #qrealign.external<"model"::"model.layers.1.self_attn.k_proj.weight">
  qrealign.param @wv1 : tensor<32x64xbf16> = #qrealign.external<"model"::"model.layers.1.self_attn.v_proj.weight">
  qrealign.param @wo1 : tensor<64x64xbf16> = #qrealign.external<"model"::"model.layers.1.self_attn.o_proj.weight">
  qrealign.param @wg1 : tensor<128x64xbf16> = #qrealign.external<"model"::"model.layers.1.mlp.gate_proj.weight">
  qrealign.param @wu1 : tensor<128x64xbf16> = #qrealign.external<"model"::"model.layers.1.mlp.up_proj.weight">
  qrealign.param @wd1 : tensor<64x128xbf16> = #qrealign.external<"model"::"model.layers.1.mlp.down_proj.weight">
  qrealign.param @head : tensor<96x64xbf16> = #qrealign.external<"model"::"lm_head.weight">

  func.func @forward(%h: tensor<?x?x64xf32>, %pos: tensor<?x?xi64>) -> tensor<?x?x96xf32> {
    %h1 = qrealign.layer 0 (%h, %pos) : (tensor<?x?x64xf32>, tensor<?x?xi64>) -> tensor<?x?x64xf32> {
    ^bb0(%x: tensor<?x?x64xf32>, %p: tensor<?x?xi64>):
      %wq = qrealign.get_param @wq0 : tensor<64x64xbf16>
      %wk = qrealign.get_param @wk0 : tensor<32x64xbf16>
      %wv = qrealign.get_param @wv0 : tensor<32x64xbf16>
      %wo = qrealign.get_param @wo0 : tensor<64x64xbf16>
      %wg = qrealign.get_param @wg0 : tensor<128x64xbf16>
      %wu = qrealign.get_param @wu0 : tensor<128x64xbf16>
      %wd = qrealign.get_param @wd0 : tensor<64x128xbf16>
      %q = qrealign.linear "q_proj" %x, %wq {fusion = "qkv"} : (tensor<?x?x64xf32>, tensor<64x64xbf16>) -> tensor<?x?x64xf32>
      %k = qrealign.linear "k_proj" %x, %wk {fusion = "qkv"} : (tensor<?x?x64xf32>, tensor<32x64xbf16>) -> tensor<?x?x32xf32>
      %v = qrealign.linear "v_proj" %x, %wv {fusion = "qkv"} : (tensor<?x?x64xf32>, tensor<32x64xbf16>) -> tensor<?x?x32xf32>
      %a = qrealign.attention %q, %k, %v heads = 4 kv_heads = 2 head_dim = 16 scale = 0.25 causal : (tensor<?x?x64xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>) -> tensor<?x?x64xf32>
      %o = qrealign.linear "o_proj" %a, %wo : (tensor<?x?x64xf32>, tensor<64x64xbf16>) -> tensor<?x?x64xf32>
      %r = qrealign.add %x, %o : tensor<?x?x64xf32>
      %g = qrealign.linear "gate_proj" %r, %wg {fusion = "gate_up"} : (tensor<?x?x64xf32>, tensor<128x64xbf16>) -> tensor<?x?x128xf32>
      %u = qrealign.linear "up_proj" %r, %wu {fusion = "gate_up"} : (tensor<?x?x64xf32>, tensor<128x64xbf16>) -> tensor<?x?x128xf32>
      %s = qrealign.swiglu %g, %u : tensor<?x?x128xf32>
      %d = qrealign.linear "down_proj" %s, %wd : (tensor<?x?x128xf32>, tensor<64x128xbf16>) -> tensor<?x?x64xf32>
      %y = qrealign.add %r, %d : tensor<?x?x64xf32>
      qrealign.yield %y : tensor<?x?x64xf32>
    }
    %h2 = qrealign.layer 1 (%h1, %pos) : (tensor<?x?x64xf32>, tensor<?x?xi64>) -> tensor<?x?x64xf32> {
    ^bb0(%x: tensor<?x?x64xf32>, %p: tensor<?x?xi64>):
      %wq = qrealign.get_param @wq1 : tensor<64x64xbf16>
      %wk = qrealign.get_param @wk1 : tensor<32x64xbf16>
      %wv = qrealign.get_param @wv1 : tensor<32x64xbf16>
      %wo = qrealign.get_param @wo1 : tensor<64x64xbf16>
      %wg = qrealign.get_param @wg1 : tensor<128x64xbf16>
      %wu = qrealign.get_param @wu1 : tensor<128x64xbf16>
      %wd = qrealign.get_param @wd1 : tensor<64x128xbf16>
      %q = qrealign.linear "q_proj" %x, %wq {fusion = "qkv"} : (tensor<?x?x64xf32>, tensor<64x64xbf16>) -> tensor<?x?x64xf32>
      %k = qrealign.linear "k_proj" %x, %wk {fusion = "qkv"} : (tensor<?x?x64xf32>, tensor<32x64xbf16>) -> tensor<?x?x32xf32>
      %v = qrealign.linear "v_proj" %x, %wv {fusion = "qkv"} : (tensor<?x?x64xf32>, tensor<32x64xbf16>) -> tensor<?x?x32xf32>
      %a = qrealign.attention %q, %k, %v heads = 4 kv_heads = 2 head_dim = 16 scale = 0.25 causal : (tensor<?x?x64xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>) -> tensor<?x?x64xf32>
      %o = qrealign.linear "o_proj" %a, %wo : (tensor<?x?x64xf32>, tensor<64x64xbf16>) -> tensor<?x?x64xf32>
      %r = qrealign.add %x, %o : tensor<?x?x64xf32>
      %g = qrealign.linear "gate_proj" %r, %wg {fusion = "gate_up"} : (tensor<?x?x64xf32>, tensor<128x64xbf16>) -> tensor<?x?x128xf32>
      %u = qrealign.linear "up_proj" %r, %wu {fusion = "gate_up"} : (tensor<?x?x64xf32>, tensor<128x64xbf16>) -> tensor<?x?x128xf32>
      %s = qrealign.swiglu %g, %u : tensor<?x?x128xf32>
      %d = qrealign.linear "down_proj" %s, %wd : (tensor<?x?x128xf32>, tensor<64x128xbf16>) -> tensor<?x?x64xf32>
      %y = qrealign.add %r, %d : tensor<?x?x64xf32>
      qrealign.yield %y : tensor<?x?x64xf32>
    }
    %wh = qrealign.get_param @head : tensor<96x64xbf16>
    %logits = qrealign.linear "lm_head" %h2, %wh : (tensor<?x?x64xf32>, tensor<96x64xbf16>) -> tensor<?x?x96xf32>
    return %logits : tensor<?x?x96xf32>
  }
}
