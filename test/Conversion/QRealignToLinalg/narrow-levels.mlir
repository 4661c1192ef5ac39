// RUN: qrealign-opt %s --convert-qrealign-to-linalg=narrow-levels=true | FileCheck %s
// Upstream clean-up keeps the lowered IR valid, and the CPU pipeline (which
// sets narrow-levels) binds the levels to their bytes all the way to LLVM.
// RUN: qrealign-opt %s --convert-qrealign-to-linalg=narrow-levels=true --cse --canonicalize -o /dev/null
// RUN: qrealign-opt %s --qrealign-lower-to-cpu | FileCheck %s --check-prefix=LLVM
// RUN: qrealign-opt %s --qrealign-lower-to-cpu=vectorize=false | FileCheck %s --check-prefix=LLVM

// Nibble-pair storage [N, K / 2] read as its levels, i4 [N, K]: a view of
// the same bytes (flattened), level 2c the low nibble of byte c.
// CHECK-DAG: #[[X:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d2, d3)>
// CHECK-DAG: #[[Q:.*]] = affine_map<(d0, d1, d2, d3) -> (d1, d2, d3)>
// CHECK-DAG: #[[S:.*]] = affine_map<(d0, d1, d2, d3) -> (d1, d2)>
// CHECK-DAG: #[[Y:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1)>
// CHECK-DAG: #[[ID3:.*]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>

