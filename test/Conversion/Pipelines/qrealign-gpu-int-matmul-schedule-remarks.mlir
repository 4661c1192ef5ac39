// RUN: qrealign-opt %s --qrealign-gpu-int-matmul-schedule --split-input-file -verify-diagnostics | FileCheck %s
// An integer contraction the tensor-core schedule cannot take gets a remark
// saying why and stays as it is, for qrealign-gpu-loops; other ops are not
// the schedule's concern.

#a = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k)>
#c = affine_map<(m, n, k) -> (m, n)>
func.func @odd_sizes(%a: tensor<100x256xi8>, %w: tensor<128x256xi8>, %c: tensor<100x128xi32>) -> tensor<100x128xi32> {
  %zero = arith.constant 0 : i32
  %init = linalg.fill ins(%zero : i32) outs(%c : tensor<100x128xi32>) -> tensor<100x128xi32>
  // expected-remark @below {{qrealign-gpu-int-matmul-schedule: not on tensor cores (sizes M = 100, N = 128, K = 256 are not multiples of 32); qrealign-gpu-loops maps it, one thread per output}}
  %r = linalg.generic {indexing_maps = [#a, #w, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %w : tensor<100x256xi8>, tensor<128x256xi8>) outs(%init : tensor<100x128xi32>) {
  ^bb0(%x: i8, %y: i8, %acc: i32):
    %xe = arith.extsi %x : i8 to i32
    %ye = arith.extsi %y : i8 to i32
    %p = arith.muli %xe, %ye : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  } -> tensor<100x128xi32>
  return %r : tensor<100x128xi32>
}

// -----

// CHECK-LABEL: func.func @float_op
// CHECK-NOT: gpu.launch
// CHECK: math.exp
func.func @float_op(%x: tensor<32x32xf32>) -> tensor<32x32xf32> {
  %r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<32x32xf32>) outs(%x : tensor<32x32xf32>) {
  ^bb0(%a: f32, %b: f32):
    %e = math.exp %a : f32
    linalg.yield %e : f32
  } -> tensor<32x32xf32>
  return %r : tensor<32x32xf32>
}

// -----

#a = affine_map<(m, n, k) -> (m, k)>
#wt = affine_map<(m, n, k) -> (k, n)>
#c = affine_map<(m, n, k) -> (m, n)>
func.func @k_major_weight(%a: tensor<32x32xi8>, %w: tensor<32x32xi8>, %c: tensor<32x32xi32>) -> tensor<32x32xi32> {
  %zero = arith.constant 0 : i32
  %init = linalg.fill ins(%zero : i32) outs(%c : tensor<32x32xi32>) -> tensor<32x32xi32>
  // expected-remark @below {{not on tensor cores (not a[m, k] · w[n, k] -> acc[m, n])}}
  %r = linalg.generic {indexing_maps = [#a, #wt, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %w : tensor<32x32xi8>, tensor<32x32xi8>) outs(%init : tensor<32x32xi32>) {
  ^bb0(%x: i8, %y: i8, %acc: i32):
    %xe = arith.extsi %x : i8 to i32
    %ye = arith.extsi %y : i8 to i32
    %p = arith.muli %xe, %ye : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  } -> tensor<32x32xi32>
  return %r : tensor<32x32xi32>
}

// -----

// Two groups along K: (m, n, g, k) after the unit loops go.
#a4 = affine_map<(m, n, g, k) -> (m, g, k)>
#w4 = affine_map<(m, n, g, k) -> (n, g, k)>
#c4 = affine_map<(m, n, g, k) -> (m, n, g)>
func.func @groups(%a: tensor<32x2x64xi8>, %w: tensor<32x2x64xi8>, %c: tensor<32x32x2xi32>) -> tensor<32x32x2xi32> {
  %zero = arith.constant 0 : i32
  %init = linalg.fill ins(%zero : i32) outs(%c : tensor<32x32x2xi32>) -> tensor<32x32x2xi32>
  // expected-remark @below {{not on tensor cores (4 loops, not (m, n, k): groups or a batch)}}
  %r = linalg.generic {indexing_maps = [#a4, #w4, #c4], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%a, %w : tensor<32x2x64xi8>, tensor<32x2x64xi8>) outs(%init : tensor<32x32x2xi32>) {
  ^bb0(%x: i8, %y: i8, %acc: i32):
    %xe = arith.extsi %x : i8 to i32
    %ye = arith.extsi %y : i8 to i32
    %p = arith.muli %xe, %ye : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  } -> tensor<32x32x2xi32>
  return %r : tensor<32x32x2xi32>
}

// -----

// The form convert-qrealign-to-linalg emits per channel: a leading row axis
// of extent 1 and one group. Its unit loops are dropped, and it is the
// GEMM the schedule tiles (the fill fused into the block and warp tiles).
// CHECK-LABEL: func.func @grouped_per_channel
// CHECK: gpu.launch
// CHECK: vector.contract
#ag = affine_map<(b, m, n, g, k) -> (b, m, g, k)>
#wg = affine_map<(b, m, n, g, k) -> (n, g, k)>
#cg = affine_map<(b, m, n, g, k) -> (b, m, n, g)>
func.func @grouped_per_channel(%a: tensor<1x32x1x64xi8>, %w: tensor<32x1x64xi8>) -> tensor<1x32x32x1xi32> {
  %zero = arith.constant 0 : i32
  %e = tensor.empty() : tensor<1x32x32x1xi32>
  %init = linalg.fill ins(%zero : i32) outs(%e : tensor<1x32x32x1xi32>) -> tensor<1x32x32x1xi32>
  %r = linalg.generic {indexing_maps = [#ag, #wg, #cg], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%a, %w : tensor<1x32x1x64xi8>, tensor<32x1x64xi8>) outs(%init : tensor<1x32x32x1xi32>) {
  ^bb0(%x: i8, %y: i8, %acc: i32):
    %xe = arith.extsi %x : i8 to i32
    %ye = arith.extsi %y : i8 to i32
    %p = arith.muli %xe, %ye : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  } -> tensor<1x32x32x1xi32>
  return %r : tensor<1x32x32x1xi32>
}

// -----

// One row (a decode step's linear, its row loop folded away): (n, k).
#a2 = affine_map<(n, k) -> (k)>
#w2 = affine_map<(n, k) -> (n, k)>
#c2 = affine_map<(n, k) -> (n)>
func.func @one_row(%a: tensor<64xi8>, %w: tensor<32x64xi8>, %c: tensor<32xi32>) -> tensor<32xi32> {
  %zero = arith.constant 0 : i32
  %init = linalg.fill ins(%zero : i32) outs(%c : tensor<32xi32>) -> tensor<32xi32>
  // expected-remark @below {{not on tensor cores (2 loops, not (m, n, k): one row (a matrix-vector product))}}
  %r = linalg.generic {indexing_maps = [#a2, #w2, #c2], iterator_types = ["parallel", "reduction"]} ins(%a, %w : tensor<64xi8>, tensor<32x64xi8>) outs(%init : tensor<32xi32>) {
  ^bb0(%x: i8, %y: i8, %acc: i32):
    %xe = arith.extsi %x : i8 to i32
    %ye = arith.extsi %y : i8 to i32
    %p = arith.muli %xe, %ye : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  } -> tensor<32xi32>
  return %r : tensor<32xi32>
}
