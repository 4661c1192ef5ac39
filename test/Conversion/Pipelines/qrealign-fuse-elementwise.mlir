// RUN: qrealign-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(convert-qrealign-to-linalg,qrealign-fuse-elementwise))' | FileCheck %s
// The qrealign functions are lowered first (the functions in linalg are
// left as they are). Upstream's fusion, for contrast: it fuses the
// producers kept apart here.
// RUN: qrealign-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(convert-qrealign-to-linalg,linalg-fuse-elementwise-ops))' | FileCheck %s --check-prefix=UPSTREAM
// Upstream clean-up keeps the result valid.
// RUN: qrealign-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(convert-qrealign-to-linalg,qrealign-fuse-elementwise),cse,canonicalize)' -o /dev/null

// A producer read through a permutation (one element per iteration) is
// fused, as upstream.
// CHECK-LABEL: func.func @chain
// CHECK: linalg.generic
// CHECK: math.exp
// CHECK: arith.mulf
// CHECK-NOT: linalg.generic
// CHECK: return
#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @chain(%a: tensor<4x8xf32>, %b: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %e = tensor.empty() : tensor<4x8xf32>
  %p = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%a : tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%i: f32, %o: f32):
    %v = math.exp %i : f32
    linalg.yield %v : f32
  } -> tensor<4x8xf32>
  %c = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%p, %b : tensor<4x8xf32>, tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%i: f32, %j: f32, %o: f32):
    %v = arith.mulf %i, %j : f32
    linalg.yield %v : f32
  } -> tensor<4x8xf32>
  return %c : tensor<4x8xf32>
}

// -----

// A producer a contraction reads through a projection (x[m, k] from loops
// (m, n, k)) stays its own op: fused, it would run once per output channel.
// CHECK-LABEL: func.func @into_contraction
// CHECK: %[[P:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]} ins(%{{.*}} : tensor<4x16xf32>)
// CHECK: math.exp
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[P]], %{{.*}} : tensor<4x16xf32>, tensor<8x16xf32>)
// CHECK-NOT: math.exp
// CHECK: return
// UPSTREAM-LABEL: func.func @into_contraction
// UPSTREAM: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]}
// UPSTREAM: math.exp
#id = affine_map<(d0, d1) -> (d0, d1)>
#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k)>
#o = affine_map<(m, n, k) -> (m, n)>
func.func @into_contraction(%a: tensor<4x16xf32>, %w: tensor<8x16xf32>) -> tensor<4x8xf32> {
  %e = tensor.empty() : tensor<4x16xf32>
  %p = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%a : tensor<4x16xf32>) outs(%e : tensor<4x16xf32>) {
  ^bb0(%i: f32, %o: f32):
    %v = math.exp %i : f32
    linalg.yield %v : f32
  } -> tensor<4x16xf32>
  %z = arith.constant 0.0 : f32
  %e2 = tensor.empty() : tensor<4x8xf32>
  %f = linalg.fill ins(%z : f32) outs(%e2 : tensor<4x8xf32>) -> tensor<4x8xf32>
  %y = linalg.generic {indexing_maps = [#x, #w, #o], iterator_types = ["parallel", "parallel", "reduction"]} ins(%p, %w : tensor<4x16xf32>, tensor<8x16xf32>) outs(%f : tensor<4x8xf32>) {
  ^bb0(%i: f32, %j: f32, %o: f32):
    %m = arith.mulf %i, %j : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}

// -----

// A reshape is not folded into a contraction by expanding its loops: the
// linear keeps its [m, n, k] (upstream splits k into the weight's [8, 2]).
// Into an elementwise op it is, as upstream.
// CHECK-LABEL: func.func @reshape
// CHECK: %[[W:.*]] = tensor.collapse_shape %{{.*}} {{\[}}[0], [1, 2]] : tensor<8x8x2xf32> into tensor<8x16xf32>
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%{{.*}}, %[[W]] : tensor<4x16xf32>, tensor<8x16xf32>)
// CHECK: return
// UPSTREAM-LABEL: func.func @reshape
// UPSTREAM: iterator_types = ["parallel", "parallel", "reduction", "reduction"]
#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k)>
#o = affine_map<(m, n, k) -> (m, n)>
func.func @reshape(%a: tensor<4x16xf32>, %w3: tensor<8x8x2xf32>) -> tensor<4x8xf32> {
  %w = tensor.collapse_shape %w3 [[0], [1, 2]] : tensor<8x8x2xf32> into tensor<8x16xf32>
  %z = arith.constant 0.0 : f32
  %e2 = tensor.empty() : tensor<4x8xf32>
  %f = linalg.fill ins(%z : f32) outs(%e2 : tensor<4x8xf32>) -> tensor<4x8xf32>
  %y = linalg.generic {indexing_maps = [#x, #w, #o], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %w : tensor<4x16xf32>, tensor<8x16xf32>) outs(%f : tensor<4x8xf32>) {
  ^bb0(%i: f32, %j: f32, %o: f32):
    %m = arith.mulf %i, %j : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}

// -----

// CHECK-LABEL: func.func @reshape_elementwise
// CHECK-NOT: tensor.collapse_shape
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel"]} ins(%{{.*}} : tensor<4x8x2xf32>)
// CHECK: tensor.collapse_shape
// CHECK: return
#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @reshape_elementwise(%a3: tensor<4x8x2xf32>) -> tensor<4x16xf32> {
  %a = tensor.collapse_shape %a3 [[0], [1, 2]] : tensor<4x8x2xf32> into tensor<4x16xf32>
  %e = tensor.empty() : tensor<4x16xf32>
  %p = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%a : tensor<4x16xf32>) outs(%e : tensor<4x16xf32>) {
  ^bb0(%i: f32, %o: f32):
    %v = math.exp %i : f32
    linalg.yield %v : f32
  } -> tensor<4x16xf32>
  return %p : tensor<4x16xf32>
}

