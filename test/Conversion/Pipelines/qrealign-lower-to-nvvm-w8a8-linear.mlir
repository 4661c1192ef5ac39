// REQUIRES: nvvm-target
// A whole W8A8 linear (per-token dynamic activation quantization,
// per-channel asymmetric weights) from the qrealign dialect to host code and
// PTX: the i8 GEMM on tensor cores, every other step (the activations'
// range, scale and levels, the row sums, the epilogue) its own kernel, all
// launched on one stream with one synchronization. With a dynamic row
// count the GEMM cannot take the tensor-core schedule: a remark says so and
// it runs one thread per output. The GPU test test/GPU/w8a8-linear-gpu.cpp
// runs both functions.
// RUN: rm -rf %t && mkdir -p %t
// RUN: qrealign-opt %s --qrealign-lower-to-nvvm="chip=sm_90" -o %t/sm90.mlir 2> %t/remarks.txt
// RUN: FileCheck %s --check-prefix=REMARK --input-file %t/remarks.txt
// RUN: FileCheck %s --check-prefix=HOST --input-file %t/sm90.mlir
// RUN: %extractptx %t/sm90.mlir %t/sm90
// RUN: cat %t/sm90.*.ptx > %t/all.ptx
// RUN: FileCheck %s --input-file %t/all.ptx
// The kernels assemble for sm_80 too.
// RUN: qrealign-opt %s --qrealign-lower-to-nvvm="chip=sm_80" -o %t/sm80.mlir 2> /dev/null
// RUN: FileCheck %s --check-prefix=SM80 --input-file %t/sm80.mlir

// REMARK: qrealign-lower-to-nvvm-w8a8-linear.mlir:[[#@LINE+31]]:{{.*}} remark: qrealign-gpu-int-matmul-schedule: not on tensor cores (dynamic sizes); qrealign-gpu-loops maps it, one thread per output
// REMARK-NOT: remark

// HOST-LABEL: llvm.func @w8a8_linear(
// HOST: %[[S:.*]] = llvm.call @mgpuStreamCreate()
// HOST-COUNT-9: llvm.call @mgpuMemAlloc(%{{.*}}, %[[S]],
// HOST-NOT: llvm.call @mgpuStreamSynchronize
// HOST-COUNT-9: llvm.call @mgpuMemFree(%{{.*}}, %[[S]])
// HOST-NEXT: llvm.call @mgpuStreamSynchronize(%[[S]])
// HOST-NEXT: llvm.call @mgpuStreamDestroy(%[[S]])
// HOST-NOT: mgpuMemAlloc
// HOST-LABEL: llvm.func @w8a8_linear_rows(
// HOST: llvm.call @mgpuStreamCreate()
// HOST-COUNT-1: llvm.call @mgpuStreamSynchronize

// The tensor-core GEMM, the quantization's rounding (round half to even),
// the epilogue's conversion.
// CHECK-DAG: mma.sync.aligned.m16n8k32.row.col.satfinite.s32.s8.s8.s32
// CHECK-DAG: cvt.rni.f32.f32
// CHECK-DAG: cvt.rn.f32.s32
// SM80: chip = "sm_80"

func.func @w8a8_linear(%x: tensor<1x64x256xf32>, %p: tensor<128x256xi8>, %s: tensor<128x1xf32>, %z: tensor<128x1xi8>, %out: tensor<1x64x128xf32> {bufferization.writable = true}) -> tensor<1x64x128xf32> attributes {llvm.emit_c_interface} {
  %w = qrealign.dequantize %p, %s zero_point %z bits = 8 : (tensor<128x256xi8>, tensor<128x1xf32>, tensor<128x1xi8>) -> tensor<128x256xf32>
  %y = qrealign.linear "q_proj" %x, %w {quant = #qrealign.quant<w_bits = 8, a_bits = 8>} : (tensor<1x64x256xf32>, tensor<128x256xf32>) -> tensor<1x64x128xf32>
  %r = bufferization.materialize_in_destination %y in %out : (tensor<1x64x128xf32>, tensor<1x64x128xf32>) -> tensor<1x64x128xf32>
  return %r : tensor<1x64x128xf32>
}

func.func @w8a8_linear_rows(%x: tensor<1x?x256xf32>, %p: tensor<128x256xi8>, %s: tensor<128x1xf32>, %z: tensor<128x1xi8>, %out: tensor<1x?x128xf32> {bufferization.writable = true}) -> tensor<1x?x128xf32> attributes {llvm.emit_c_interface} {
  %w = qrealign.dequantize %p, %s zero_point %z bits = 8 : (tensor<128x256xi8>, tensor<128x1xf32>, tensor<128x1xi8>) -> tensor<128x256xf32>
  %y = qrealign.linear "q_proj" %x, %w {quant = #qrealign.quant<w_bits = 8, a_bits = 8>} : (tensor<1x?x256xf32>, tensor<128x256xf32>) -> tensor<1x?x128xf32>
  %r = bufferization.materialize_in_destination %y in %out : (tensor<1x?x128xf32>, tensor<1x?x128xf32>) -> tensor<1x?x128xf32>
  return %r : tensor<1x?x128xf32>
}