// A weight-only linear, few rows: one contraction over the levels, loops
// (m, n, g, k), x read as [M, G, K / G]; the level is the nibble less 8.
// CHECK-LABEL: func.func @w4a16
// CHECK-SAME: (%[[IN:.*]]: tensor<?x128xf32>, %[[P:.*]]: tensor<32x64xui8>, %[[SC:.*]]: tensor<32x2xf32>, %[[ZP:.*]]: tensor<32x2xi8>)
// CHECK-DAG: %[[EIGHT:.*]] = arith.constant 8 : i32
// CHECK: scf.if
// CHECK: %[[XG:.*]] = tensor.expand_shape %[[IN]] {{\[}}[0], [1, 2]] output_shape [%{{.*}}, 2, 64] : tensor<?x128xf32> into tensor<?x2x64xf32>
// CHECK: %[[SIGNLESS:.*]] = tensor.bitcast %[[P]] : tensor<32x64xui8> to tensor<32x64xi8>
// CHECK: %[[BUF:.*]] = bufferization.to_buffer %[[SIGNLESS]] read_only : tensor<32x64xi8> to memref<32x64xi8>
// CHECK: %[[FLAT:.*]] = memref.collapse_shape %[[BUF]] {{\[}}[0, 1]] : memref<32x64xi8> into memref<2048xi8>
// CHECK: %[[VIEW:.*]] = memref.view %[[FLAT]][%{{.*}}][] : memref<2048xi8> to memref<32x128xi4>
// CHECK: %[[LEVELS:.*]] = bufferization.to_tensor %[[VIEW]] restrict : memref<32x128xi4> to tensor<32x128xi4>
// CHECK: %[[QG:.*]] = tensor.expand_shape %[[LEVELS]] {{\[}}[0], [1, 2]] output_shape [32, 2, 64] : tensor<32x128xi4> into tensor<32x2x64xi4>
// CHECK: linalg.generic {indexing_maps = [#[[X]], #[[Q]], #[[S]], #[[S]], #[[Y]]], iterator_types = ["parallel", "parallel", "reduction", "reduction"]} ins(%[[XG]], %[[QG]], %[[SC]], %[[ZP]] : tensor<?x2x64xf32>, tensor<32x2x64xi4>, tensor<32x2xf32>, tensor<32x2xi8>)
// CHECK-NEXT: ^bb0(%[[XV:.*]]: f32, %[[QV:.*]]: i4, %[[SV:.*]]: f32, %[[ZV:.*]]: i8, %[[ACC:.*]]: f32):
// CHECK-NEXT: %[[U:.*]] = arith.extui %[[QV]] : i4 to i32
// CHECK-NEXT: %[[L:.*]] = arith.subi %[[U]], %[[EIGHT]] : i32
// CHECK-NEXT: %[[Z:.*]] = arith.extsi %[[ZV]] : i8 to i32
// CHECK-NEXT: %[[LZ:.*]] = arith.subi %[[L]], %[[Z]] : i32
// CHECK-NEXT: %[[F:.*]] = arith.sitofp %[[LZ]] : i32 to f32
// CHECK-NEXT: %[[W:.*]] = arith.mulf %[[F]], %[[SV]] : f32
// CHECK-NEXT: %[[P2:.*]] = arith.mulf %[[XV]], %[[W]] : f32
// CHECK-NEXT: arith.addf %[[ACC]], %[[P2]] : f32
// More rows: the weight dequantized from the levels (loops (n, g, k)),
// then a float contraction on x as it is (no de-interleaving).
// CHECK: } else {
// CHECK: memref.view {{.*}} : memref<2048xi8> to memref<32x128xi4>
// CHECK: %[[DQ:.*]] = linalg.generic {indexing_maps = [#[[ID3]], {{.*}}], iterator_types = ["parallel", "parallel", "parallel"]} ins(%{{.*}}, %[[SC]], %[[ZP]] : tensor<32x2x64xi4>, tensor<32x2xf32>, tensor<32x2xi8>) outs(%{{.*}} : tensor<32x2x64xf32>)
// CHECK: arith.extui %{{.*}} : i4 to i32
// CHECK: %[[WT:.*]] = tensor.collapse_shape %[[DQ]] {{\[}}[0], [1, 2]] : tensor<32x2x64xf32> into tensor<32x128xf32>
// CHECK: linalg.generic {{.*}} ins(%[[IN]], %[[WT]] : tensor<?x128xf32>, tensor<32x128xf32>)
// CHECK-NOT: qrealign.
// CHECK: return
// LLVM-LABEL: llvm.func @w4a16
// LLVM-NOT: -> i4
// LLVM: llvm.return
func.func @w4a16(%x: tensor<?x128xf32>, %p: tensor<32x64xui8>, %s: tensor<32x2xf32>, %z: tensor<32x2xi8>) -> tensor<?x32xf32> {
  %w = qrealign.dequantize %p, %s zero_point %z bits = 4 : (tensor<32x64xui8>, tensor<32x2xf32>, tensor<32x2xi8>) -> tensor<32x128xf32>
  %y = qrealign.linear "q_proj" %x, %w {quant = #qrealign.quant<w_bits = 4, granularity = per_group, group_size = 64>} : (tensor<?x128xf32>, tensor<32x128xf32>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// A dequantization alone, symmetric, rounded to bf16.
// CHECK-LABEL: func.func @dequantize
// CHECK: memref.view {{.*}} : memref<2048xi8> to memref<32x128xi4>
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<32x2x64xi4>, tensor<32x2xf32>) outs(%{{.*}} : tensor<32x2x64xbf16>)
// CHECK: arith.extui %{{.*}} : i4 to i32
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// LLVM-LABEL: llvm.func @dequantize
// LLVM-NOT: -> i4
// LLVM: llvm.return
func.func @dequantize(%p: tensor<32x64xui8>, %s: tensor<32x2xf32>) -> tensor<32x128xbf16> {
  %w = qrealign.dequantize %p, %s bits = 4 : (tensor<32x64xui8>, tensor<32x2xf32>) -> tensor<32x128xbf16>
  return %w : tensor<32x128xbf16>
}

// compressed-tensors' words are not nibble pairs: still read as units.
// CHECK-LABEL: func.func @w4a16_words
// CHECK-NOT: memref.view
// CHECK-NOT: xi4>
// CHECK: arith.shrui
// CHECK: return
func.func @w4a16_words(%x: tensor<2x64xf32>, %p: tensor<10x8xi32>, %s: tensor<10x2xbf16>) -> tensor<2x10xf32> {
  %w = qrealign.dequantize %p, %s bits = 4 : (tensor<10x8xi32>, tensor<10x2xbf16>) -> tensor<10x64xbf16>
  %y = qrealign.linear "q_proj" %x, %w {quant = #qrealign.quant<w_bits = 4, granularity = per_group, group_size = 32>} : (tensor<2x64xf32>, tensor<10x64xbf16>) -> tensor<2x10xf32>
  return %y : tensor<2x10xf32>
}
