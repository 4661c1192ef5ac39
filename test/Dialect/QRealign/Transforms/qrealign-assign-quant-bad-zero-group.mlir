// RUN: qrealign-opt %s --qrealign-assign-quant="w-bits=4 group-size=0" --verify-diagnostics
// An explicit group-size=0 was accepted silently (as per-channel).
// expected-error @+1 {{qrealign-assign-quant: group-size must be a power of two >= 8 (omit it for per-channel scales), got 0}}
module {
  func.func @f(%x: tensor<?x?x96xf32>, %w: tensor<64x96xf32>, %wd: tensor<96x64xf32>) -> tensor<?x?x96xf32> {
    %y = qrealign.linear "o_proj" %x, %w : (tensor<?x?x96xf32>, tensor<64x96xf32>) -> tensor<?x?x64xf32>
    %z = qrealign.linear "down_proj" %y, %wd : (tensor<?x?x64xf32>, tensor<96x64xf32>) -> tensor<?x?x96xf32>
    return %z : tensor<?x?x96xf32>
  }
}
