// RUN: qrealign-opt %s --qrealign-assign-quant="w-bits=4 group-size=64" --verify-diagnostics

// One error for all linears whose width the group size does not divide,
// at the first of them; the IR is left unchanged.
module {
  func.func @f(%x: tensor<?x?x96xf32>, %w: tensor<64x96xf32>, %w2: tensor<32x96xf32>, %wd: tensor<96x64xf32>) -> tensor<?x?x96xf32> {
    // expected-error @+1 {{qrealign-assign-quant: group-size 64 does not divide the 96 input features of 2 linear(s): k_proj, v_proj; choose a group-size that divides 96, or override or skip these linears}}
    %k = qrealign.linear "k_proj" %x, %w : (tensor<?x?x96xf32>, tensor<64x96xf32>) -> tensor<?x?x64xf32>
    %v = qrealign.linear "v_proj" %x, %w2 : (tensor<?x?x96xf32>, tensor<32x96xf32>) -> tensor<?x?x32xf32>
    %z = qrealign.linear "down_proj" %k, %wd : (tensor<?x?x64xf32>, tensor<96x64xf32>) -> tensor<?x?x96xf32>
    return %z : tensor<?x?x96xf32>
  }
}
