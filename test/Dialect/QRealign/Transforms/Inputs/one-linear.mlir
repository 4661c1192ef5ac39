// One quantized linear over an inline weight (qrealign-quantize-weights
// option errors).
// expected-error @+1 {{qrealign-quantize-weights: set file=PATH, the safetensors file to write the 3 new tensors to}}
module {
  qrealign.param @w : tensor<2x8xf32> = dense<1.0>
  func.func @f(%x: tensor<3x8xf32>) -> tensor<3x2xf32> {
    %w = qrealign.get_param @w : tensor<2x8xf32>
    %y = qrealign.linear "o_proj" %x, %w {quant = #qrealign.quant<w_bits = 4>} : (tensor<3x8xf32>, tensor<2x8xf32>) -> tensor<3x2xf32>
    return %y : tensor<3x2xf32>
  }
}
