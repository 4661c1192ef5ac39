// RUN: qrealign-opt %s --pass-pipeline='builtin.module(func.func(convert-qrealign-to-linalg),canonicalize,cse,qrealign-cpu-vectorize)' | FileCheck %s
// Upstream clean-up keeps the result valid, and the whole CPU pipeline, with
// and without vectorization, reaches LLVM.
// RUN: qrealign-opt %s --pass-pipeline='builtin.module(func.func(convert-qrealign-to-linalg),canonicalize,cse,qrealign-cpu-vectorize,cse,canonicalize)' -o /dev/null
// RUN: qrealign-opt %s --qrealign-lower-to-cpu | FileCheck %s --check-prefix=LLVM
// RUN: qrealign-opt %s --qrealign-lower-to-cpu=vectorize=false | FileCheck %s --check-prefix=SCALAR

// A float linear: 8 output channels per tile, the reduction in steps of 8
// with an 8 x 8 accumulator carried in registers, one reduction of the 8
// lanes per output at the end. The loop over the 8 channels is outside the
// loop over tokens, so that their [8, K] weight rows stay in cache for all
// tokens (the interchange: [n, m, k]).
// CHECK-LABEL: func.func @float_linear
// CHECK: %[[ZERO:.*]] = arith.constant dense<0.000000e+00> : vector<8x1x8xf32>
// CHECK: scf.for {{.*}} = %c0 to %c32 step %c8
// CHECK: scf.for {{.*}} = %c0 to %{{.*}} step %c1
// CHECK: scf.for {{.*}} = %c0 to %c64 step %c8 iter_args(%{{.*}} = %[[ZERO]]) -> (vector<8x1x8xf32>)
// CHECK: vector.transfer_read {{.*}} : tensor<8x8xbf16>, vector<8x8xbf16>
// CHECK: arith.mulf {{.*}} : vector<8x1x8xf32>
// CHECK: arith.addf {{.*}} : vector<8x1x8xf32>
// CHECK-COUNT-8: vector.reduction <add>, {{.*}} : vector<8xf32> into f32
// CHECK-NOT: linalg.generic {{.*}}"reduction"]
// CHECK: return
// LLVM-LABEL: llvm.func @float_linear
// LLVM: llvm.fmul {{.*}} : vector<8xf32>
// LLVM: llvm.intr.vector.reduce.fadd
// SCALAR-LABEL: llvm.func @float_linear
// SCALAR-NOT: vector<
// SCALAR: llvm.return
func.func @float_linear(%x: tensor<?x64xf32>, %w: tensor<32x64xbf16>) -> tensor<?x32xf32> {
  %y = qrealign.linear "q_proj" %x, %w : (tensor<?x64xf32>, tensor<32x64xbf16>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// The i8 contraction of W8A8: the scale-group loop (extent 1) is passed
// over, 8 output channels per tile, outside the tokens, i32 partial sums
// (exact).
// CHECK-LABEL: func.func @w8a8
// CHECK: scf.for {{.*}} = %c0 to %c32 step %c8
// CHECK: scf.for {{.*}} = %c0 to %{{.*}} step %c1
// CHECK: scf.for {{.*}} = %c0 to %c64 step %c8 iter_args({{.*}}) -> (vector<8x1x1x8xi32>)
// CHECK: arith.extsi {{.*}} : vector<8x1x1x8xi8> to vector<8x1x1x8xi32>
// CHECK: arith.muli {{.*}} : vector<8x1x1x8xi32>
// CHECK: arith.addi {{.*}} : vector<8x1x1x8xi32>
// CHECK: vector.reduction <add>, {{.*}} : vector<8xi32> into i32
func.func @w8a8(%x: tensor<?x64xf32>, %p: tensor<32x64xi8>, %s: tensor<32x1xf32>) -> tensor<?x32xf32> {
  %w = qrealign.dequantize %p, %s bits = 8 : (tensor<32x64xi8>, tensor<32x1xf32>) -> tensor<32x64xf32>
  %y = qrealign.linear "q_proj" %x, %w {quant = #qrealign.quant<w_bits = 8, a_bits = 8, symmetric = true>} : (tensor<?x64xf32>, tensor<32x64xf32>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// A W4A16 linear over packed bytes (g64: 32 bytes per group): the units
// loop innermost, 8 bytes per lane vector and 8 output channels per tile;
// the nibble (loop j) shifted out of all lanes alike.
// CHECK-LABEL: func.func @w4a16
// CHECK: scf.for {{.*}} = %c0 to %c32 step %c8 iter_args({{.*}}) -> (vector<1x8x8xf32>)
// CHECK: vector.transfer_read {{.*}} : tensor<1x1x8x1xf32>, vector<1x1x8x1xf32>
// CHECK: vector.transfer_read {{.*}} : tensor<8x1x8xi8>, vector<8x1x8xi8>
// CHECK: arith.extui {{.*}} : vector<1x8x1x1x8xi8> to vector<1x8x1x1x8xi32>
// CHECK: arith.shrui {{.*}} : vector<1x8x1x1x8xi32>
// CHECK: arith.sitofp {{.*}} to vector<1x8x1x1x8xf32>
// CHECK: vector.reduction <add>, {{.*}} : vector<8xf32> into f32
// LLVM-LABEL: llvm.func @w4a16
// LLVM: llvm.lshr {{.*}} : vector<8xi32>
// LLVM: llvm.intr.vector.reduce.fadd
func.func @w4a16(%x: tensor<?x128xf32>, %p: tensor<32x64xui8>, %s: tensor<32x2xf32>, %z: tensor<32x2xi8>) -> tensor<?x32xf32> {
  %w = qrealign.dequantize %p, %s zero_point %z bits = 4 : (tensor<32x64xui8>, tensor<32x2xf32>, tensor<32x2xi8>) -> tensor<32x128xf32>
  %y = qrealign.linear "q_proj" %x, %w {quant = #qrealign.quant<w_bits = 4, granularity = per_group, group_size = 64>} : (tensor<?x128xf32>, tensor<32x128xf32>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// A reduction extent that is not a multiple of 8 stays a linalg op (loops
// later).
// CHECK-LABEL: func.func @odd
// CHECK-NOT: vector<
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK-NOT: vector<
// CHECK: return
func.func @odd(%x: tensor<?x60xf32>, %w: tensor<30x60xf32>) -> tensor<?x30xf32> {
  %y = qrealign.linear "q_proj" %x, %w : (tensor<?x60xf32>, tensor<30x60xf32>) -> tensor<?x30xf32>
  return %y : tensor<?x30xf32>
}
