// RUN: qrealign-opt %s --qrealign-lower-to-cpu | FileCheck %s
// The result translates to LLVM IR, with the C interface asked for.
// RUN: qrealign-opt %s --qrealign-lower-to-cpu | mlir-translate --mlir-to-llvmir | FileCheck %s --check-prefix=LLVMIR

// Everything is in the LLVM dialect: no qrealign, linalg, tensor, memref or scf is left.
// CHECK-NOT: qrealign.
// CHECK-NOT: linalg.
// CHECK-NOT: tensor.
// CHECK-NOT: memref.
// CHECK: llvm.func @malloc
// CHECK: llvm.func @w8a8(
// CHECK: llvm.mul
// CHECK: llvm.func @_mlir_ciface_w8a8(
// CHECK: llvm.func @w4a16(
// CHECK: llvm.lshr
// CHECK: llvm.func @block(

// LLVMIR: define {{.*}} @w8a8(
// LLVMIR: call float @llvm.roundeven.f32
// LLVMIR: define void @_mlir_ciface_w8a8(ptr
// LLVMIR: define {{.*}} @w4a16(
func.func @w8a8(%x: tensor<?x?x64xf32>, %p: tensor<32x64xi8>, %s: tensor<32x1xf32>, %z: tensor<32x1xi8>) -> tensor<?x?x32xf32> attributes {llvm.emit_c_interface} {
  %w = qrealign.dequantize %p, %s zero_point %z bits = 8 : (tensor<32x64xi8>, tensor<32x1xf32>, tensor<32x1xi8>) -> tensor<32x64xf32>
  %y = qrealign.linear "q_proj" %x, %w {quant = #qrealign.quant<w_bits = 8, a_bits = 8>} : (tensor<?x?x64xf32>, tensor<32x64xf32>) -> tensor<?x?x32xf32>
  return %y : tensor<?x?x32xf32>
}
func.func @w4a16(%x: tensor<4x64xf32>, %p: tensor<32x32xui8>, %s: tensor<32x2xf32>, %z: tensor<32x2xi8>) -> tensor<4x32xf32> {
  %w = qrealign.dequantize %p, %s zero_point %z bits = 4 : (tensor<32x32xui8>, tensor<32x2xf32>, tensor<32x2xi8>) -> tensor<32x64xf32>
  %y = qrealign.linear "q_proj" %x, %w {quant = #qrealign.quant<w_bits = 4, granularity = per_group, group_size = 32>} : (tensor<4x64xf32>, tensor<32x64xf32>) -> tensor<4x32xf32>
  return %y : tensor<4x32xf32>
}
// A decoder block's float ops.
func.func @block(%ids: tensor<?x?xi64>, %t: tensor<100x64xbf16>, %nw: tensor<64xbf16>, %u: tensor<?x?x64xf32>) -> tensor<?x?x64xf32> {
  %h = qrealign.embedding %ids, %t : (tensor<?x?xi64>, tensor<100x64xbf16>) -> tensor<?x?x64xf32>
  %n = qrealign.rms_norm %h, %nw eps = 1.0e-05 : (tensor<?x?x64xf32>, tensor<64xbf16>) -> tensor<?x?x64xf32>
  %g = qrealign.swiglu %n, %u : tensor<?x?x64xf32>
  %a = qrealign.add %g, %h : tensor<?x?x64xf32>
  return %a : tensor<?x?x64xf32>
}
