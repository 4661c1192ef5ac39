// RUN: qrealign-opt %s --split-input-file --verify-diagnostics

// A linear's quantization has one description: the #qrealign.quant policy
// on the linear. The two that could contradict it are gone: scales inside
// a !quant.uniform weight type (once: scale 0.5 in the type, 9.0 in the
// qparams, and the linear verified) and #qrealign.qparams symbol references.

func.func @f(%x: tensor<?x?x16xf32>, %w: tensor<2x16x!quant.uniform<i8:f32, 5.000000e-01>>) {
  // expected-error @+1 {{'qrealign.linear' op operand #1 must be ranked tensor of floating-point values, but got 'tensor<2x16x!quant.uniform<i8:f32, 5.000000e-01>>'}}
  %0 = qrealign.linear "q_proj" %x, %w {quant = #qrealign.quant<w_bits = 8, granularity = per_tensor>} : (tensor<?x?x16xf32>, tensor<2x16x!quant.uniform<i8:f32, 5.000000e-01>>) -> tensor<?x?x2xf32>
  return
}

// -----

func.func @f(%x: tensor<?x?x16xf32>, %w: tensor<2x16xf32>) {
  // expected-error @+1 {{unknown attribute `qparams` in dialect `qrealign`}}
  %0 = qrealign.linear "q_proj" %x, %w {quant = #qrealign.quant<w_bits = 8>, qparams = #qrealign.qparams<weight_scale = @s>} : (tensor<?x?x16xf32>, tensor<2x16xf32>) -> tensor<?x?x2xf32>
  return
}
