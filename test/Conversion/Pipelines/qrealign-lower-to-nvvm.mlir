// REQUIRES: nvvm-target
// The W8A8 GEMM (i8 x i8 -> i32, weights [N, K] as PyTorch stores them) to
// PTX on tensor cores, for sm_80 and sm_90 (no GPU needed to compile).
// RUN: rm -rf %t && mkdir -p %t
// RUN: qrealign-opt %s --qrealign-lower-to-nvvm="chip=sm_80" -o %t/sm80.mlir
// RUN: FileCheck %s --check-prefixes=HOST,HOST80 --input-file %t/sm80.mlir
// RUN: %extractptx %t/sm80.mlir %t/sm80
// RUN: FileCheck %s --check-prefixes=PTX,PTX80 --input-file %t/sm80.0.ptx
// RUN: qrealign-opt %s --qrealign-lower-to-nvvm="chip=sm_90" -o %t/sm90.mlir
// RUN: FileCheck %s --check-prefixes=HOST,HOST90 --input-file %t/sm90.mlir
// RUN: %extractptx %t/sm90.mlir %t/sm90
// RUN: FileCheck %s --check-prefixes=PTX,PTX90 --input-file %t/sm90.0.ptx
// The schedule alone: blocks of 32 x 32, warps of 16 x 8, the accumulator
// in registers across the reduction, each 16 x 8 x 32 step one mma.sync on
// the lanes' fragments (upstream's vector-to-nvgpu conversion, applied to
// these launches only).
// RUN: qrealign-opt %s --qrealign-gpu-int-matmul-schedule --canonicalize --cse | FileCheck %s --check-prefix=SCHED

// The host side launches the kernel, embedded as PTX for the chip asked.
// The launch on the stream of the function (gpu-async-region), one
// synchronization at its end.
// HOST: llvm.func @gemm(
// HOST: %[[STREAM:.*]] = llvm.call @mgpuStreamCreate()
// HOST: gpu.launch_func <%[[STREAM]] : !llvm.ptr> @gemm_kernel::@gemm_kernel blocks in
// HOST: llvm.call @mgpuStreamSynchronize(%[[STREAM]])
// HOST-NEXT: llvm.call @mgpuStreamDestroy(%[[STREAM]])
// HOST-NEXT: llvm.return
// HOST80: gpu.binary @gemm_kernel [#gpu.object<#nvvm.target<O = 3, chip = "sm_80", features = "+ptx80">
// HOST90: gpu.binary @gemm_kernel [#gpu.object<#nvvm.target<O = 3, chip = "sm_90", features = "+ptx80">

// PTX: .version 8.0
// PTX80: .target sm_80
// PTX90: .target sm_90
// PTX: .entry gemm_kernel(
// K = 256 in steps of 32: eight MMAs, signed 8-bit, i32 accumulators.
// PTX-COUNT-8: mma.sync.aligned.m16n8k32.row.col.satfinite.s32.s8.s8.s32
// PTX-NOT: mma.sync

// SCHED: gpu.launch blocks({{.*}}) in (%{{.*}} = %c4{{.*}}, %{{.*}} = %c4{{.*}}, %{{.*}} = %c1{{.*}}) threads({{.*}}) in (%{{.*}} = %c128{{.*}}, %{{.*}} = %c2{{.*}}, %{{.*}} = %c1
// SCHED: %[[ACC:.*]]:2 = scf.for {{.*}} -> (vector<16x8xi32>, vector<2x2xi32>)
// SCHED-COUNT-4: vector.load {{.*}} : memref<16x32xi8, strided<[256, 1], offset: ?>>, vector<4xi8>
// SCHED-COUNT-2: vector.load {{.*}} : memref<8x32xi8, strided<[256, 1], offset: ?>>, vector<4xi8>
// SCHED: nvgpu.mma.sync({{.*}}) {mmaShape = [16, 8, 32]} : (vector<4x4xi8>, vector<2x4xi8>, vector<2x2xi32>) -> vector<2x2xi32>
// SCHED-COUNT-2: vector.store {{.*}} : memref<16x8xi32, strided<[128, 1], offset: ?>>, vector<2xi32>

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
