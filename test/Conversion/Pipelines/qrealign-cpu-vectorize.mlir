// The tiles are pinned (2 tokens x 8 outputs x 8 lanes): their default
// depends on the host (tile-rows=0 lanes=0).
// RUN: qrealign-opt %s --pass-pipeline='builtin.module(func.func(convert-qrealign-to-linalg),canonicalize,cse,qrealign-cpu-vectorize{tile-rows=2 lanes=8})' | FileCheck %s
// Upstream clean-up keeps the result valid, and the whole CPU pipeline, with
// and without vectorization, reaches LLVM, with the pinned tiles and the
// host's.
// RUN: qrealign-opt %s --pass-pipeline='builtin.module(func.func(convert-qrealign-to-linalg),canonicalize,cse,qrealign-cpu-vectorize,cse,canonicalize)' -o /dev/null
// RUN: qrealign-opt %s --qrealign-lower-to-cpu -o /dev/null
// RUN: qrealign-opt %s --qrealign-lower-to-cpu="tile-rows=2 lanes=8" | FileCheck %s --check-prefix=LLVM
// No i4 value is loaded from memory: every load is of whole bytes.
// RUN: qrealign-opt %s --qrealign-lower-to-cpu | FileCheck %s --check-prefix=NOI4
// NOI4-NOT: xi4>
// NOI4-NOT: -> i4
// Nibble storage read as i4 levels (what qrealign-lower-to-cpu does).
// RUN: qrealign-opt %s --pass-pipeline='builtin.module(func.func(convert-qrealign-to-linalg{narrow-levels=true}),canonicalize,cse,qrealign-cpu-vectorize{tile-rows=2 lanes=8})' | FileCheck %s --check-prefix=NARROW
// RUN: qrealign-opt %s --qrealign-lower-to-cpu=vectorize=false | FileCheck %s --check-prefix=SCALAR
// One token per tile (no register blocking).
// RUN: qrealign-opt %s --pass-pipeline='builtin.module(func.func(convert-qrealign-to-linalg),canonicalize,cse,qrealign-cpu-vectorize{tile-rows=1 lanes=8})' | FileCheck %s --check-prefix=ROWS1
// 3 tokens per tile and partial sums of 16 lanes (the tiles for a host with
// AVX-512): 16 static tokens are 5 tiles of 3, then the last token alone.
// RUN: qrealign-opt %s --pass-pipeline='builtin.module(func.func(convert-qrealign-to-linalg),canonicalize,cse,qrealign-cpu-vectorize{tile-rows=3 lanes=16})' | FileCheck %s --check-prefix=LANES16

