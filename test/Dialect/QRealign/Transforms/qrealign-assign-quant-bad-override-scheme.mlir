// RUN: qrealign-opt %s --qrealign-assign-quant="w-bits=8 overrides=down_proj:act=static" --verify-diagnostics

// An override that makes an invalid scheme is reported at the linear, with
// the overrides that built it.
module {
  func.func @f(%x: tensor<?x?x96xf32>, %w: tensor<64x96xf32>, %wd: tensor<96x64xf32>) -> tensor<?x?x96xf32> {
    %y = qrealign.linear "o_proj" %x, %w : (tensor<?x?x96xf32>, tensor<64x96xf32>) -> tensor<?x?x64xf32>
    // expected-error @+2 {{qrealign-assign-quant: cannot quantize 'down_proj': act = static needs quantized activations (a_bits < 16)}}
    // expected-note @+1 {{scheme built from the default and override(s) 'down_proj:act=static'}}
    %z = qrealign.linear "down_proj" %y, %wd : (tensor<?x?x64xf32>, tensor<96x64xf32>) -> tensor<?x?x96xf32>
    return %z : tensor<?x?x96xf32>
  }
}
