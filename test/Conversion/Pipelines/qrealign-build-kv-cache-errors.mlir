// RUN: qrealign-opt %s --qrealign-build-kv-cache="decode-tokens=-1" -verify-diagnostics -o /dev/null

// expected-error @below {{qrealign-build-kv-cache: decode-tokens must be 0 (dynamic) or a number of tokens, got -1}}
module {
  func.func @forward(%ids: tensor<?x?xi64>, %pos: tensor<?x?xi64>, %mask: tensor<?x?xi1>) -> tensor<?x?x8xf32> {
    %t = arith.constant dense<1.0> : tensor<8x8xf32>
    %h = qrealign.embedding %ids, %t : (tensor<?x?xi64>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
    %a = qrealign.attention %h, %h, %h mask %mask heads = 1 kv_heads = 1 head_dim = 8 scale = 0.35 causal : (tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?xi1>) -> tensor<?x?x8xf32>
    return %a : tensor<?x?x8xf32>
  }
}