// A float linear: 8 output channels and 2 tokens per tile, the reduction in
// steps of 8 with an 8 x 2 x 8 accumulator carried in registers (each
// weight vector loaded once for both tokens), one fused multiply-add per
// step, one reduction of the 8 lanes per output at the end. The loop over
// the 8 channels is outside the loop over tokens, so that their [8, K]
// weight rows stay in cache for all tokens (the interchange: [n, m, k]).
// The token count is dynamic: the pairs run first, then the last token (if
// any) alone, one token per tile.
// CHECK-LABEL: func.func @float_linear
// CHECK: %[[ONE:.*]] = arith.constant dense<0.000000e+00> : vector<8x1x8xf32>
// CHECK: %[[TWO:.*]] = arith.constant dense<0.000000e+00> : vector<8x2x8xf32>
// CHECK: %[[M:.*]] = tensor.dim %arg0, %c0
// CHECK: scf.for {{.*}} = %c0 to %c32 step %c8
// CHECK: %[[PAIRS:.*]] = affine.apply #{{.*}}()[%[[M]]]
// CHECK: scf.for {{.*}} = %c0 to %[[PAIRS]] step %c2
// CHECK: scf.for {{.*}} = %c0 to %c64 step %c8 iter_args(%{{.*}} = %[[TWO]]) -> (vector<8x2x8xf32>)
// CHECK: vector.transfer_read {{.*}} : tensor<2x8xf32>, vector<2x8xf32>
// CHECK: vector.transfer_read {{.*}} : tensor<8x8xbf16>, vector<8x8xbf16>
// CHECK-NOT: arith.mulf
// CHECK: vector.fma {{.*}} : vector<8x2x8xf32>
// CHECK-COUNT-16: vector.reduction <add>, {{.*}} : vector<8xf32> into f32
// CHECK: scf.for {{.*}} = %[[PAIRS]] to %[[M]] step %c2
// CHECK: scf.for {{.*}} step %c1
// CHECK: scf.for {{.*}} = %c0 to %c64 step %c8 iter_args(%{{.*}} = %[[ONE]]) -> (vector<8x1x8xf32>)
// CHECK: vector.fma {{.*}} : vector<8x1x8xf32>
// CHECK-COUNT-8: vector.reduction <add>, {{.*}} : vector<8xf32> into f32
// CHECK-NOT: linalg.generic {{.*}}"reduction"]
// CHECK: return
// ROWS1-LABEL: func.func @float_linear
// ROWS1-NOT: vector<8x2x8xf32>
// ROWS1: scf.for {{.*}} = %c0 to %c32 step %c8
// ROWS1: scf.for {{.*}} = %c0 to %{{.*}} step %c1
// ROWS1: scf.for {{.*}} = %c0 to %c64 step %c8 iter_args({{.*}}) -> (vector<8x1x8xf32>)
// ROWS1-NOT: vector<8x2x8xf32>
// ROWS1: return
// LANES16-LABEL: func.func @float_linear
// LANES16: scf.for {{.*}} step %c3
// LANES16: scf.for {{.*}} = %c0 to %c64 step %c16 iter_args({{.*}}) -> (vector<8x3x16xf32>)
// LANES16: vector.reduction <add>, {{.*}} : vector<16xf32> into f32
// LANES16: scf.for {{.*}} step %c1
// LANES16: scf.for {{.*}} = %c0 to %c64 step %c16 iter_args({{.*}}) -> (vector<8x1x16xf32>)
// LLVM-LABEL: llvm.func @float_linear
// LLVM: llvm.intr.fmuladd({{.*}}) : (vector<8xf32>, vector<8xf32>, vector<8xf32>) -> vector<8xf32>
// LLVM: llvm.intr.vector.reduce.fadd
// SCALAR-LABEL: llvm.func @float_linear
// SCALAR-NOT: vector<
// SCALAR: llvm.return
func.func @float_linear(%x: tensor<?x64xf32>, %w: tensor<32x64xbf16>) -> tensor<?x32xf32> {
  %y = qrealign.linear "q_proj" %x, %w : (tensor<?x64xf32>, tensor<32x64xbf16>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// The i8 contraction of W8A8: the scale-group loop (extent 1) is passed
// over, 8 output channels and 2 tokens per tile, outside the tokens, i32
// partial sums (exact); the last token alone.
// CHECK-LABEL: func.func @w8a8
// CHECK: scf.for {{.*}} = %c0 to %c32 step %c8
// CHECK: scf.for {{.*}} = %c0 to %{{.*}} step %c2
// CHECK: scf.for {{.*}} = %c0 to %c64 step %c8 iter_args({{.*}}) -> (vector<8x2x1x8xi32>)
// CHECK: arith.extsi {{.*}} : vector<8x2x1x8xi8> to vector<8x2x1x8xi32>
// CHECK: arith.muli {{.*}} : vector<8x2x1x8xi32>
// CHECK: arith.addi {{.*}} : vector<8x2x1x8xi32>
// CHECK: vector.reduction <add>, {{.*}} : vector<8xi32> into i32
// CHECK: scf.for {{.*}} step %c1
// CHECK: scf.for {{.*}} = %c0 to %c64 step %c8 iter_args({{.*}}) -> (vector<8x1x1x8xi32>)
func.func @w8a8(%x: tensor<?x64xf32>, %p: tensor<32x64xi8>, %s: tensor<32x1xf32>) -> tensor<?x32xf32> {
  %w = qrealign.dequantize %p, %s bits = 8 : (tensor<32x64xi8>, tensor<32x1xf32>) -> tensor<32x64xf32>
  %y = qrealign.linear "q_proj" %x, %w {quant = #qrealign.quant<w_bits = 8, a_bits = 8, symmetric = true>} : (tensor<?x64xf32>, tensor<32x64xf32>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// A W4A16 linear over packed bytes (g64: 32 bytes per group), few rows
// (the units form): the units loop innermost, 8 bytes per lane vector and 8
// output channels per tile, outside the tokens; the nibble (loop j) shifted
// out of all lanes alike.
// CHECK-LABEL: func.func @w4a16
// CHECK: scf.if
// CHECK: scf.for {{.*}} = %c0 to %c32 step %c8
// CHECK: scf.for {{.*}} = %c0 to %{{.*}} step %c1
// CHECK: scf.for {{.*}} = %c0 to %c32 step %c8 iter_args({{.*}}) -> (vector<8x1x8xf32>)
// CHECK: vector.transfer_read {{.*}} : tensor<1x1x8x1xf32>, vector<1x1x8x1xf32>
// CHECK: vector.transfer_read {{.*}} : tensor<8x1x8xi8>, vector<8x1x8xi8>
// CHECK: arith.extui {{.*}} : vector<8x1x1x1x8xi8> to vector<8x1x1x1x8xi32>
// CHECK: arith.shrui {{.*}} : vector<8x1x1x1x8xi32>
// CHECK: arith.sitofp {{.*}} to vector<8x1x1x1x8xf32>
// CHECK: vector.reduction <add>, {{.*}} : vector<8xf32> into f32
// More rows (the generic form, the else branch): see @w4a16_prefill.
// CHECK: } else {
// CHECK: tensor.empty() : tensor<8x2x2x32xf32>
// CHECK: scf.for {{.*}} = %c0 to %c32 step %c8
// With narrow-levels (the i4 levels): loops (m, n, g, k), 8 levels per lane
// vector read from the levels' tile, 8 output channels per tile.
// NARROW-LABEL: func.func @w4a16
// NARROW: scf.if
// NARROW: scf.for {{.*}} = %c0 to %c32 step %c8
// NARROW: scf.for {{.*}} = %c0 to %{{.*}} step %c1
// NARROW: scf.for {{.*}} = %c0 to %c2 step %c1
// NARROW: tensor.extract_slice {{.*}} : tensor<32x2x64xi4> to tensor<8x1x64xi4>
// NARROW: scf.for {{.*}} = %c0 to %c64 step %c8 iter_args({{.*}}) -> (vector<8x1x8xf32>)
// NARROW: vector.transfer_read {{.*}} : tensor<8x1x8xi4>, vector<8x1x8xi4>
// NARROW: arith.extui {{.*}} : vector<8x1x1x8xi4> to vector<8x1x1x8xi32>
// NARROW: arith.sitofp {{.*}} to vector<8x1x1x8xf32>
// NARROW: vector.reduction <add>, {{.*}} : vector<8xf32> into f32
// NARROW: } else {
// Lowered (qrealign-emulate-narrow-types), 8 levels are 4 bytes, split
// into low and high nibbles.
// LLVM-LABEL: llvm.func @w4a16
// LLVM: llvm.load {{.*}} -> vector<4xi8>
// LLVM: llvm.and {{.*}} : vector<4xi8>
// LLVM: llvm.lshr {{.*}} : vector<4xi8>
// LLVM: llvm.intr.vector.reduce.fadd
func.func @w4a16(%x: tensor<?x128xf32>, %p: tensor<32x64xui8>, %s: tensor<32x2xf32>, %z: tensor<32x2xi8>) -> tensor<?x32xf32> {
  %w = qrealign.dequantize %p, %s zero_point %z bits = 4 : (tensor<32x64xui8>, tensor<32x2xf32>, tensor<32x2xi8>) -> tensor<32x128xf32>
  %y = qrealign.linear "q_proj" %x, %w {quant = #qrealign.quant<w_bits = 4, granularity = per_group, group_size = 64>} : (tensor<?x128xf32>, tensor<32x128xf32>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// A W4A16 linear with more rows than packed-rows-limit (the generic form:
// the weight dequantized, then a float contraction). A tile's 8 rows of the
// weight are dequantized inside the loop over tiles, from their bytes,
// before the loop over tokens: each weight once per call, into a tile-sized
// tensor created once outside the loop, never the whole weight in float.
// Each group's nibbles come de-interleaved (low nibbles, then high ones), so
// a group's bytes run along the lanes, the nibble picked alike for all.
// CHECK-LABEL: func.func @w4a16_prefill
// CHECK-NOT: tensor<32x2x2x32xf32>
// CHECK: %[[TILEBUF:.*]] = tensor.empty() : tensor<8x2x2x32xf32>
// CHECK: scf.for %[[N:.*]] = %c0 to %c32 step %c8
// CHECK: tensor.extract_slice %{{.*}}[%[[N]], 0, 0] [8, 2, 32] [1, 1, 1] : tensor<32x2x32xi8> to tensor<8x2x32xi8>
// CHECK: scf.for {{.*}} iter_args(%{{.*}} = %[[TILEBUF]]) -> (tensor<8x2x2x32xf32>)
// CHECK: vector.transfer_read {{.*}} : tensor<1x1x32xi8>, vector<1x1x32xi8>
// CHECK: arith.extui {{.*}} : vector<1x1x1x32xi8> to vector<1x1x1x32xi32>
// CHECK: arith.shrui {{.*}} : vector<1x1x1x32xi32>
// CHECK: arith.sitofp {{.*}} : vector<1x1x1x32xi32> to vector<1x1x1x32xf32>
// CHECK: vector.transfer_write {{.*}} : vector<1x1x1x32xf32>, tensor<1x1x1x32xf32>
// CHECK: %[[TILE:.*]] = tensor.collapse_shape %{{.*}} {{\[}}[0], [1, 2, 3]] : tensor<8x2x2x32xf32> into tensor<8x128xf32>
// CHECK: scf.for {{.*}} = %c0 to %c16 step %c2
// CHECK: scf.for {{.*}} = %c0 to %c128 step %c8 iter_args({{.*}}) -> (vector<8x2x8xf32>)
// CHECK: tensor.extract_slice %[[TILE]]
// CHECK-NOT: arith.sitofp
// CHECK: vector.fma {{.*}} : vector<8x2x8xf32>
// CHECK-NOT: arith.sitofp
// CHECK: return
// With narrow-levels the tile's levels are read in order, 64 at a time
// (x is not de-interleaved).
// NARROW-LABEL: func.func @w4a16_prefill
// NARROW: %[[TILEBUFN:.*]] = tensor.empty() : tensor<8x2x64xf32>
// NARROW: scf.for %[[NN:.*]] = %c0 to %c32 step %c8
// NARROW: tensor.extract_slice %{{.*}}[%[[NN]], 0, 0] [8, 2, 64] [1, 1, 1] : tensor<32x2x64xi4> to tensor<8x2x64xi4>
// NARROW: scf.for {{.*}} iter_args(%{{.*}} = %[[TILEBUFN]]) -> (tensor<8x2x64xf32>)
// NARROW: vector.transfer_read {{.*}} : tensor<1x1x64xi4>, vector<1x1x64xi4>
// NARROW: arith.extui {{.*}} : vector<1x1x64xi4> to vector<1x1x64xi32>
// NARROW: arith.sitofp {{.*}} : vector<1x1x64xi32> to vector<1x1x64xf32>
// NARROW: tensor.collapse_shape %{{.*}} {{\[}}[0], [1, 2]] : tensor<8x2x64xf32> into tensor<8x128xf32>
// NARROW: scf.for {{.*}} = %c0 to %c16 step %c2
// NARROW: vector.fma {{.*}} : vector<8x2x8xf32>
// NARROW: return
// Lowered, 32 bytes are split into 64 levels.
// LLVM-LABEL: llvm.func @w4a16_prefill
// LLVM: llvm.load {{.*}} -> vector<32xi8>
// LLVM: llvm.and {{.*}} : vector<32xi8>
// LLVM: llvm.lshr {{.*}} : vector<32xi8>
// LLVM: llvm.shufflevector {{.*}} [0, 32, 1, 33,
// LLVM: llvm.sitofp {{.*}} : vector<64xi32> to vector<64xf32>
// LLVM: llvm.intr.fmuladd({{.*}}) : (vector<8xf32>, vector<8xf32>, vector<8xf32>) -> vector<8xf32>
func.func @w4a16_prefill(%x: tensor<16x128xf32>, %p: tensor<32x64xui8>, %s: tensor<32x2xf32>, %z: tensor<32x2xi8>) -> tensor<16x32xf32> {
  %w = qrealign.dequantize %p, %s zero_point %z bits = 4 : (tensor<32x64xui8>, tensor<32x2xf32>, tensor<32x2xi8>) -> tensor<32x128xf32>
  %y = qrealign.linear "q_proj" %x, %w {quant = #qrealign.quant<w_bits = 4, granularity = per_group, group_size = 64>} : (tensor<16x128xf32>, tensor<32x128xf32>) -> tensor<16x32xf32>
  return %y : tensor<16x32xf32>
}

// The same from compressed-tensors' i32 words (8 levels each, g128: 16
// words per group) with zero points in words along the rows: the tile's
// words read 16 lanes at a time, the level shifted out alike; the zero
// points (unpacked once per call) do not split the weight's rows.
// CHECK-LABEL: func.func @w4a16_words_prefill
// CHECK: %[[TILEBUFW:.*]] = tensor.empty() : tensor<8x2x8x16xf32>
// CHECK: scf.for %[[NW:.*]] = %c0 to %c32 step %c8
// CHECK: tensor.extract_slice %{{.*}}[%[[NW]], 0, 0] [8, 2, 16] [1, 1, 1] : tensor<32x2x16xi32> to tensor<8x2x16xi32>
// CHECK: scf.for {{.*}} iter_args(%{{.*}} = %[[TILEBUFW]]) -> (tensor<8x2x8x16xf32>)
// CHECK: vector.transfer_read {{.*}} : tensor<1x1x16xi32>, vector<1x1x16xi32>
// CHECK: arith.shrui {{.*}} : vector<1x1x1x16xi32>
// CHECK: scf.for {{.*}} = %c0 to %c16 step %c2
// CHECK: return
func.func @w4a16_words_prefill(%x: tensor<16x256xf32>, %p: tensor<32x32xi32>, %s: tensor<32x2xf32>, %z: tensor<4x2xi32>) -> tensor<16x32xf32> {
  %w = qrealign.dequantize %p, %s zero_point %z bits = 4 : (tensor<32x32xi32>, tensor<32x2xf32>, tensor<4x2xi32>) -> tensor<32x256xf32>
  %y = qrealign.linear "q_proj" %x, %w {quant = #qrealign.quant<w_bits = 4, granularity = per_group, group_size = 128>} : (tensor<16x256xf32>, tensor<32x256xf32>) -> tensor<16x32xf32>
  return %y : tensor<16x32xf32>
}

// A per-channel W8A16 weight (one level per byte): the dequantized tile is
// [8, 1, K], its innermost loop tiled by 64 (K in vectors of 64 lanes, not
// one vector of K).
// CHECK-LABEL: func.func @w8a16_prefill
// CHECK: %[[TILEBUF8:.*]] = tensor.empty() : tensor<8x1x128xf32>
// CHECK: scf.for {{.*}} = %c0 to %c32 step %c8
// CHECK: scf.for {{.*}} iter_args(%{{.*}} = %[[TILEBUF8]]) -> (tensor<8x1x128xf32>)
// CHECK: scf.for {{.*}} = %c0 to %c128 step %c64
// CHECK: vector.transfer_read {{.*}} : tensor<1x1x64xi8>, vector<1x1x64xi8>
// CHECK: arith.sitofp {{.*}} : vector<1x1x64xi32> to vector<1x1x64xf32>
// CHECK: scf.for {{.*}} = %c0 to %c16 step %c2
// CHECK: return
// LANES16-LABEL: func.func @w8a16_prefill
// LANES16: scf.for {{.*}} = %c0 to %c15 step %c3
// LANES16: scf.for {{.*}} = %c0 to %c128 step %c16 iter_args({{.*}}) -> (vector<8x3x16xf32>)
// LANES16-NOT: scf.for {{.*}} step %c3
// LANES16: scf.for {{.*}} = %c0 to %c128 step %c16 iter_args({{.*}}) -> (vector<8x1x16xf32>)
// LANES16: return
func.func @w8a16_prefill(%x: tensor<16x128xf32>, %p: tensor<32x128xi8>, %s: tensor<32x1xf32>) -> tensor<16x32xf32> {
  %w = qrealign.dequantize %p, %s bits = 8 : (tensor<32x128xi8>, tensor<32x1xf32>) -> tensor<32x128xf32>
  %y = qrealign.linear "q_proj" %x, %w {quant = #qrealign.quant<w_bits = 8, symmetric = true>} : (tensor<16x128xf32>, tensor<32x128xf32>) -> tensor<16x32xf32>
  return %y : tensor<16x32xf32>
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

// The integer path's weight unpacked to i8 for prefill (W4A8, 16 rows):
// without narrow-levels a scalar loop over bytes; with it, an elementwise
// op reading i4 levels, vectorized 64 levels at a time (each level read
// alone would be a load, a shift and a mask of its byte), and not fused
// into the i8 contraction (the row sums read it too).
// CHECK-LABEL: func.func @w4a8_prefill
// CHECK-NOT: xi4>
// CHECK: return
// NARROW-LABEL: func.func @w4a8_prefill
// NARROW: scf.for %[[R:.*]] = %c0 to %c32 step %c1
// NARROW: scf.for %[[C:.*]] = %c0 to %c128 step %c64
// NARROW: tensor.extract_slice %{{.*}}[%[[R]], %[[C]]] [1, 64] [1, 1] : tensor<32x128xi4> to tensor<1x64xi4>
// NARROW: vector.transfer_read {{.*}} : tensor<1x64xi4>, vector<1x64xi4>
// NARROW: arith.extui {{.*}} : vector<1x64xi4> to vector<1x64xi32>
// NARROW: arith.trunci {{.*}} : vector<1x64xi32> to vector<1x64xi8>
// NARROW: vector.transfer_write {{.*}} : vector<1x64xi8>, tensor<1x64xi8>
// NARROW: vector.reduction <add>, {{.*}} : vector<8xi32> into i32
// NARROW: return
// LLVM-LABEL: llvm.func @w4a8_prefill
// LLVM: llvm.load {{.*}} -> vector<32xi8>
// LLVM: llvm.lshr {{.*}} : vector<32xi8>
func.func @w4a8_prefill(%x: tensor<16x128xf32>, %p: tensor<32x64xui8>, %s: tensor<32x1xf32>, %z: tensor<32x1xi8>) -> tensor<16x32xf32> {
  %w = qrealign.dequantize %p, %s zero_point %z bits = 4 : (tensor<32x64xui8>, tensor<32x1xf32>, tensor<32x1xi8>) -> tensor<32x128xf32>
  %y = qrealign.linear "q_proj" %x, %w {quant = #qrealign.quant<w_bits = 4, a_bits = 8>} : (tensor<16x128xf32>, tensor<32x128xf32>) -> tensor<16x32xf32>
  return %y : tensor<16x32xf32>
}

// Only the steps of the contractions this pass schedules (marked `contract`)
// become fused multiply-adds; the input's own vector arithmetic stays.
// CHECK-LABEL: func.func @own_vectors
// CHECK: arith.mulf %{{.*}}, %{{.*}} : vector<8xf32>
// CHECK: arith.addf %{{.*}}, %{{.*}} : vector<8xf32>
// CHECK-NOT: vector.fma
// CHECK: return
func.func @own_vectors(%a: vector<8xf32>, %b: vector<8xf32>, %c: vector<8xf32>) -> vector<8xf32> {
  %m = arith.mulf %a, %b : vector<8xf32>
  %s = arith.addf %c, %m : vector<8xf32>
  return %s : vector<8xf32>
}
