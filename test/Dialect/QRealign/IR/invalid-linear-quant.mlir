// RUN: qrealign-opt %s --split-input-file --verify-diagnostics

// Schemes a linear cannot take.

func.func @f(%x: tensor<?x?x96xf32>, %w: tensor<64x96xf32>) {
  // expected-error @+1 {{'qrealign.linear' op group_size 64 does not divide the 96 input features}}
  %0 = qrealign.linear "down_proj" %x, %w {quant = #qrealign.quant<w_bits = 4, granularity = per_group, group_size = 64>} : (tensor<?x?x96xf32>, tensor<64x96xf32>) -> tensor<?x?x64xf32>
  return
}
