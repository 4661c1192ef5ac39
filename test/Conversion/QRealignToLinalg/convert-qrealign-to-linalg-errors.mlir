// RUN: qrealign-opt %s --convert-qrealign-to-linalg --split-input-file -verify-diagnostics

func.func @rope(%q: tensor<1x4x8xf32>, %pos: tensor<1x4xi64>) -> tensor<1x4x8xf32> {
  // expected-error @below {{convert-qrealign-to-linalg: 'qrealign.rope' has no lowering to linalg yet}}
  %r = qrealign.rope rotate_half %q, %pos head_dim = 8 theta = 1.0e+04 : (tensor<1x4x8xf32>, tensor<1x4xi64>) -> tensor<1x4x8xf32>
  return %r : tensor<1x4x8xf32>
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

func.func @calibration_form(%w: tensor<32x64xf32>) -> tensor<32x64xf32> {
  // expected-error @below {{'qrealign.fake_quantize' has no lowering to linalg yet}}
  %q = qrealign.fake_quantize %w bits = 4 per_channel : (tensor<32x64xf32>) -> tensor<32x64xf32>
  return %q : tensor<32x64xf32>
}
