// RUN: qrealign-opt %s --qrealign-assign-quant="w-bits=-1" --verify-diagnostics
// A negative width used to fail in the option parser, followed by an empty
// "<unknown>:0: error:" line.
// expected-error @+1 {{qrealign-assign-quant: w-bits must be positive, got -1}}
module {
  func.func @f(%x: tensor<?x?x96xf32>, %w: tensor<64x96xf32>, %wd: tensor<96x64xf32>) -> tensor<?x?x96xf32> {
    %y = qrealign.linear "o_proj" %x, %w : (tensor<?x?x96xf32>, tensor<64x96xf32>) -> tensor<?x?x64xf32>
    %z = qrealign.linear "down_proj" %y, %wd : (tensor<?x?x64xf32>, tensor<96x64xf32>) -> tensor<?x?x96xf32>
    return %z : tensor<?x?x96xf32>
  }
}
