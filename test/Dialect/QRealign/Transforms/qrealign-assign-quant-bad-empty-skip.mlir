// RUN: qrealign-opt %s --qrealign-assign-quant="skip=," --verify-diagnostics
// "skip=," holds two empty selectors; the error was reported twice (an
// unexpected second error fails --verify-diagnostics).
// expected-error @+1 {{qrealign-assign-quant: skip: invalid selector '': empty}}
module {
  func.func @f(%x: tensor<?x?x96xf32>, %w: tensor<64x96xf32>, %wd: tensor<96x64xf32>) -> tensor<?x?x96xf32> {
    %y = qrealign.linear "o_proj" %x, %w : (tensor<?x?x96xf32>, tensor<64x96xf32>) -> tensor<?x?x64xf32>
    %z = qrealign.linear "down_proj" %y, %wd : (tensor<?x?x64xf32>, tensor<96x64xf32>) -> tensor<?x?x96xf32>
    return %z : tensor<?x?x96xf32>
  }
}
