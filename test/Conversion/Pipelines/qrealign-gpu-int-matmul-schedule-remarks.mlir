// RUN: qrealign-opt %s --qrealign-gpu-int-matmul-schedule --split-input-file -verify-diagnostics

#a = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k)>
#c = affine_map<(m, n, k) -> (m, n)>
func.func @odd_sizes(%a: tensor<100x256xi8>, %w: tensor<128x256xi8>, %c: tensor<100x128xi32>) -> tensor<100x128xi32> {
  %zero = arith.constant 0 : i32
  %init = linalg.fill ins(%zero : i32) outs(%c : tensor<100x128xi32>) -> tensor<100x128xi32>
  // expected-error @below {{qrealign-gpu-int-matmul-schedule: no GPU schedule for this op yet (the W8A8 i8 x i8 -> i32 and the W4A16 packed contractions only): sizes M = 100, N = 128, K = 256 are not multiples of 32}}
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

func.func @float_op(%x: tensor<32x32xf32>) -> tensor<32x32xf32> {
  // expected-error @below {{no GPU schedule for this op yet (the W8A8 i8 x i8 -> i32 and the W4A16 packed contractions only): not a contraction of two operands over one reduction}}
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
  // expected-error @below {{not a[m, k] · w[n, k] -> acc[m, n]}}
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
