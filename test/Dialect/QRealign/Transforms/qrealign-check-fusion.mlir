// RUN: qrealign-opt %s --split-input-file --qrealign-check-fusion --verify-diagnostics

// Fusion groups (q/k/v, gate/up) run as one GEMM in fused-GEMM runtimes:
// one input, one scheme. Without the pass these modules all verify.

func.func @f(%x: tensor<?x?x64xf32>, %wq: tensor<64x64xf32>, %wk: tensor<16x64xf32>) {
  // expected-note @+1 {{'q_proj' is here}}
  %q = qrealign.linear "q_proj" %x, %wq {fusion = "qkv", quant = #qrealign.quant<w_bits = 4>} : (tensor<?x?x64xf32>, tensor<64x64xf32>) -> tensor<?x?x64xf32>
  // expected-error @+1 {{fusion group 'qkv': 'k_proj' has another 'quant' scheme than 'q_proj', so they cannot run as one GEMM}}
  %k = qrealign.linear "k_proj" %x, %wk {fusion = "qkv", quant = #qrealign.quant<w_bits = 8>} : (tensor<?x?x64xf32>, tensor<16x64xf32>) -> tensor<?x?x16xf32>
  return
}

// -----

// One quantized, one not: also a mismatch.
func.func @f(%x: tensor<?x?x64xf32>, %wg: tensor<128x64xf32>) {
  // expected-note @+1 {{'gate_proj' is here}}
  %g = qrealign.linear "gate_proj" %x, %wg {fusion = "gate_up", quant = #qrealign.quant<w_bits = 4>} : (tensor<?x?x64xf32>, tensor<128x64xf32>) -> tensor<?x?x128xf32>
  // expected-error @+1 {{fusion group 'gate_up': 'up_proj' has another 'quant' scheme than 'gate_proj'}}
  %u = qrealign.linear "up_proj" %x, %wg {fusion = "gate_up"} : (tensor<?x?x64xf32>, tensor<128x64xf32>) -> tensor<?x?x128xf32>
  return
}

// -----

// An op placed between the shared input and one member is reported, not
// silently taken as "another group".
func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<64x64xf32>) {
  %y = qrealign.add %x, %x : tensor<?x?x64xf32>
  // expected-note @+1 {{'q_proj' is here}}
  %q = qrealign.linear "q_proj" %x, %w {fusion = "qkv"} : (tensor<?x?x64xf32>, tensor<64x64xf32>) -> tensor<?x?x64xf32>
  // expected-error @+1 {{fusion group 'qkv': 'v_proj' reads another input than 'q_proj', so they cannot run as one GEMM}}
  %v = qrealign.linear "v_proj" %y, %w {fusion = "qkv"} : (tensor<?x?x64xf32>, tensor<64x64xf32>) -> tensor<?x?x64xf32>
  return
}

// -----

// Deployable: one group with one input and one scheme, another group, and
// linears outside any group reading the same value with other schemes.
func.func @ok(%x: tensor<?x?x64xf32>, %w: tensor<64x64xf32>) {
  %q = qrealign.linear "q_proj" %x, %w {fusion = "qkv", quant = #qrealign.quant<w_bits = 4>} : (tensor<?x?x64xf32>, tensor<64x64xf32>) -> tensor<?x?x64xf32>
  %k = qrealign.linear "k_proj" %x, %w {fusion = "qkv", quant = #qrealign.quant<w_bits = 4>} : (tensor<?x?x64xf32>, tensor<64x64xf32>) -> tensor<?x?x64xf32>
  %g = qrealign.linear "gate_proj" %q, %w {fusion = "gate_up"} : (tensor<?x?x64xf32>, tensor<64x64xf32>) -> tensor<?x?x64xf32>
  %a = qrealign.linear "o_proj" %x, %w {quant = #qrealign.quant<w_bits = 8>} : (tensor<?x?x64xf32>, tensor<64x64xf32>) -> tensor<?x?x64xf32>
  return
}
