// RUN: qrealign-opt %s --convert-qrealign-to-linalg | FileCheck %s
// RUN: qrealign-opt %s --convert-qrealign-to-linalg --cse --canonicalize | FileCheck %s --check-prefix=CLEAN

// rotate_half: the last axis as [H, 2, half]; the two members of a pair are
// read through constant indices 0 and 1 of the pair axis, the frequency is
// the last loop.
// CHECK-DAG: #[[FIRST:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, 0, d4)>
// CHECK-DAG: #[[SECOND:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, 1, d4)>
// CHECK-DAG: #[[POS:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1)>
// interleaved (below): pair members at the last index.
// CHECK-DAG: #[[IFIRST:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3, 0)>
// CHECK-DAG: #[[ISECOND:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3, 1)>
// CHECK-LABEL: func.func @rope_half
// CHECK: %[[X:.*]] = tensor.expand_shape %{{.*}} {{\[}}[0], [1], [2, 3, 4]] output_shape [%{{.*}}, %{{.*}}, 2, 2, 4] : tensor<?x?x16xf32> into tensor<?x?x2x2x4xf32>
// CHECK: linalg.generic {indexing_maps = [#[[FIRST]], #[[SECOND]], #[[POS]], #{{.*}}], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]} ins(%[[X]], %[[X]], %{{.*}} :
// CHECK: %[[I:.*]] = linalg.index 4 : index
// CHECK: math.powf
// CHECK: math.cos
// CHECK: math.sin
// CHECK: %[[M:.*]] = linalg.index 3 : index
// CHECK: tensor.collapse_shape %{{.*}} {{\[}}[0], [1], [2, 3, 4]] : tensor<?x?x2x2x4xf32> into tensor<?x?x16xf32>
func.func @rope_half(%q: tensor<?x?x16xf32>, %pos: tensor<?x?xi64>) -> tensor<?x?x16xf32> {
  %r = qrealign.rope rotate_half %q, %pos head_dim = 8 theta = 1.0e+04 : (tensor<?x?x16xf32>, tensor<?x?xi64>) -> tensor<?x?x16xf32>
  return %r : tensor<?x?x16xf32>
}

// interleaved (llama2.c): [H, half, 2].
// CHECK-LABEL: func.func @rope_interleaved
// CHECK: tensor.expand_shape %{{.*}} output_shape [%{{.*}}, %{{.*}}, 2, 4, 2]
// CHECK: linalg.generic {indexing_maps = [#[[IFIRST]], #[[ISECOND]],
// CHECK: linalg.index 3 : index
// CHECK: linalg.index 4 : index
func.func @rope_interleaved(%q: tensor<?x?x16xf32>, %pos: tensor<?x?xi64>) -> tensor<?x?x16xf32> {
  %r = qrealign.rope interleaved %q, %pos head_dim = 8 theta = 1.0e+04 : (tensor<?x?x16xf32>, tensor<?x?xi64>) -> tensor<?x?x16xf32>
  return %r : tensor<?x?x16xf32>
}

