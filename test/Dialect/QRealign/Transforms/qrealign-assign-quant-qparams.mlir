// RUN: qrealign-opt %s --split-input-file --qrealign-assign-quant="w-bits=4" --verify-diagnostics

// Learned quantization parameters belong to a scheme: changing the scheme
// (or dropping it) under them is an error, not a silent loss.
module {
  qrealign.param @s : tensor<64xf32> = dense<1.0>
  func.func @f(%x: tensor<?x?x96xf32>, %w: tensor<64x96xf32>) -> tensor<?x?x64xf32> {
    // expected-error @+1 {{qrealign-assign-quant: cannot quantize 'o_proj': it has learned quantization parameters ('qparams') for its current scheme; remove them or re-run calibration after changing the scheme}}
    %y = qrealign.linear "o_proj" %x, %w {quant = #qrealign.quant<w_bits = 8>, qparams = #qrealign.qparams<weight_scale = @s>} : (tensor<?x?x96xf32>, tensor<64x96xf32>) -> tensor<?x?x64xf32>
    return %y : tensor<?x?x64xf32>
  }
}

// -----

// The same scheme again keeps them.
module {
  qrealign.param @s : tensor<64xf32> = dense<1.0>
  func.func @f(%x: tensor<?x?x96xf32>, %w: tensor<64x96xf32>) -> tensor<?x?x64xf32> {
    %y = qrealign.linear "o_proj" %x, %w {quant = #qrealign.quant<w_bits = 4>, qparams = #qrealign.qparams<weight_scale = @s>} : (tensor<?x?x96xf32>, tensor<64x96xf32>) -> tensor<?x?x64xf32>
    return %y : tensor<?x?x64xf32>
  }
}
