// RUN: qrealign-opt %s --split-input-file --verify-diagnostics

// Schemes a linear cannot take, and qparams references.

func.func @f(%x: tensor<?x?x96xf32>, %w: tensor<64x96xf32>) {
  // expected-error @+1 {{'qrealign.linear' op group_size 64 does not divide the 96 input features}}
  %0 = qrealign.linear "down_proj" %x, %w {quant = #qrealign.quant<w_bits = 4, granularity = per_group, group_size = 64>} : (tensor<?x?x96xf32>, tensor<64x96xf32>) -> tensor<?x?x64xf32>
  return
}

// -----

qrealign.param @s : tensor<64xf32> = dense<1.0>
func.func @f(%x: tensor<?x?x96xf32>, %w: tensor<64x96xf32>) {
  // expected-error @+1 {{'qrealign.linear' op has 'qparams' but no 'quant' scheme}}
  %0 = qrealign.linear "down_proj" %x, %w {qparams = #qrealign.qparams<weight_scale = @s>} : (tensor<?x?x96xf32>, tensor<64x96xf32>) -> tensor<?x?x64xf32>
  return
}

// -----

qrealign.param @s : tensor<64xf32> = dense<1.0>
func.func @f(%x: tensor<?x?x96xf32>, %w: tensor<64x96xf32>) {
  // expected-error @+1 {{'qrealign.linear' op symmetric scheme has no weight zero point, but 'qparams' names one}}
  %0 = qrealign.linear "o_proj" %x, %w {quant = #qrealign.quant<w_bits = 8, symmetric = true>, qparams = #qrealign.qparams<weight_scale = @s, weight_zero_point = @s>} : (tensor<?x?x96xf32>, tensor<64x96xf32>) -> tensor<?x?x64xf32>
  return
}

// -----

qrealign.param @s : tensor<1xf32> = dense<1.0>
func.func @f(%x: tensor<?x?x96xf32>, %w: tensor<64x96xf32>) {
  // expected-error @+1 {{'qrealign.linear' op 'qparams' names static activation parameters but the scheme does not quantize activations statically}}
  %0 = qrealign.linear "o_proj" %x, %w {quant = #qrealign.quant<w_bits = 8, a_bits = 8>, qparams = #qrealign.qparams<act_scale = @s>} : (tensor<?x?x96xf32>, tensor<64x96xf32>) -> tensor<?x?x64xf32>
  return
}

// -----

func.func @f(%x: tensor<?x?x96xf32>, %w: tensor<64x96xf32>) {
  // expected-error @+1 {{'qrealign.linear' op qparams weight_scale @nope does not name a qrealign.param}}
  %0 = qrealign.linear "o_proj" %x, %w {quant = #qrealign.quant<w_bits = 8>, qparams = #qrealign.qparams<weight_scale = @nope>} : (tensor<?x?x96xf32>, tensor<64x96xf32>) -> tensor<?x?x64xf32>
  return
}

// -----

qrealign.param @s : tensor<96xf32> = dense<1.0>
func.func @f(%x: tensor<?x?x96xf32>, %w: tensor<64x96xf32>) {
  // Per channel: one scale per output channel (64), not per input channel.
  // expected-error @+1 {{'qrealign.linear' op qparams weight_scale @s has shape [96] but this linear needs [64]}}
  %0 = qrealign.linear "o_proj" %x, %w {quant = #qrealign.quant<w_bits = 8>, qparams = #qrealign.qparams<weight_scale = @s>} : (tensor<?x?x96xf32>, tensor<64x96xf32>) -> tensor<?x?x64xf32>
  return
}

// -----

qrealign.param @s : tensor<64x2xf32> = dense<1.0>
func.func @f(%x: tensor<?x?x96xf32>, %w: tensor<64x96xf32>) {
  // Per group of 32 over 96 inputs: [64, 3].
  // expected-error @+1 {{'qrealign.linear' op qparams clip_max @s has shape [64, 2] but this linear needs [64, 3]}}
  %0 = qrealign.linear "o_proj" %x, %w {quant = #qrealign.quant<w_bits = 4, granularity = per_group, group_size = 32>, qparams = #qrealign.qparams<clip_max = @s>} : (tensor<?x?x96xf32>, tensor<64x96xf32>) -> tensor<?x?x64xf32>
  return
}

// -----

qrealign.param @s : tensor<64xf32> = dense<1.0>
func.func @f(%x: tensor<?x?x96xf32>, %w: tensor<64x96xf32>) {
  // Smoothing scales are per input channel.
  // expected-error @+1 {{'qrealign.linear' op qparams smooth @s has shape [64] but this linear needs [96]}}
  %0 = qrealign.linear "o_proj" %x, %w {quant = #qrealign.quant<w_bits = 8>, qparams = #qrealign.qparams<smooth = @s>} : (tensor<?x?x96xf32>, tensor<64x96xf32>) -> tensor<?x?x64xf32>
  return
}

// -----

qrealign.param @s : tensor<64xi8> = dense<1>
func.func @f(%x: tensor<?x?x96xf32>, %w: tensor<64x96xf32>) {
  // expected-error @+1 {{'qrealign.linear' op qparams weight_scale @s must have a float element type, got 'i8'}}
  %0 = qrealign.linear "o_proj" %x, %w {quant = #qrealign.quant<w_bits = 8>, qparams = #qrealign.qparams<weight_scale = @s>} : (tensor<?x?x96xf32>, tensor<64x96xf32>) -> tensor<?x?x64xf32>
  return
}

// -----

qrealign.param @s : tensor<64xf32> = dense<1.0>
qrealign.param @z : tensor<64xi8> = dense<0>
qrealign.param @a : tensor<1xf32> = dense<0.1>
// Complete, valid references: integer zero points are allowed.
func.func @ok(%x: tensor<?x?x96xf32>, %w: tensor<64x96xf32>) {
  %0 = qrealign.linear "o_proj" %x, %w {quant = #qrealign.quant<w_bits = 8, a_bits = 8, act = static>, qparams = #qrealign.qparams<weight_scale = @s, weight_zero_point = @z, clip_max = @s, clip_min = @s, act_scale = @a>} : (tensor<?x?x96xf32>, tensor<64x96xf32>) -> tensor<?x?x64xf32>
  return
}
