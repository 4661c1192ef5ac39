// RUN: qrealign-opt %s --split-input-file --verify-diagnostics

// Linears that read the same value are fused into one GEMM (q/k/v, gate/up)
// and must share a scheme.

func.func @f(%x: tensor<?x?x64xf32>, %wq: tensor<64x64xf32>, %wk: tensor<16x64xf32>) {
  // expected-error @+1 {{'qrealign.linear' op reads the same input as 'k_proj', so they are fused into one GEMM and must have the same 'quant' scheme}}
  %q = qrealign.linear "q_proj" %x, %wq {quant = #qrealign.quant<w_bits = 4>} : (tensor<?x?x64xf32>, tensor<64x64xf32>) -> tensor<?x?x64xf32>
  // expected-note @+1 {{'k_proj' is here}}
  %k = qrealign.linear "k_proj" %x, %wk {quant = #qrealign.quant<w_bits = 8>} : (tensor<?x?x64xf32>, tensor<16x64xf32>) -> tensor<?x?x16xf32>
  return
}

// -----

// One quantized, one not: also a mismatch.
func.func @f(%x: tensor<?x?x64xf32>, %wg: tensor<128x64xf32>) {
  // expected-error @+1 {{'qrealign.linear' op reads the same input as 'up_proj'}}
  %g = qrealign.linear "gate_proj" %x, %wg {quant = #qrealign.quant<w_bits = 4>} : (tensor<?x?x64xf32>, tensor<128x64xf32>) -> tensor<?x?x128xf32>
  // expected-note @+1 {{'up_proj' is here}}
  %u = qrealign.linear "up_proj" %x, %wg : (tensor<?x?x64xf32>, tensor<128x64xf32>) -> tensor<?x?x128xf32>
  return
}

// -----

// Different inputs: different schemes are fine.
func.func @ok(%x: tensor<?x?x64xf32>, %y: tensor<?x?x64xf32>, %w: tensor<64x64xf32>) {
  %a = qrealign.linear "o_proj" %x, %w {quant = #qrealign.quant<w_bits = 4>} : (tensor<?x?x64xf32>, tensor<64x64xf32>) -> tensor<?x?x64xf32>
  %b = qrealign.linear "down_proj" %y, %w {quant = #qrealign.quant<w_bits = 8>} : (tensor<?x?x64xf32>, tensor<64x64xf32>) -> tensor<?x?x64xf32>
  return
}
