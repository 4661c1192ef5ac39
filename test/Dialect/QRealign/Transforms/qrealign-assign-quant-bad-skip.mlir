// RUN: qrealign-opt %s --qrealign-assign-quant="skip=L3-1" --verify-diagnostics
// expected-error @+1 {{qrealign-assign-quant: skip: invalid selector 'L3-1': layer range is empty (3 > 1)}}
module {
  func.func @f(%x: tensor<?x?x96xf32>, %w: tensor<64x96xf32>, %wd: tensor<96x64xf32>) -> tensor<?x?x96xf32> {
    %y = qrealign.linear "o_proj" %x, %w : (tensor<?x?x96xf32>, tensor<64x96xf32>) -> tensor<?x?x64xf32>
    %z = qrealign.linear "down_proj" %y, %wd : (tensor<?x?x64xf32>, tensor<96x64xf32>) -> tensor<?x?x96xf32>
    return %z : tensor<?x?x96xf32>
  }
}
