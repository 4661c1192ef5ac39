// RUN: rm -rf %t && mkdir -p %t
// RUN: qrealign-opt %s --qrealign-quantize-weights="file=%t/q.safetensors" -o %t/q.mlir
// RUN: FileCheck %s --input-file %t/q.mlir
// RUN: %python %S/Inputs/read-safetensors.py %t/q.safetensors | FileCheck %s --check-prefix=FILE
// Upstream clean-up afterwards keeps the IR valid and deployable.
// RUN: qrealign-opt %t/q.mlir --cse --canonicalize --symbol-dce --qrealign-check-fusion | FileCheck %s --check-prefix=DCE
// A second run finds nothing left to quantize and writes nothing.
// RUN: qrealign-opt %t/q.mlir --qrealign-quantize-weights="file=%t/again.safetensors scope=again" -o /dev/null 2>&1 | FileCheck %s --check-prefix=AGAIN
// RUN: not test -e %t/again.safetensors

// The 2x8 weight of test/Unit/Quant/QuantizerTest.cpp: 4-bit symmetric per
// channel (q_proj), 4-bit asymmetric per group of 4... groups must be >= 8,
// so 8-bit asymmetric per tensor (k_proj, which shares the weight: one
// weight, two schemes, two sets of tensors), and the tied head stays float.

// CHECK: module attributes {qrealign.params = {quant = "q.safetensors"}}
// The float weight stays for the head, which still reads it; @v, read only
// by a quantized linear, goes.
// CHECK: qrealign.param @w : tensor<2x8xf32>
// CHECK-NOT: qrealign.param @v :
// CHECK-DAG: qrealign.param @w.weight_packed : tensor<2x4xui8> = #qrealign.external<"quant"::"w.weight_packed">
// CHECK-DAG: qrealign.param @w.weight_scale : tensor<2x1xf32> = #qrealign.external<"quant"::"w.weight_scale">
// CHECK-DAG: qrealign.param @w.w8_1.weight_packed : tensor<2x8xi8> = #qrealign.external<"quant"::"w.w8_1.weight_packed">
// CHECK-DAG: qrealign.param @w.w8_1.weight_scale : tensor<1x1xf32>
// CHECK-DAG: qrealign.param @w.w8_1.weight_zero_point : tensor<1x1xi8>
// CHECK-LABEL: func.func @f
// CHECK: %[[P:.*]] = qrealign.get_param @w.weight_packed
// CHECK: %[[S:.*]] = qrealign.get_param @w.weight_scale
// CHECK: %[[W:.*]] = qrealign.dequantize %[[P]], %[[S]] bits = 4 : (tensor<2x4xui8>, tensor<2x1xf32>) -> tensor<2x8xf32>
// CHECK: qrealign.linear "q_proj" %{{.*}}, %[[W]]
// CHECK: %[[Z:.*]] = qrealign.get_param @w.w8_1.weight_zero_point
// CHECK: %[[W8:.*]] = qrealign.dequantize %{{.*}}, %{{.*}} zero_point %[[Z]] bits = 8
// CHECK: qrealign.linear "k_proj" %{{.*}}, %[[W8]]
// CHECK: qrealign.linear "lm_head" %{{.*}}, %{{.*}} : (tensor<3x8xf32>, tensor<2x8xf32>)

// Levels -4 2 1 -5 -2 7 2 0 stored q + 8, low nibble first: a4 39 f6 8a.
// FILE: v.weight_packed I8 [2, 8] 127 127 127 127 127 127 127 127 127 127 127 127 127 127 127 127
// FILE: v.weight_scale F32 [2, 1] 0.00196078 0.00196078
// FILE: v.weight_zero_point I8 [2, 1] -128 -128
// FILE: w.w8_1.weight_packed I8 [2, 8] -64 35 22 -95 -27 127 39 2 46 33 -112 39 -128 125 105 2
// FILE: w.w8_1.weight_scale F32 [1, 1] 0.0227451
// FILE: w.w8_1.weight_zero_point I8 [1, 1] 2
// FILE: w.weight_packed U8 [2, 4] a4 39 f6 8a {{[0-9a-f]{2} [0-9a-f]{2} [0-9a-f]{2} [0-9a-f]{2}$}}
// FILE: w.weight_scale F32 [2, 1] 0.407143 0.421429

// DCE: qrealign.param @w : tensor<2x8xf32>
// DCE: qrealign.dequantize

// AGAIN: warning: qrealign-quantize-weights: no linear has a weight to quantize (run qrealign-assign-quant first); nothing written

module {
  qrealign.param @w : tensor<2x8xf32> = dense<[[-1.5, 0.75, 0.45, -2.2, -0.65, 2.85, 0.85, 0.0], [1.0, 0.7, -2.6, 0.85, -2.95, 2.8, 2.35, 0.0]]>
  qrealign.param @v : tensor<2x8xf32> = dense<0.5>
  func.func @f(%x: tensor<3x8xf32>) -> (tensor<3x2xf32>, tensor<3x2xf32>, tensor<3x2xf32>, tensor<3x2xf32>) {
    %w = qrealign.get_param @w : tensor<2x8xf32>
    %v = qrealign.get_param @v : tensor<2x8xf32>
    %o = qrealign.linear "o_proj" %x, %v {quant = #qrealign.quant<w_bits = 8>} : (tensor<3x8xf32>, tensor<2x8xf32>) -> tensor<3x2xf32>
    %q = qrealign.linear "q_proj" %x, %w {quant = #qrealign.quant<w_bits = 4, symmetric = true>} : (tensor<3x8xf32>, tensor<2x8xf32>) -> tensor<3x2xf32>
    %k = qrealign.linear "k_proj" %x, %w {quant = #qrealign.quant<w_bits = 8, granularity = per_tensor>} : (tensor<3x8xf32>, tensor<2x8xf32>) -> tensor<3x2xf32>
    %h = qrealign.linear "lm_head" %x, %w : (tensor<3x8xf32>, tensor<2x8xf32>) -> tensor<3x2xf32>
    return %q, %k, %h, %o : tensor<3x2xf32>, tensor<3x2xf32>, tensor<3x2xf32>, tensor<3x2xf32>
  }
}
