// REQUIRES: nvvm-target
// W4A16 linears on tensor cores: the packed weight-only contraction (the
// form convert-qrealign-to-linalg emits for few rows) becomes warp-level
// code that dequantizes each lane's weight fragment in registers and issues
// f16 mma.sync m16n8k16. These kernels also run on a GPU in
// test/GPU/gemm-w4a16-gpu.cpp (and, compiled for the CPU, against the same
// scalar reference there).
// RUN: qrealign-opt %s --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" --qrealign-gpu-w4a16-mma --canonicalize --cse | FileCheck %s
// RUN: rm -rf %t && mkdir -p %t
// RUN: qrealign-opt %s --qrealign-lower-to-nvvm="chip=sm_80" -o %t/sm80.mlir
// RUN: %extractptx %t/sm80.mlir %t/sm80
// RUN: cat %t/sm80.0.ptx %t/sm80.1.ptx %t/sm80.2.ptx > %t/sm80.ptx
// RUN: FileCheck %s --check-prefixes=PTX,PTX80 --input-file %t/sm80.ptx
// RUN: qrealign-opt %s --qrealign-lower-to-nvvm="chip=sm_90" -o %t/sm90.mlir
// RUN: %extractptx %t/sm90.mlir %t/sm90
// RUN: cat %t/sm90.0.ptx %t/sm90.1.ptx %t/sm90.2.ptx > %t/sm90.ptx
// RUN: FileCheck %s --check-prefixes=PTX,PTX90 --input-file %t/sm90.ptx

// One kernel per contraction, each one f16 MMA per step of 16 along K, the
// weight read as bytes (s8 zero points) or 32-bit words; no shared memory.
// PTX80: .target sm_80
// PTX90: .target sm_90
// PTX-LABEL: .entry w4a16_gemv_kernel(
// PTX: mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32
// PTX-LABEL: .entry w4a16_words_kernel(
// PTX: mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32
// PTX-LABEL: .entry w4a16_f16_kernel(
// PTX: mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32
// PTX-NOT: mma.sync
// PTX-NOT: .shared

#x = affine_map<(m, n, g, j, b) -> (m, g, b, j)>
#u = affine_map<(m, n, g, j, b) -> (n, g, b)>
#s = affine_map<(m, n, g, j, b) -> (n, g)>
#y = affine_map<(m, n, g, j, b) -> (m, n)>

