// RUN: qrealign-opt %s | qrealign-opt | FileCheck %s
// RUN: qrealign-opt %s --verify-roundtrip > /dev/null
// RUN: qrealign-opt %s --mlir-print-op-generic | qrealign-opt | FileCheck %s
// RUN: qrealign-opt %s --emit-bytecode | qrealign-opt | FileCheck %s

// Every qrealign op in its custom form, printed and re-parsed.

// CHECK: module attributes {qrealign.params = {model = "model.safetensors"}}
module attributes {qrealign.params = {model = "model.safetensors"}} {
  // CHECK: qrealign.param @ext : tensor<4096x4096xbf16> = #qrealign.external<"model"::"model.layers.0.self_attn.q_proj.weight">
  qrealign.param @ext : tensor<4096x4096xbf16> = #qrealign.external<"model"::"model.layers.0.self_attn.q_proj.weight">
  // CHECK: qrealign.param @emb : tensor<8x4xf32> = dense<5.000000e-01>
  qrealign.param @emb : tensor<8x4xf32> = dense<0.5>
  // CHECK: qrealign.param @norm : tensor<4xf32> = dense<[1.000000e+00, 2.000000e+00, 3.000000e+00, 4.000000e+00]>
  qrealign.param @norm : tensor<4xf32> = dense<[1.0, 2.0, 3.0, 4.0]>
  qrealign.param @wq : tensor<4x4xf32> = dense<0.25>
  qrealign.param @wk : tensor<2x4xf32> = dense<0.25>
  qrealign.param @bk : tensor<2xf32> = dense<0.0>
  qrealign.param @wg : tensor<8x4xf32> = dense<0.125>
  qrealign.param @probe_bias : tensor<1xf32> = dense<-0.25>
  // CHECK: qrealign.param @blob : tensor<2xf32> = dense_resource<blob>
  qrealign.param @blob : tensor<2xf32> = dense_resource<blob>

  // CHECK-LABEL: func.func @embedding
  func.func @embedding(%ids: tensor<?x?xi64>) -> tensor<?x?x4xf32> {
    // CHECK: %[[T:.*]] = qrealign.get_param @emb : tensor<8x4xf32>
    %t = qrealign.get_param @emb : tensor<8x4xf32>
    // CHECK: qrealign.embedding %{{.*}}, %[[T]] : (tensor<?x?xi64>, tensor<8x4xf32>) -> tensor<?x?x4xf32>
    %h = qrealign.embedding %ids, %t : (tensor<?x?xi64>, tensor<8x4xf32>) -> tensor<?x?x4xf32>
    return %h : tensor<?x?x4xf32>
  }

