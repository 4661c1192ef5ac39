// RUN: qrealign-opt %s --qrealign-build-kv-cache="decode-tokens=0" --split-input-file -verify-diagnostics | FileCheck %s
// By default @decode takes one sequence of one new token, static.
// RUN: qrealign-opt %s --qrealign-build-kv-cache --split-input-file -verify-diagnostics | FileCheck %s --check-prefix=STATIC
// The derived functions lower to LLVM with the rest.
// RUN: qrealign-opt %s --qrealign-build-kv-cache --split-input-file --qrealign-lower-to-cpu -verify-diagnostics | FileCheck %s --check-prefix=LOWERED
// Bufferized, @decode updates its caches in place: it returns its own
// arguments, having copied the new positions only.
// RUN: qrealign-opt %s --split-input-file -verify-diagnostics --pass-pipeline="builtin.module(qrealign-build-kv-cache,qrealign-bind-params,func.func(convert-qrealign-to-linalg),one-shot-bufferize{bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map})" | FileCheck %s --check-prefix=INPLACE

// STATIC-LABEL: func.func @decode(
// STATIC-SAME: %[[IDS:[^:]*]]: tensor<1x1xi64>, %[[POS:[^:]*]]: tensor<1x1xi64>, %[[MASK:[^:]*]]: tensor<1x?xi1>, %{{[^:]*}}: tensor<?x?x8xf32>, %{{[^:]*}}: tensor<?x?x8xf32>)
// STATIC-DAG: tensor.cast %[[IDS]] : tensor<1x1xi64> to tensor<?x?xi64>
// STATIC-DAG: tensor.cast %[[POS]] : tensor<1x1xi64> to tensor<?x?xi64>
// STATIC-DAG: tensor.cast %[[MASK]] : tensor<1x?xi1> to tensor<?x?xi1>
// STATIC: cf.assert
// STATIC-LABEL: func.func @prefill(
// STATIC-SAME: %{{[^:]*}}: tensor<?x?xi64>

// @forward stays; @prefill returns the keys and values each attention read,
// in program order; @decode takes caches with room for the new positions
// (the mask's length is the total), writes the new keys and values after
// the cached ones, lets each attention read the first `total` positions,
// and returns the caches.
// CHECK-LABEL: func.func @forward(
// CHECK: qrealign.layer 0
// CHECK-LABEL: func.func @decode(
// CHECK-SAME: %[[IDS:[^:]*]]: tensor<?x?xi64>, %[[POS:[^:]*]]: tensor<?x?xi64>, %[[MASK:[^:]*]]: tensor<?x?xi1>, %[[PK:[^:]*]]: tensor<?x?x8xf32>, %[[PV:[^:]*]]: tensor<?x?x8xf32>)
// CHECK-SAME: -> (tensor<?x?x16xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>)
// First, one check that every cache has room for the mask's length (no
// GPU work is queued yet, so it costs no synchronization there).
// CHECK: %[[ONE:.*]] = arith.constant 1 : index
// CHECK: %[[TOTAL0:.*]] = tensor.dim %[[MASK]], %[[ONE]]
// CHECK: %[[NEW0:.*]] = tensor.dim %[[IDS]], %[[ONE]]
// CHECK: %[[C0:.*]] = arith.cmpi ule, %[[NEW0]], %[[TOTAL0]]
// CHECK: %[[CAPK:.*]] = tensor.dim %[[PK]], %[[ONE]]
// CHECK: %[[C1:.*]] = arith.cmpi ule, %[[TOTAL0]], %[[CAPK]]
// CHECK: %[[A1:.*]] = arith.andi %[[C0]], %[[C1]]
// CHECK: %[[CAPV:.*]] = tensor.dim %[[PV]], %[[ONE]]
// CHECK: %[[C2:.*]] = arith.cmpi ule, %[[TOTAL0]], %[[CAPV]]
// CHECK: %[[OK:.*]] = arith.andi %[[A1]], %[[C2]]
// CHECK: cf.assert %[[OK]], "qrealign @decode: a KV cache has no room for the new positions
// CHECK-NOT: qrealign.layer
// CHECK: %[[K:[^ ]*]] = qrealign.rope rotate_half {{.*}} -> tensor<?x?x8xf32>
// CHECK: %[[TOTAL:.*]] = tensor.dim %[[MASK]], %{{.*}} : tensor<?x?xi1>
// CHECK: %[[NEW:.*]] = tensor.dim %[[K]], %{{.*}} : tensor<?x?x8xf32>
// CHECK: %[[START:.*]] = arith.subi %[[TOTAL]], %[[NEW]]
// CHECK: %[[KC:.*]] = tensor.insert_slice %[[K]] into %[[PK]][0, %[[START]], 0] [%{{.*}}, %[[NEW]], 8] [1, 1, 1]
// CHECK: %[[KV:.*]] = tensor.extract_slice %[[KC]][0, 0, 0] [%{{.*}}, %[[TOTAL]], 8] [1, 1, 1]
// CHECK: %[[VC:.*]] = tensor.insert_slice %{{.*}} into %[[PV]]
// CHECK: %[[VV:.*]] = tensor.extract_slice %[[VC]]
// CHECK: qrealign.attention %{{.*}}, %[[KV]], %[[VV]] mask %[[MASK]]
// CHECK: return %{{.*}}, %[[KC]], %[[VC]]
// CHECK-LABEL: func.func @prefill(
// CHECK-SAME: -> (tensor<?x?x16xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>)
// CHECK-NOT: tensor.insert_slice
// CHECK: %[[K2:[^ ]*]] = qrealign.rope rotate_half {{.*}} -> tensor<?x?x8xf32>
// CHECK: qrealign.attention %{{.*}}, %[[K2]], %[[V2:[^ ]*]] mask
// CHECK: return %{{.*}}, %[[K2]], %[[V2]]

// INPLACE-LABEL: func.func @decode(
// INPLACE-SAME: %{{[^:]*}}: memref<1x1xi64>, %{{[^:]*}}: memref<1x1xi64>, %{{[^:]*}}: memref<1x?xi1>, %[[PK:[^:]*]]: memref<?x?x8xf32>, %[[PV:[^:]*]]: memref<?x?x8xf32>
// INPLACE: %[[KS:.*]] = memref.subview %[[PK]][0, %{{.*}}, 0]
// INPLACE: memref.copy %{{.*}}, %[[KS]]
// INPLACE: %[[VS:.*]] = memref.subview %[[PV]][0, %{{.*}}, 0]
// INPLACE: memref.copy %{{.*}}, %[[VS]]
// INPLACE: return %{{.*}}, %[[PK]], %[[PV]] :
// INPLACE-LABEL: func.func @prefill(

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
