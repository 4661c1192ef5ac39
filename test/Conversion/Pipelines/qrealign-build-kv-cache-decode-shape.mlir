// RUN: qrealign-opt %s --qrealign-build-kv-cache="decode-tokens=2" --split-input-file -verify-diagnostics | FileCheck %s

// decode-tokens=2: two new tokens per step, one sequence; the mask's length
// (the total) stays dynamic.
// CHECK-LABEL: func.func @decode(
// CHECK-SAME: %[[IDS:[^:]*]]: tensor<1x2xi64>, %[[POS:[^:]*]]: tensor<1x2xi64>, %[[MASK:[^:]*]]: tensor<1x?xi1>
// CHECK: tensor.cast %[[IDS]] : tensor<1x2xi64> to tensor<?x?xi64>
func.func @forward(%ids: tensor<?x?xi64>, %pos: tensor<?x?xi64>, %mask: tensor<?x?xi1>) -> tensor<?x?x8xf32> {
  %t = arith.constant dense<1.0> : tensor<8x8xf32>
  %h = qrealign.embedding %ids, %t : (tensor<?x?xi64>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
  %a = qrealign.attention %h, %h, %h mask %mask heads = 1 kv_heads = 1 head_dim = 8 scale = 0.35 causal : (tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?xi1>) -> tensor<?x?x8xf32>
  return %a : tensor<?x?x8xf32>
}

// -----

// Two sequences in every call cannot be decoded as one.
module {
  // expected-error @below {{qrealign-build-kv-cache: @forward's argument 0 ('tensor<2x?xi64>') cannot take the static decode shape [1, 2]}}
  func.func @forward(%ids: tensor<2x?xi64>, %pos: tensor<?x?xi64>, %mask: tensor<?x?xi1>) -> tensor<?x?x8xf32> {
    %t = arith.constant dense<1.0> : tensor<8x8xf32>
    %h = qrealign.embedding %ids, %t : (tensor<2x?xi64>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
    %a = qrealign.attention %h, %h, %h mask %mask heads = 1 kv_heads = 1 head_dim = 8 scale = 0.35 causal : (tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?xi1>) -> tensor<?x?x8xf32>
    return %a : tensor<?x?x8xf32>
  }
}