// Grouped-query attention, 4 query heads on 2 key/value heads: queries as
// [B, Sq, 2, 2, 8], keys and values as [B, Sk, 2, 8]; scores [B, 2, 2, Sq,
// Sk]; causal and padding masks; softmax; the weighted sum of values.
// CHECK-LABEL: func.func @gqa
// CHECK-SAME: (%[[Q:.*]]: tensor<?x?x32xf32>, %[[K:.*]]: tensor<?x?x16xf32>, %[[V:.*]]: tensor<?x?x16xf32>, %[[MASK:.*]]: tensor<?x?xi1>)
// CHECK: %[[Q5:.*]] = tensor.expand_shape %[[Q]] {{.*}} into tensor<?x?x2x2x8xf32>
// CHECK: %[[K4:.*]] = tensor.expand_shape %[[K]] {{.*}} into tensor<?x?x2x8xf32>
// CHECK: %[[V4:.*]] = tensor.expand_shape %[[V]] {{.*}} into tensor<?x?x2x8xf32>
// CHECK: %[[RAW:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%[[Q5]], %[[K4]] : tensor<?x?x2x2x8xf32>, tensor<?x?x2x8xf32>) outs(%{{.*}} : tensor<?x2x2x?x?xf32>)
// CHECK: %[[OFF:.*]] = arith.subi
// CHECK: %[[S:.*]] = linalg.generic {{.*}} ins(%[[RAW]], %[[MASK]] : tensor<?x2x2x?x?xf32>, tensor<?x?xi1>)
// CHECK: arith.mulf %{{.*}}, %{{.*}} : f32
// CHECK: %[[J:.*]] = linalg.index 4 : index
// CHECK: %[[LIM:.*]] = arith.addi %{{.*}}, %[[OFF]] : index
// CHECK: arith.cmpi sle, %[[J]], %[[LIM]] : index
// CHECK: arith.andi
// The lowest float masks, as the engine does (a fully masked row becomes
// uniform, not NaN).
// CHECK: arith.constant -3.40282347E+38 : f32
// CHECK: arith.select %{{.*}}, %{{.*}}, %{{.*}} : f32
// CHECK: %[[MAX:.*]] = linalg.generic {{.*}} ins(%[[S]] : tensor<?x2x2x?x?xf32>) outs(%{{.*}} : tensor<?x2x2x?xf32>)
// CHECK: arith.maximumf
// CHECK: %[[E:.*]]:2 = linalg.generic {{.*}} ins(%[[S]], %[[MAX]] :
// CHECK: math.exp
// CHECK: %[[O:.*]] = linalg.generic {{.*}} ins(%[[E]]#0, %[[E]]#1, %[[V4]] : tensor<?x2x2x?x?xf32>, tensor<?x2x2x?xf32>, tensor<?x?x2x8xf32>) outs(%{{.*}} : tensor<?x?x2x2x8xf32>)
// CHECK: arith.divf
// CHECK: tensor.collapse_shape %[[O]] {{\[}}[0], [1], [2, 3, 4]] : tensor<?x?x2x2x8xf32> into tensor<?x?x32xf32>
// CLEAN-LABEL: func.func @gqa
// CLEAN: math.exp
func.func @gqa(%q: tensor<?x?x32xf32>, %k: tensor<?x?x16xf32>, %v: tensor<?x?x16xf32>, %m: tensor<?x?xi1>) -> tensor<?x?x32xf32> {
  %o = qrealign.attention %q, %k, %v mask %m heads = 4 kv_heads = 2 head_dim = 8 scale = 0.35355339059327379 causal : (tensor<?x?x32xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<?x?xi1>) -> tensor<?x?x32xf32>
  return %o : tensor<?x?x32xf32>
}

// Without causal and mask: no select.
// CHECK-LABEL: func.func @full
// CHECK-NOT: arith.select
// CHECK: return
func.func @full(%q: tensor<1x3x8xf32>, %k: tensor<1x5x8xf32>, %v: tensor<1x5x8xf32>) -> tensor<1x3x8xf32> {
  %o = qrealign.attention %q, %k, %v heads = 1 kv_heads = 1 head_dim = 8 scale = 0.5 : (tensor<1x3x8xf32>, tensor<1x5x8xf32>, tensor<1x5x8xf32>) -> tensor<1x3x8xf32>
  return %o : tensor<1x3x8xf32>
}

// fake_quantize of Q at 8 bits per token and head (dynamic, asymmetric):
// ranges per group of 8 of the last axis, then (level - z) * s.
// CHECK-LABEL: func.func @qk8
// CHECK: %[[G:.*]] = tensor.expand_shape %{{.*}} {{\[}}[0], [1], [2, 3]] output_shape [%{{.*}}, %{{.*}}, 4, 8] : tensor<?x?x32xf32> into tensor<?x?x4x8xf32>
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%[[G]] : tensor<?x?x4x8xf32>)
// CHECK: math.roundeven
// CHECK: %[[L:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<?x?x4x8xi8>)
// CHECK: linalg.generic {{.*}} ins(%[[L]], %{{.*}}, %{{.*}} : tensor<?x?x4x8xi8>, tensor<?x?x4xf32>, tensor<?x?x4xi32>)
// CHECK: arith.subi
// CHECK: arith.sitofp
// CHECK: tensor.collapse_shape %{{.*}} {{\[}}[0], [1], [2, 3]] : tensor<?x?x4x8xf32> into tensor<?x?x32xf32>
func.func @qk8(%q: tensor<?x?x32xf32>) -> tensor<?x?x32xf32> {
  %r = qrealign.fake_quantize %q bits = 8 per_group group_size = 8 : (tensor<?x?x32xf32>) -> tensor<?x?x32xf32>
  return %r : tensor<?x?x32xf32>
}
