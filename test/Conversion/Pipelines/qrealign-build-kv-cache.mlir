// RUN: qrealign-opt %s --qrealign-build-kv-cache --split-input-file -verify-diagnostics | FileCheck %s
// The derived functions lower to LLVM with the rest.
// RUN: qrealign-opt %s --qrealign-build-kv-cache --split-input-file --qrealign-lower-to-cpu -verify-diagnostics | FileCheck %s --check-prefix=LOWERED

// @forward stays; @prefill returns the keys and values each attention read,
// in program order; @decode takes them, concatenates the new ones along the
// sequence axis before each attention, and returns the grown cache.
// CHECK-LABEL: func.func @forward(
// CHECK: qrealign.layer 0
// CHECK-LABEL: func.func @decode(
// CHECK-SAME: %[[IDS:[^:]*]]: tensor<?x?xi64>, %[[POS:[^:]*]]: tensor<?x?xi64>, %[[MASK:[^:]*]]: tensor<?x?xi1>, %[[PK:[^:]*]]: tensor<?x?x8xf32>, %[[PV:[^:]*]]: tensor<?x?x8xf32>)
// CHECK-SAME: -> (tensor<?x?x16xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>)
// CHECK-NOT: qrealign.layer
// CHECK: %[[K:[^ ]*]] = qrealign.rope rotate_half {{.*}} -> tensor<?x?x8xf32>
// CHECK: %[[KC:.*]] = tensor.concat dim(1) %[[PK]], %[[K]]
// CHECK: %[[VC:.*]] = tensor.concat dim(1) %[[PV]], %{{.*}}
// CHECK: qrealign.attention %{{.*}}, %[[KC]], %[[VC]] mask %[[MASK]]
// CHECK: return %{{.*}}, %[[KC]], %[[VC]]
// CHECK-LABEL: func.func @prefill(
// CHECK-SAME: -> (tensor<?x?x16xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>)
// CHECK-NOT: tensor.concat
// CHECK: %[[K2:[^ ]*]] = qrealign.rope rotate_half {{.*}} -> tensor<?x?x8xf32>
// CHECK: qrealign.attention %{{.*}}, %[[K2]], %[[V2:[^ ]*]] mask
// CHECK: return %{{.*}}, %[[K2]], %[[V2]]

// LOWERED: llvm.func @forward(
// LOWERED: llvm.func @decode(
// LOWERED: llvm.func @prefill(
qrealign.param @wq : tensor<16x16xf32> = dense<0.1>
qrealign.param @wk : tensor<8x16xf32> = dense<0.1>
qrealign.param @wv : tensor<8x16xf32> = dense<0.1>
func.func @forward(%ids: tensor<?x?xi64>, %pos: tensor<?x?xi64>, %mask: tensor<?x?xi1>) -> tensor<?x?x16xf32> {
  %t = qrealign.get_param @wq : tensor<16x16xf32>
  %h = qrealign.embedding %ids, %t : (tensor<?x?xi64>, tensor<16x16xf32>) -> tensor<?x?x16xf32>
  %o = qrealign.layer 0 (%h, %pos, %mask) : (tensor<?x?x16xf32>, tensor<?x?xi64>, tensor<?x?xi1>) -> tensor<?x?x16xf32> {
  ^bb0(%x: tensor<?x?x16xf32>, %p: tensor<?x?xi64>, %m: tensor<?x?xi1>):
    %wq = qrealign.get_param @wq : tensor<16x16xf32>
    %wk = qrealign.get_param @wk : tensor<8x16xf32>
    %wv = qrealign.get_param @wv : tensor<8x16xf32>
    %q = qrealign.linear "q_proj" %x, %wq : (tensor<?x?x16xf32>, tensor<16x16xf32>) -> tensor<?x?x16xf32>
    %k = qrealign.linear "k_proj" %x, %wk : (tensor<?x?x16xf32>, tensor<8x16xf32>) -> tensor<?x?x8xf32>
    %v = qrealign.linear "v_proj" %x, %wv : (tensor<?x?x16xf32>, tensor<8x16xf32>) -> tensor<?x?x8xf32>
    %qr = qrealign.rope rotate_half %q, %p head_dim = 8 theta = 1.0e+04 : (tensor<?x?x16xf32>, tensor<?x?xi64>) -> tensor<?x?x16xf32>
    %kr = qrealign.rope rotate_half %k, %p head_dim = 8 theta = 1.0e+04 : (tensor<?x?x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
    %a = qrealign.attention %qr, %kr, %v mask %m heads = 2 kv_heads = 1 head_dim = 8 scale = 0.35 causal : (tensor<?x?x16xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?xi1>) -> tensor<?x?x16xf32>
    %r = qrealign.add %x, %a : tensor<?x?x16xf32>
    qrealign.yield %r : tensor<?x?x16xf32>
  }
  return %o : tensor<?x?x16xf32>
}

// -----

// expected-error @below {{qrealign-build-kv-cache: the module has no @forward(ids, positions, mask) -> logits}}
module {
  func.func @main(%x: tensor<2xf32>) -> tensor<2xf32> {
    return %x : tensor<2xf32>
  }
}

// -----

module {
  // expected-error @below {{qrealign-build-kv-cache: @forward has no attention, so nothing to cache}}
  func.func @forward(%ids: tensor<?x?xi64>, %pos: tensor<?x?xi64>, %mask: tensor<?x?xi1>) -> tensor<?x?x4xf32> {
    %t = arith.constant dense<1.0> : tensor<4x4xf32>
    %h = qrealign.embedding %ids, %t : (tensor<?x?xi64>, tensor<4x4xf32>) -> tensor<?x?x4xf32>
    return %h : tensor<?x?x4xf32>
  }
}