// Decode: one row (15 of the 16 rows of the MMA masked), N = 200 (the last
// block has one warp of four at work), groups of 128, asymmetric, f32 out.
// CHECK-LABEL: func.func @w4a16_gemv
// CHECK-NOT: linalg.
// CHECK: gpu.launch blocks(%[[BX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %c7, %{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}}) threads(%[[LANE:.*]], %[[WARP:.*]], %{{.*}}) in (%{{.*}} = %c32, %{{.*}} = %c4, %{{.*}} = %c1
// CHECK: %[[N0:.*]] = affine.apply #{{.*}}()[%[[BX]], %[[WARP]]]
// CHECK: %[[ACTIVE:.*]] = arith.cmpi slt, %[[N0]], %c200
// CHECK: scf.if %[[ACTIVE]]
// CHECK: %[[ACC:.*]] = scf.for %{{.*}} = %c0 to %c512 step %c16 iter_args(%{{.*}} = %{{.*}}) -> (vector<2x2xf32>)
// Rows past M read row M - 1 and are zeroed.
// CHECK: arith.cmpi slt, %{{.*}}, %c1
// CHECK: arith.minsi
// CHECK: vector.load %{{.*}} : memref<1x4x64x2xf16>, vector<2xf16>
// CHECK: arith.select
// The lane's weight: one scale and zero point, two bytes, four nibbles.
// CHECK: memref.load %{{.*}} : memref<200x4xf16>
// CHECK: memref.load %{{.*}} : memref<200x4xi8>
// CHECK: memref.load %{{.*}} : memref<200x4x64xi8>
// CHECK: arith.shrui
// CHECK: arith.andi %{{.*}}, %c15_i32
// CHECK: arith.subi %{{.*}}, %c8_i32
// CHECK: arith.subi
// CHECK: arith.sitofp
// CHECK: arith.mulf
// CHECK: arith.truncf %{{.*}} : f32 to f16
// CHECK: memref.load %{{.*}} : memref<200x4x64xi8>
// CHECK: %[[B:.*]] = vector.from_elements {{.*}} : vector<2x2xf16>
// CHECK: nvgpu.mma.sync(%{{.*}}, %[[B]], %{{.*}}) {mmaShape = [16, 8, 16]} : (vector<4x2xf16>, vector<2x2xf16>, vector<2x2xf32>) -> vector<2x2xf32>
// Only row 0 is stored.
// CHECK: vector.extract %[[ACC]][0, 0]
// CHECK: scf.if
// CHECK: memref.store %{{.*}} : memref<1x200xf32>
func.func @w4a16_gemv(%x: tensor<1x512xf16>, %p: tensor<200x256xui8>, %s: tensor<200x4xf16>, %z: tensor<200x4xi8>, %out: tensor<1x200xf32> {bufferization.writable = true}) -> tensor<1x200xf32> attributes {llvm.emit_c_interface} {
  %c4 = arith.constant 4 : i32
  %c8 = arith.constant 8 : i32
  %c15 = arith.constant 15 : i32
  %zero = arith.constant 0.0 : f32
  %bytes = tensor.bitcast %p : tensor<200x256xui8> to tensor<200x256xi8>
  %units = tensor.expand_shape %bytes [[0], [1, 2]] output_shape [200, 4, 64] : tensor<200x256xi8> into tensor<200x4x64xi8>
  %xg = tensor.expand_shape %x [[0], [1, 2, 3]] output_shape [1, 4, 64, 2] : tensor<1x512xf16> into tensor<1x4x64x2xf16>
  %init = linalg.fill ins(%zero : f32) outs(%out : tensor<1x200xf32>) -> tensor<1x200xf32>
  %r = linalg.generic {indexing_maps = [#x, #u, #s, #s, #y], iterator_types = ["parallel", "parallel", "reduction", "reduction", "reduction"]} ins(%xg, %units, %s, %z : tensor<1x4x64x2xf16>, tensor<200x4x64xi8>, tensor<200x4xf16>, tensor<200x4xi8>) outs(%init : tensor<1x200xf32>) {
  ^bb0(%in: f16, %u: i8, %sc: f16, %zp: i8, %acc: f32):
    %ue = arith.extui %u : i8 to i32
    %j = linalg.index 3 : index
    %ji = arith.index_cast %j : index to i32
    %sh = arith.muli %ji, %c4 : i32
    %nib = arith.shrui %ue, %sh : i32
    %lv = arith.andi %nib, %c15 : i32
    %q = arith.subi %lv, %c8 : i32
    %ze = arith.extsi %zp : i8 to i32
    %qz = arith.subi %q, %ze : i32
    %se = arith.extf %sc : f16 to f32
    %qf = arith.sitofp %qz : i32 to f32
    %ws = arith.mulf %qf, %se : f32
    %w = arith.truncf %ws : f32 to f16
    %xe = arith.extf %in : f16 to f32
    %we = arith.extf %w : f16 to f32
    %prod = arith.mulf %xe, %we : f32
    %sum = arith.addf %acc, %prod : f32
    linalg.yield %sum : f32
  } -> tensor<1x200xf32>
  return %r : tensor<1x200xf32>
}

// compressed-tensors' words (8 levels per i32), symmetric (no zero point),
// groups of 32, M = 20: two row tiles, the second masked after row 19.
// CHECK-LABEL: func.func @w4a16_words
// CHECK: gpu.launch blocks({{.*}}) in (%{{.*}} = %c2{{.*}}, %{{.*}} = %c2{{.*}}, %{{.*}} = %c1{{.*}})
// CHECK: vector.load %{{.*}} : memref<20x8x4x8xf16>, vector<2xf16>
// CHECK-NOT: memref<64x8xi8>
// CHECK: memref.load %{{.*}} : memref<64x8x4xi32>
// CHECK-NOT: arith.extui
// CHECK: nvgpu.mma.sync
func.func @w4a16_words(%x: tensor<20x256xf16>, %p: tensor<64x32xi32>, %s: tensor<64x8xf16>, %out: tensor<20x64xf32> {bufferization.writable = true}) -> tensor<20x64xf32> attributes {llvm.emit_c_interface} {
  %c4 = arith.constant 4 : i32
  %c8 = arith.constant 8 : i32
  %c15 = arith.constant 15 : i32
  %zero = arith.constant 0.0 : f32
  %units = tensor.expand_shape %p [[0], [1, 2]] output_shape [64, 8, 4] : tensor<64x32xi32> into tensor<64x8x4xi32>
  %xg = tensor.expand_shape %x [[0], [1, 2, 3]] output_shape [20, 8, 4, 8] : tensor<20x256xf16> into tensor<20x8x4x8xf16>
  %init = linalg.fill ins(%zero : f32) outs(%out : tensor<20x64xf32>) -> tensor<20x64xf32>
  %r = linalg.generic {indexing_maps = [#x, #u, #s, #y], iterator_types = ["parallel", "parallel", "reduction", "reduction", "reduction"]} ins(%xg, %units, %s : tensor<20x8x4x8xf16>, tensor<64x8x4xi32>, tensor<64x8xf16>) outs(%init : tensor<20x64xf32>) {
  ^bb0(%in: f16, %u: i32, %sc: f16, %acc: f32):
    %j = linalg.index 3 : index
    %ji = arith.index_cast %j : index to i32
    %sh = arith.muli %ji, %c4 : i32
    %nib = arith.shrui %u, %sh : i32
    %lv = arith.andi %nib, %c15 : i32
    %q = arith.subi %lv, %c8 : i32
    %se = arith.extf %sc : f16 to f32
    %qf = arith.sitofp %q : i32 to f32
    %ws = arith.mulf %qf, %se : f32
    %w = arith.truncf %ws : f32 to f16
    %xe = arith.extf %in : f16 to f32
    %we = arith.extf %w : f16 to f32
    %prod = arith.mulf %xe, %we : f32
    %sum = arith.addf %acc, %prod : f32
    linalg.yield %sum : f32
  } -> tensor<20x64xf32>
  return %r : tensor<20x64xf32>
}

// The body convert-qrealign-to-linalg writes for an f16 model (f16 output):
// accumulated in f32 registers, rounded to f16 once at the store. M = 16: no
// masking.
// CHECK-LABEL: func.func @w4a16_f16
// CHECK-NOT: arith.minsi
// CHECK: nvgpu.mma.sync
// CHECK-NOT: scf.if
// CHECK: arith.truncf %{{.*}} : f32 to f16
// CHECK: memref.store %{{.*}} : memref<16x128xf16>
func.func @w4a16_f16(%x: tensor<16x256xf16>, %p: tensor<128x128xui8>, %s: tensor<128x2xf16>, %z: tensor<128x2xi8>, %out: tensor<16x128xf16> {bufferization.writable = true}) -> tensor<16x128xf16> attributes {llvm.emit_c_interface} {
  %c15_i32 = arith.constant 15 : i32
  %c8_i32 = arith.constant 8 : i32
  %c4_i32 = arith.constant 4 : i32
  %cst = arith.constant 0.000000e+00 : f16
  %0 = tensor.bitcast %p : tensor<128x128xui8> to tensor<128x128xi8>
  %expanded = tensor.expand_shape %0 [[0], [1, 2]] output_shape [128, 2, 64] : tensor<128x128xi8> into tensor<128x2x64xi8>
  %expanded_0 = tensor.expand_shape %x [[0], [1, 2, 3]] output_shape [16, 2, 64, 2] : tensor<16x256xf16> into tensor<16x2x64x2xf16>
  %2 = linalg.fill ins(%cst : f16) outs(%out : tensor<16x128xf16>) -> tensor<16x128xf16>
  %3 = linalg.generic {indexing_maps = [#x, #u, #s, #s, #y], iterator_types = ["parallel", "parallel", "reduction", "reduction", "reduction"]} ins(%expanded_0, %expanded, %s, %z : tensor<16x2x64x2xf16>, tensor<128x2x64xi8>, tensor<128x2xf16>, tensor<128x2xi8>) outs(%2 : tensor<16x128xf16>) {
  ^bb0(%in: f16, %in_1: i8, %in_2: f16, %in_3: i8, %acc: f16):
    %4 = arith.extui %in_1 : i8 to i32
    %5 = linalg.index 3 : index
    %6 = arith.index_cast %5 : index to i32
    %7 = arith.muli %6, %c4_i32 : i32
    %8 = arith.shrui %4, %7 : i32
    %9 = arith.andi %8, %c15_i32 : i32
    %10 = arith.subi %9, %c8_i32 : i32
    %11 = arith.extsi %in_3 : i8 to i32
    %12 = arith.subi %10, %11 : i32
    %13 = arith.extf %in_2 : f16 to f32
    %14 = arith.sitofp %12 : i32 to f32
    %15 = arith.mulf %14, %13 : f32
    %16 = arith.truncf %15 : f32 to f16
    %17 = arith.mulf %in, %16 : f16
    %18 = arith.addf %acc, %17 : f16
    linalg.yield %18 : f16
  } -> tensor<16x128xf16>
  return %3 : tensor<16x128xf16>
}
