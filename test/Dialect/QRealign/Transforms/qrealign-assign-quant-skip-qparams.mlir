// RUN: qrealign-opt %s --qrealign-assign-quant="w-bits=8 skip=o_proj" --verify-diagnostics

// Skipping a linear would drop its learned quantization parameters.
module {
  qrealign.param @s : tensor<64xf32> = dense<1.0>
  func.func @f(%x: tensor<?x?x96xf32>, %w: tensor<64x96xf32>) -> tensor<?x?x64xf32> {
    // expected-error @+1 {{qrealign-assign-quant: cannot skip 'o_proj': it has learned quantization parameters}}
    %y = qrealign.linear "o_proj" %x, %w {quant = #qrealign.quant<w_bits = 8>, qparams = #qrealign.qparams<weight_scale = @s>} : (tensor<?x?x96xf32>, tensor<64x96xf32>) -> tensor<?x?x64xf32>
    return %y : tensor<?x?x64xf32>
  }
}
