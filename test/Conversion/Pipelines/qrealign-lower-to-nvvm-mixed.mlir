// REQUIRES: nvvm-target
// One module, several kernels: two W8A8 GEMMs of different shapes (each
// tiled by its own application of the schedule, then bufferized and mapped
// together) and a W4A16 linear, each its own kernel for sm_90.
// RUN: rm -rf %t && mkdir -p %t
// RUN: qrealign-opt %s --qrealign-lower-to-nvvm="chip=sm_90" -o %t/sm90.mlir
// RUN: FileCheck %s --check-prefix=HOST --input-file %t/sm90.mlir
// RUN: %extractptx %t/sm90.mlir %t/sm90
// RUN: cat %t/sm90.0.ptx %t/sm90.1.ptx %t/sm90.2.ptx > %t/all.ptx
// RUN: FileCheck %s --input-file %t/all.ptx

// HOST-DAG: gpu.launch_func <%{{.*}} : !llvm.ptr> @gemm_kernel::@gemm_kernel blocks in (%{{.*}}, %{{.*}}, %{{.*}}) threads in
// HOST-DAG: gpu.launch_func <%{{.*}} : !llvm.ptr> @gemm_wide_kernel::@gemm_wide_kernel
// HOST-DAG: gpu.launch_func <%{{.*}} : !llvm.ptr> @w4a16_f16_kernel::@w4a16_f16_kernel

// 128 x 128 x 256: 8 MMAs of K = 32 per warp (unrolled).
// CHECK-LABEL: .entry gemm_kernel(
// CHECK-COUNT-8: mma.sync.aligned.m16n8k32.row.col.satfinite.s32.s8.s8.s32
// 64 x 96 x 512: the same MMA in a loop.
// CHECK-LABEL: .entry gemm_wide_kernel(
// CHECK: mma.sync.aligned.m16n8k32.row.col.satfinite.s32.s8.s8.s32
// CHECK-LABEL: .entry w4a16_f16_kernel(
// CHECK: mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32
// CHECK-NOT: mma.sync

#a = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k)>
#c = affine_map<(m, n, k) -> (m, n)>
func.func @gemm(%a: tensor<128x256xi8>, %w: tensor<128x256xi8>, %c: tensor<128x128xi32> {bufferization.writable = true}) -> tensor<128x128xi32> {
  %zero = arith.constant 0 : i32
  %init = linalg.fill ins(%zero : i32) outs(%c : tensor<128x128xi32>) -> tensor<128x128xi32>
  %r = linalg.generic {indexing_maps = [#a, #w, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %w : tensor<128x256xi8>, tensor<128x256xi8>) outs(%init : tensor<128x128xi32>) {
  ^bb0(%x: i8, %y: i8, %acc: i32):
    %xe = arith.extsi %x : i8 to i32
    %ye = arith.extsi %y : i8 to i32
    %p = arith.muli %xe, %ye : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  } -> tensor<128x128xi32>
  return %r : tensor<128x128xi32>
}

func.func @gemm_wide(%a: tensor<64x512xi8>, %w: tensor<96x512xi8>, %c: tensor<64x96xi32> {bufferization.writable = true}) -> tensor<64x96xi32> {
  %zero = arith.constant 0 : i32
  %init = linalg.fill ins(%zero : i32) outs(%c : tensor<64x96xi32>) -> tensor<64x96xi32>
  %r = linalg.generic {indexing_maps = [#a, #w, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %w : tensor<64x512xi8>, tensor<96x512xi8>) outs(%init : tensor<64x96xi32>) {
  ^bb0(%x: i8, %y: i8, %acc: i32):
    %xe = arith.extsi %x : i8 to i32
    %ye = arith.extsi %y : i8 to i32
    %p = arith.muli %xe, %ye : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  } -> tensor<64x96xi32>
  return %r : tensor<64x96xi32>
}

#x = affine_map<(m, n, g, j, b) -> (m, g, b, j)>
#u = affine_map<(m, n, g, j, b) -> (n, g, b)>
#s = affine_map<(m, n, g, j, b) -> (n, g)>
#y = affine_map<(m, n, g, j, b) -> (m, n)>

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
