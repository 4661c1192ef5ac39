// RUN: qrealign-opt %s --convert-qrealign-to-linalg --split-input-file -verify-diagnostics

func.func @attention_f16(%q: tensor<1x4x8xf16>) -> tensor<1x4x8xf16> {
  // expected-error @below {{convert-qrealign-to-linalg: attention is lowered on f32 [B, S, C] tensors only}}
  %o = qrealign.attention %q, %q, %q heads = 1 kv_heads = 1 head_dim = 8 scale = 0.5 : (tensor<1x4x8xf16>, tensor<1x4x8xf16>, tensor<1x4x8xf16>) -> tensor<1x4x8xf16>
  return %o : tensor<1x4x8xf16>
}

// -----

func.func @float_weight(%x: tensor<3x64xf32>, %w: tensor<32x64xf32>) -> tensor<3x32xf32> {
  // expected-error @below {{linear 'q_proj' has a quantized scheme on a float weight: run qrealign-quantize-weights (form=packed) first}}
  %y = qrealign.linear "q_proj" %x, %w {quant = #qrealign.quant<w_bits = 8, a_bits = 8>} : (tensor<3x64xf32>, tensor<32x64xf32>) -> tensor<3x32xf32>
  return %y : tensor<3x32xf32>
}

// -----

func.func @static_act(%x: tensor<3x64xf32>, %p: tensor<32x64xi8>, %s: tensor<32x1xf32>) -> tensor<3x32xf32> {
  %w = qrealign.dequantize %p, %s bits = 8 : (tensor<32x64xi8>, tensor<32x1xf32>) -> tensor<32x64xf32>
  // expected-error @below {{linear 'q_proj': static activation quantization has no lowering yet (dynamic per-token only)}}
  %y = qrealign.linear "q_proj" %x, %w {quant = #qrealign.quant<w_bits = 8, a_bits = 8, symmetric = true, act = static>} : (tensor<3x64xf32>, tensor<32x64xf32>) -> tensor<3x32xf32>
  return %y : tensor<3x32xf32>
}

// -----

func.func @act_only(%x: tensor<3x64xf32>, %w: tensor<32x64xf32>) -> tensor<3x32xf32> {
  // expected-error @below {{linear 'q_proj' quantizes activations of a float weight: the integer path needs a qrealign.dequantize weight}}
  %y = qrealign.linear "q_proj" %x, %w {quant = #qrealign.quant<w_bits = 16, a_bits = 8>} : (tensor<3x64xf32>, tensor<32x64xf32>) -> tensor<3x32xf32>
  return %y : tensor<3x32xf32>
}

// -----

func.func @calibration_form(%w: tensor<32x64xf32>, %c: tensor<32x1xf32>) -> tensor<32x64xf32> {
  // expected-error @below {{fake_quantize with learnable clipping (the calibration form: pack the weights with qrealign-quantize-weights form=packed) has no lowering yet}}
  %q = qrealign.fake_quantize %w clip %c bits = 4 per_channel symmetric : (tensor<32x64xf32>, tensor<32x1xf32>) -> tensor<32x64xf32>
  return %q : tensor<32x64xf32>
}

// -----

func.func @unsupported(%x: tensor<3x64xf32>, %w: tensor<64xf32>) -> tensor<3x64xf32> {
  // expected-error @below {{'qrealign.smooth' has no lowering to linalg yet}}
  %s = qrealign.smooth %x, %w : (tensor<3x64xf32>, tensor<64xf32>) -> tensor<3x64xf32>
  return %s : tensor<3x64xf32>
}

// -----

func.func @static_fq(%x: tensor<3x64xf32>, %s: tensor<1x1xf32>) -> tensor<3x64xf32> {
  // expected-error @below {{fake_quantize with static ranges (a calibrated scale) has no lowering yet}}
  %q = qrealign.fake_quantize %x scale %s bits = 8 per_tensor symmetric : (tensor<3x64xf32>, tensor<1x1xf32>) -> tensor<3x64xf32>
  return %q : tensor<3x64xf32>
}

// -----

func.func @symmetric_fq(%x: tensor<3x64xf32>) -> tensor<3x64xf32> {
  // expected-error @below {{fake_quantize with symmetric dynamic ranges has no lowering yet}}
  %q = qrealign.fake_quantize %x bits = 8 per_channel symmetric : (tensor<3x64xf32>) -> tensor<3x64xf32>
  return %q : tensor<3x64xf32>
}

// -----

func.func @rope_rank2(%q: tensor<4x16xf32>, %pos: tensor<4xi64>) -> tensor<4x16xf32> {
  // expected-error @below {{rope on a rank-2 tensor (the lowering takes [B, S, C])}}
  %r = qrealign.rope rotate_half %q, %pos head_dim = 8 theta = 1.0e+04 : (tensor<4x16xf32>, tensor<4xi64>) -> tensor<4x16xf32>
  return %r : tensor<4x16xf32>
}