// -----

// SwiGLU before down_proj: silu(gate) · up computed once per element, not
// once per element and output channel (an exponential per weight).
// CHECK-LABEL: func.func @swiglu_down
// CHECK: %[[S:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]}
// CHECK: math.exp
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[S]], %{{.*}} : tensor<4x32xf32>, tensor<16x32xf32>)
// CHECK-NOT: math.exp
// CHECK: return
// UPSTREAM-LABEL: func.func @swiglu_down
// UPSTREAM: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]}
// UPSTREAM: math.exp
func.func @swiglu_down(%g: tensor<4x32xf32>, %u: tensor<4x32xf32>, %w: tensor<16x32xf32>) -> tensor<4x16xf32> {
  %s = qrealign.swiglu %g, %u : tensor<4x32xf32>
  %l = qrealign.linear "down_proj" %s, %w : (tensor<4x32xf32>, tensor<16x32xf32>) -> tensor<4x16xf32>
  return %l : tensor<4x16xf32>
}

// -----

// W8A8: the per-token activation quantization (a division, a rounding, a
// clamp) stays out of the i8 x i8 -> i32 contraction, which reads its
// levels.
// CHECK-LABEL: func.func @w8a8
// CHECK: %[[QA:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<4x1x64xi8>)
// CHECK: math.roundeven
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%[[QA]], %{{.*}} : tensor<4x1x64xi8>, tensor<32x1x64xi8>)
// CHECK-NEXT: ^bb0(%{{.*}}: i8, %{{.*}}: i8, %{{.*}}: i32):
// CHECK-NEXT: arith.extsi
// CHECK-NEXT: arith.extsi
// CHECK-NEXT: arith.muli
// CHECK-NEXT: arith.addi
// CHECK: return
// UPSTREAM-LABEL: func.func @w8a8
// UPSTREAM: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
// UPSTREAM: math.roundeven
func.func @w8a8(%x: tensor<4x64xf32>, %p: tensor<32x64xi8>, %s: tensor<32x1xf32>) -> tensor<4x32xf32> {
  %w = qrealign.dequantize %p, %s bits = 8 : (tensor<32x64xi8>, tensor<32x1xf32>) -> tensor<32x64xf32>
  %y = qrealign.linear "q_proj" %x, %w {quant = #qrealign.quant<w_bits = 8, a_bits = 8, symmetric = true>} : (tensor<4x64xf32>, tensor<32x64xf32>) -> tensor<4x32xf32>
  return %y : tensor<4x32xf32>
}

// -----

// A reshaped operand read through a projection (a weight's zero points,
// [N, G] unpacked from words as [N / 8, 8, G]) does not split the loops of
// the op it feeds: the dequantization keeps its row loop (which
// qrealign-cpu-vectorize slices 8 rows at a time). Upstream splits it.
// CHECK-LABEL: func.func @reshape_small_operand
// CHECK: %[[Z:.*]] = tensor.collapse_shape %{{.*}} {{\[}}[0, 1], [2]] : tensor<4x8x2xi8> into tensor<32x2xi8>
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel"]} ins(%{{.*}}, %[[Z]] : tensor<32x2x16xi8>, tensor<32x2xi8>) outs(%{{.*}} : tensor<32x2x16xf32>)
// CHECK: return
// UPSTREAM-LABEL: func.func @reshape_small_operand
// UPSTREAM: linalg.generic {{.*}} outs(%{{.*}} : tensor<4x8x2x16xf32>)
#q = affine_map<(n, g, j) -> (n, g, j)>
#z = affine_map<(n, g, j) -> (n, g)>
func.func @reshape_small_operand(%q: tensor<32x2x16xi8>, %z3: tensor<4x8x2xi8>) -> tensor<32x2x16xf32> {
  %z = tensor.collapse_shape %z3 [[0, 1], [2]] : tensor<4x8x2xi8> into tensor<32x2xi8>
  %e = tensor.empty() : tensor<32x2x16xf32>
  %w = linalg.generic {indexing_maps = [#q, #z, #q], iterator_types = ["parallel", "parallel", "parallel"]} ins(%q, %z : tensor<32x2x16xi8>, tensor<32x2xi8>) outs(%e : tensor<32x2x16xf32>) {
  ^bb0(%a: i8, %b: i8, %o: f32):
    %d = arith.subi %a, %b : i8
    %f = arith.sitofp %d : i8 to f32
    linalg.yield %f : f32
  } -> tensor<32x2x16xf32>
  return %w : tensor<32x2x16xf32>
}