  // CHECK-LABEL: func.func @norm_linear
  func.func @norm_linear(%x: tensor<2x3x4xf32>) -> tensor<2x3x2xf32> {
    %n = qrealign.get_param @norm : tensor<4xf32>
    // Floats print exactly, as the shortest string that parses back to the same f64.
    // CHECK: qrealign.rms_norm %{{.*}}, %{{.*}} eps = 9.9999999999999995E-7 : (tensor<2x3x4xf32>, tensor<4xf32>) -> tensor<2x3x4xf32>
    %y = qrealign.rms_norm %x, %n eps = 1.0e-6 : (tensor<2x3x4xf32>, tensor<4xf32>) -> tensor<2x3x4xf32>
    %w = qrealign.get_param @wk : tensor<2x4xf32>
    %b = qrealign.get_param @bk : tensor<2xf32>
    // CHECK: qrealign.linear "k_proj" %{{.*}}, %{{.*}} bias %{{.*}} {quant = #qrealign.quant<w_bits = 8, a_bits = 8>} : (tensor<2x3x4xf32>, tensor<2x4xf32>, tensor<2xf32>) -> tensor<2x3x2xf32>
    %k = qrealign.linear "k_proj" %y, %w bias %b {quant = #qrealign.quant<w_bits = 8, a_bits = 8>} : (tensor<2x3x4xf32>, tensor<2x4xf32>, tensor<2xf32>) -> tensor<2x3x2xf32>
    return %k : tensor<2x3x2xf32>
  }

  // CHECK-LABEL: func.func @fake_quantize
  func.func @fake_quantize(%w: tensor<2x16xbf16>, %x: tensor<?x?x16xf32>, %c: tensor<2x2xf32>, %s: tensor<1x1xf32>, %z: tensor<1x1xi8>) -> (tensor<2x16xf32>, tensor<2x16xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>) {
    // CHECK: qrealign.fake_quantize %{{.*}} clip %{{.*}}, %{{.*}} bits = 4 per_group group_size = 8 : (tensor<2x16xbf16>, tensor<2x2xf32>, tensor<2x2xf32>) -> tensor<2x16xf32>
    %a = qrealign.fake_quantize %w clip %c, %c bits = 4 per_group group_size = 8 : (tensor<2x16xbf16>, tensor<2x2xf32>, tensor<2x2xf32>) -> tensor<2x16xf32>
    // CHECK: qrealign.fake_quantize %{{.*}} bits = 3 per_tensor symmetric : (tensor<2x16xbf16>) -> tensor<2x16xf32>
    %b = qrealign.fake_quantize %w bits = 3 per_tensor symmetric : (tensor<2x16xbf16>) -> tensor<2x16xf32>
    // CHECK: qrealign.fake_quantize %{{.*}} bits = 8 per_channel : (tensor<?x?x16xf32>) -> tensor<?x?x16xf32>
    %d = qrealign.fake_quantize %x bits = 8 per_channel : (tensor<?x?x16xf32>) -> tensor<?x?x16xf32>
    // CHECK: qrealign.fake_quantize %{{.*}} scale %{{.*}} zero_point %{{.*}} bits = 8 per_tensor : (tensor<?x?x16xf32>, tensor<1x1xf32>, tensor<1x1xi8>) -> tensor<?x?x16xf32>
    %e = qrealign.fake_quantize %x scale %s zero_point %z bits = 8 per_tensor : (tensor<?x?x16xf32>, tensor<1x1xf32>, tensor<1x1xi8>) -> tensor<?x?x16xf32>
    return %a, %b, %d, %e : tensor<2x16xf32>, tensor<2x16xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>
  }

  // CHECK-LABEL: func.func @smooth
  func.func @smooth(%x: tensor<?x?x16xf32>, %w: tensor<2x16xbf16>, %s: tensor<16xf32>) -> (tensor<?x?x16xf32>, tensor<2x16xf32>) {
    // CHECK: qrealign.smooth %{{.*}}, %{{.*}} : (tensor<?x?x16xf32>, tensor<16xf32>) -> tensor<?x?x16xf32>
    %a = qrealign.smooth %x, %s : (tensor<?x?x16xf32>, tensor<16xf32>) -> tensor<?x?x16xf32>
    // CHECK: qrealign.smooth_weight %{{.*}}, %{{.*}} : (tensor<2x16xbf16>, tensor<16xf32>) -> tensor<2x16xf32>
    %b = qrealign.smooth_weight %w, %s : (tensor<2x16xbf16>, tensor<16xf32>) -> tensor<2x16xf32>
    return %a, %b : tensor<?x?x16xf32>, tensor<2x16xf32>
  }

  // CHECK-LABEL: func.func @dequantize
  func.func @dequantize(%p4: tensor<2x4xui8>, %p8: tensor<2x8xi8>, %s: tensor<2x2xf32>, %z: tensor<2x2xi8>, %st: tensor<1x1xf32>) -> (tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>) {
    // CHECK: qrealign.dequantize %{{.*}}, %{{.*}} zero_point %{{.*}} bits = 4 : (tensor<2x4xui8>, tensor<2x2xf32>, tensor<2x2xi8>) -> tensor<2x8xf32>
    %a = qrealign.dequantize %p4, %s zero_point %z bits = 4 : (tensor<2x4xui8>, tensor<2x2xf32>, tensor<2x2xi8>) -> tensor<2x8xf32>
    // CHECK: qrealign.dequantize %{{.*}}, %{{.*}} bits = 8 : (tensor<2x8xi8>, tensor<1x1xf32>) -> tensor<2x8xf32>
    %b = qrealign.dequantize %p8, %st bits = 8 : (tensor<2x8xi8>, tensor<1x1xf32>) -> tensor<2x8xf32>
    // 4-bit levels one per byte (int-quantized W4A8, W4A4).
    // CHECK: qrealign.dequantize %{{.*}}, %{{.*}} zero_point %{{.*}} bits = 4 : (tensor<2x8xi8>, tensor<2x2xf32>, tensor<2x2xi8>) -> tensor<2x8xf32>
    %c = qrealign.dequantize %p8, %s zero_point %z bits = 4 : (tensor<2x8xi8>, tensor<2x2xf32>, tensor<2x2xi8>) -> tensor<2x8xf32>
    return %a, %b, %c : tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>
  }

  // compressed-tensors' words: 4-bit levels eight to a word, zero points
  // packed along the rows (ten rows: two words).
  // CHECK-LABEL: func.func @dequantize_words
  func.func @dequantize_words(%p4: tensor<10x2xi32>, %p8: tensor<10x4xi32>, %s: tensor<10x2xf32>, %z: tensor<2x2xi32>, %z8: tensor<3x2xi32>) -> (tensor<10x16xf32>, tensor<10x16xf32>) {
    // CHECK: qrealign.dequantize %{{.*}}, %{{.*}} zero_point %{{.*}} bits = 4 : (tensor<10x2xi32>, tensor<10x2xf32>, tensor<2x2xi32>) -> tensor<10x16xf32>
    %a = qrealign.dequantize %p4, %s zero_point %z bits = 4 : (tensor<10x2xi32>, tensor<10x2xf32>, tensor<2x2xi32>) -> tensor<10x16xf32>
    // CHECK: qrealign.dequantize %{{.*}}, %{{.*}} zero_point %{{.*}} bits = 8 : (tensor<10x4xi32>, tensor<10x2xf32>, tensor<3x2xi32>) -> tensor<10x16xf32>
    %b = qrealign.dequantize %p8, %s zero_point %z8 bits = 8 : (tensor<10x4xi32>, tensor<10x2xf32>, tensor<3x2xi32>) -> tensor<10x16xf32>
    return %a, %b : tensor<10x16xf32>, tensor<10x16xf32>
  }

  // CHECK-LABEL: func.func @linear_2d
  func.func @linear_2d(%x: tensor<5x4xf32>) -> tensor<5x4xf32> {
    %w = qrealign.get_param @wq : tensor<4x4xf32>
    // A linear applies to the last axis of an input of any rank.
    // CHECK: qrealign.linear "q_proj" %{{.*}}, %{{.*}} : (tensor<5x4xf32>, tensor<4x4xf32>) -> tensor<5x4xf32>
    %y = qrealign.linear "q_proj" %x, %w : (tensor<5x4xf32>, tensor<4x4xf32>) -> tensor<5x4xf32>
    return %y : tensor<5x4xf32>
  }

  // CHECK-LABEL: func.func @rope_attention
  func.func @rope_attention(%q: tensor<?x?x8xf32>, %k: tensor<?x?x4xf32>, %v: tensor<?x?x4xf32>, %pos: tensor<?x?xi64>, %m: tensor<?x?xi1>) -> tensor<?x?x8xf32> {
    // CHECK: qrealign.rope rotate_half %{{.*}}, %{{.*}} head_dim = 4 theta = 1.000000e+04 : (tensor<?x?x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
    %qr = qrealign.rope rotate_half %q, %pos head_dim = 4 theta = 10000.0 : (tensor<?x?x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
    // CHECK: qrealign.rope interleaved %{{.*}}, %{{.*}} head_dim = 4 theta = 5.000000e+05 : (tensor<?x?x4xf32>, tensor<?x?xi64>) -> tensor<?x?x4xf32>
    %kr = qrealign.rope interleaved %k, %pos head_dim = 4 theta = 500000.0 : (tensor<?x?x4xf32>, tensor<?x?xi64>) -> tensor<?x?x4xf32>
    // CHECK: qrealign.attention %{{.*}}, %{{.*}}, %{{.*}} mask %{{.*}} heads = 2 kv_heads = 1 head_dim = 4 scale = 5.000000e-01 causal : (tensor<?x?x8xf32>, tensor<?x?x4xf32>, tensor<?x?x4xf32>, tensor<?x?xi1>) -> tensor<?x?x8xf32>
    %o = qrealign.attention %qr, %kr, %v mask %m heads = 2 kv_heads = 1 head_dim = 4 scale = 0.5 causal : (tensor<?x?x8xf32>, tensor<?x?x4xf32>, tensor<?x?x4xf32>, tensor<?x?xi1>) -> tensor<?x?x8xf32>
    // Without mask and not causal (an encoder-style attention).
    // CHECK: qrealign.attention %{{.*}}, %{{.*}}, %{{.*}} heads = 2 kv_heads = 1 head_dim = 4 scale = 2.500000e-01 : (tensor<?x?x8xf32>, tensor<?x?x4xf32>, tensor<?x?x4xf32>) -> tensor<?x?x8xf32>
    %o2 = qrealign.attention %qr, %kr, %v heads = 2 kv_heads = 1 head_dim = 4 scale = 0.25 : (tensor<?x?x8xf32>, tensor<?x?x4xf32>, tensor<?x?x4xf32>) -> tensor<?x?x8xf32>
    // CHECK: qrealign.add %{{.*}}, %{{.*}} : tensor<?x?x8xf32>
    %s = qrealign.add %o, %o2 : tensor<?x?x8xf32>
    return %s : tensor<?x?x8xf32>
  }

  // CHECK-LABEL: func.func @mlp
  func.func @mlp(%x: tensor<1x2x4xf32>) -> tensor<1x2x8xf32> {
    %wg = qrealign.get_param @wg : tensor<8x4xf32>
    %g = qrealign.linear "gate_proj" %x, %wg : (tensor<1x2x4xf32>, tensor<8x4xf32>) -> tensor<1x2x8xf32>
    %u = qrealign.linear "up_proj" %x, %wg : (tensor<1x2x4xf32>, tensor<8x4xf32>) -> tensor<1x2x8xf32>
    // CHECK: qrealign.swiglu %{{.*}}, %{{.*}} : tensor<1x2x8xf32>
    %a = qrealign.swiglu %g, %u : tensor<1x2x8xf32>
    return %a : tensor<1x2x8xf32>
  }

  // CHECK-LABEL: func.func @layers
  func.func @layers(%h: tensor<?x?x4xf32>, %pos: tensor<?x?xi64>) -> tensor<?x?x4xf32> {
    // CHECK: %[[L0:.*]] = qrealign.layer 0 (%{{.*}}, %{{.*}}) : (tensor<?x?x4xf32>, tensor<?x?xi64>) -> tensor<?x?x4xf32> {
    // CHECK-NEXT: ^bb0(%[[X:.*]]: tensor<?x?x4xf32>, %{{.*}}: tensor<?x?xi64>):
    // CHECK: qrealign.get_param @norm
    // CHECK: qrealign.yield %{{.*}} : tensor<?x?x4xf32>
    %0 = qrealign.layer 0 (%h, %pos) : (tensor<?x?x4xf32>, tensor<?x?xi64>) -> tensor<?x?x4xf32> {
    ^bb0(%x: tensor<?x?x4xf32>, %p: tensor<?x?xi64>):
      %n = qrealign.get_param @norm : tensor<4xf32>
      %y = qrealign.rms_norm %x, %n eps = 1.0e-5 : (tensor<?x?x4xf32>, tensor<4xf32>) -> tensor<?x?x4xf32>
      %r = qrealign.add %x, %y : tensor<?x?x4xf32>
      qrealign.yield %r : tensor<?x?x4xf32>
    }
    // CHECK: qrealign.layer 1 boundary <weight = @norm, bias = @probe_bias, position = -1, accuracy = 7.500000e-01> (%[[L0]])
    %1 = qrealign.layer 1 boundary #qrealign.boundary<weight = @norm, bias = @probe_bias, position = -1, accuracy = 0.75> (%0) : (tensor<?x?x4xf32>) -> tensor<?x?x4xf32> {
    ^bb0(%x: tensor<?x?x4xf32>):
      qrealign.yield %x : tensor<?x?x4xf32>
    }
    return %1 : tensor<?x?x4xf32>
  }

  // The calibration objective's ops, and a parameter read as trainable.
  // CHECK-LABEL: func.func @objective
  func.func @objective(%h: tensor<?x?x4xf32>, %t: tensor<?x?x4xf32>, %tw: tensor<?x?xf32>, %i: tensor<?xi64>, %pw: tensor<?xf32>, %a: tensor<?x4xf32>) -> tensor<f32> {
    // CHECK: qrealign.get_param @norm trainable : tensor<4xf32>
    %s = qrealign.get_param @norm trainable : tensor<4xf32>
    %hs = qrealign.smooth %h, %s : (tensor<?x?x4xf32>, tensor<4xf32>) -> tensor<?x?x4xf32>
    // CHECK: qrealign.squared_error %{{.*}}, %{{.*}}, %{{.*}} coefficient = 1.000000e+00 : (tensor<?x?x4xf32>, tensor<?x?x4xf32>, tensor<?x?xf32>) -> tensor<f32>
    %r = qrealign.squared_error %hs, %t, %tw coefficient = 1.0 : (tensor<?x?x4xf32>, tensor<?x?x4xf32>, tensor<?x?xf32>) -> tensor<f32>
    // CHECK: qrealign.gather_token %{{.*}}, %{{.*}} : (tensor<?x?x4xf32>, tensor<?xi64>) -> tensor<?x4xf32>
    %last = qrealign.gather_token %hs, %i : (tensor<?x?x4xf32>, tensor<?xi64>) -> tensor<?x4xf32>
    %w = qrealign.get_param @norm : tensor<4xf32>
    %b = qrealign.get_param @probe_bias : tensor<1xf32>
    // CHECK: qrealign.boundary_loss %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} margin = 5.000000e-01 coefficient = 2.000000e+00 : (tensor<?x4xf32>, tensor<4xf32>, tensor<1xf32>, tensor<?xf32>) -> tensor<f32>
    %p = qrealign.boundary_loss %last, %w, %b, %pw margin = 0.5 coefficient = 2.0 : (tensor<?x4xf32>, tensor<4xf32>, tensor<1xf32>, tensor<?xf32>) -> tensor<f32>
    %an = qrealign.squared_error %last, %a, %pw coefficient = 3.0e-01 : (tensor<?x4xf32>, tensor<?x4xf32>, tensor<?xf32>) -> tensor<f32>
    // CHECK: qrealign.add %{{.*}}, %{{.*}} : tensor<f32>
    %l0 = qrealign.add %r, %p : tensor<f32>
    %l1 = qrealign.add %l0, %an : tensor<f32>
    return %l1 : tensor<f32>
  }
}

{-#
  dialect_resources: {
    builtin: {
      blob: "0x040000000000803F00000040"
    }
  }
#-}
