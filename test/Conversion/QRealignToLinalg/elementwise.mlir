// RUN: qrealign-opt %s --convert-qrealign-to-linalg | FileCheck %s

// rms_norm: a sum of squares over the last axis in f32, then
// x * rsqrt(ss / D + eps) * weight.
// CHECK-LABEL: func.func @norm
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x64xf32>, %[[W:.*]]: tensor<64xbf16>)
// CHECK: %[[SS:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[X]] : tensor<?x?x64xf32>) outs(%{{.*}} : tensor<?x?xf32>)
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: linalg.generic {{.*}} ins(%[[X]], %[[SS]], %[[W]] : tensor<?x?x64xf32>, tensor<?x?xf32>, tensor<64xbf16>) outs(%{{.*}} : tensor<?x?x64xf32>)
// CHECK-DAG: %[[D:.*]] = arith.constant 6.400000e+01 : f32
// CHECK-DAG: %[[EPS:.*]] = arith.constant 9.99999974E-6 : f32
// CHECK-DAG: %[[MEAN:.*]] = arith.divf %{{.*}}, %[[D]] : f32
// CHECK-DAG: %[[V:.*]] = arith.addf %[[MEAN]], %[[EPS]] : f32
// CHECK: math.rsqrt %[[V]] : f32
// CHECK: arith.extf %{{.*}} : bf16 to f32
func.func @norm(%x: tensor<?x?x64xf32>, %w: tensor<64xbf16>) -> tensor<?x?x64xf32> {
  %y = qrealign.rms_norm %x, %w eps = 1.0e-05 : (tensor<?x?x64xf32>, tensor<64xbf16>) -> tensor<?x?x64xf32>
  return %y : tensor<?x?x64xf32>
}

// swiglu: g / (1 + exp(-g)) * u; add: elementwise.
// CHECK-LABEL: func.func @mlp
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel"]}
// CHECK: %[[NEG:.*]] = arith.negf
// CHECK: %[[E:.*]] = math.exp %[[NEG]]
// CHECK: %[[DEN:.*]] = arith.addf %{{.*}}, %[[E]]
// CHECK: %[[SILU:.*]] = arith.divf %{{.*}}, %[[DEN]]
// CHECK: arith.mulf %[[SILU]]
// CHECK: linalg.generic
// CHECK: arith.addf
func.func @mlp(%g: tensor<?x?x16xf32>, %u: tensor<?x?x16xf32>) -> tensor<?x?x16xf32> {
  %a = qrealign.swiglu %g, %u : tensor<?x?x16xf32>
  %r = qrealign.add %a, %g : tensor<?x?x16xf32>
  return %r : tensor<?x?x16xf32>
}

// embedding: a gather of rows by id.
// CHECK-LABEL: func.func @embed
// CHECK-SAME: (%[[IDS:.*]]: tensor<?x?xi64>, %[[T:.*]]: tensor<100x8xbf16>)
// CHECK: linalg.generic {{.*}} ins(%[[IDS]] : tensor<?x?xi64>) outs(%{{.*}} : tensor<?x?x8xf32>)
// CHECK: %[[ROW:.*]] = arith.index_cast %{{.*}} : i64 to index
// CHECK: %[[COL:.*]] = linalg.index 2 : index
// CHECK: tensor.extract %[[T]][%[[ROW]], %[[COL]]] : tensor<100x8xbf16>
// CHECK: arith.extf
func.func @embed(%ids: tensor<?x?xi64>, %t: tensor<100x8xbf16>) -> tensor<?x?x8xf32> {
  %h = qrealign.embedding %ids, %t : (tensor<?x?xi64>, tensor<100x8xbf16>) -> tensor<?x?x8xf32>
  return %h : tensor<?x?x8xf32>
}

// A layer is inlined; its parameters stay qrealign.get_param (bound to
// arguments by the runtime).
// CHECK-LABEL: func.func @layer
// CHECK-NOT: qrealign.layer
// CHECK: %[[NW:.*]] = qrealign.get_param @norm_weight : tensor<8xf32>
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}}, %[[NW]] :
// CHECK-NOT: qrealign.yield
// CHECK: return
qrealign.param @norm_weight : tensor<8xf32> = dense<1.0>
func.func @layer(%h: tensor<?x?x8xf32>, %pos: tensor<?x?xi64>) -> tensor<?x?x8xf32> {
  %o = qrealign.layer 0 (%h, %pos) : (tensor<?x?x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32> {
  ^bb0(%x: tensor<?x?x8xf32>, %p: tensor<?x?xi64>):
    %w = qrealign.get_param @norm_weight : tensor<8xf32>
    %n = qrealign.rms_norm %x, %w eps = 1.0e-05 : (tensor<?x?x8xf32>, tensor<8xf32>) -> tensor<?x?x8xf32>
    %r = qrealign.add %x, %n : tensor<?x?x8xf32>
    qrealign.yield %r : tensor<?x?x8xf32>
  }
  return %o : tensor<?x?x8xf32>
}
