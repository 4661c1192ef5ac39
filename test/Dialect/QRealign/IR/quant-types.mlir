// RUN: qrealign-opt %s | qrealign-opt | FileCheck %s

// At the lowered level, weights are upstream !quant.uniform tensors whose
// storage width, axis and blocks agree with the linear's scheme.

module attributes {qrealign.params = {model = "model-w4.safetensors"}} {
  // CHECK: qrealign.param @w_tensor : tensor<2x16x!quant.uniform<i8:f32, 5.000000e-01:3>> = #qrealign.external<"model"::"w_tensor">
  qrealign.param @w_tensor : tensor<2x16x!quant.uniform<i8:f32, 0.5:3>> = #qrealign.external<"model"::"w_tensor">
  // CHECK: qrealign.param @w_axis : tensor<2x16x!quant.uniform<i8:f32:0, {5.000000e-01,2.500000e-01}>> = #qrealign.external<"model"::"w_axis">
  qrealign.param @w_axis : tensor<2x16x!quant.uniform<i8:f32:0, {0.5, 0.25}>> = #qrealign.external<"model"::"w_axis">
  // CHECK: qrealign.param @w_group : tensor<2x16x!quant.uniform<u4:f16:{0:1, 1:8}, {{[{][{]}}5.000000e-01:3, 5.000000e-01:3}, {2.500000e-01:7, 2.500000e-01:7}}>> = #qrealign.external<"model"::"w_group">
  qrealign.param @w_group : tensor<2x16x!quant.uniform<u4:f16:{0:1, 1:8}, {{0.5:3, 0.5:3}, {0.25:7, 0.25:7}}>> = #qrealign.external<"model"::"w_group">

  // CHECK-LABEL: func.func @per_tensor
  func.func @per_tensor(%x: tensor<?x16xf32>) -> tensor<?x2xf32> {
    %w = qrealign.get_param @w_tensor : tensor<2x16x!quant.uniform<i8:f32, 0.5:3>>
    // CHECK: qrealign.linear "o_proj" {{.*}}#qrealign.quant<w_bits = 8, granularity = per_tensor>
    %y = qrealign.linear "o_proj" %x, %w {quant = #qrealign.quant<w_bits = 8, granularity = per_tensor>} : (tensor<?x16xf32>, tensor<2x16x!quant.uniform<i8:f32, 0.5:3>>) -> tensor<?x2xf32>
    return %y : tensor<?x2xf32>
  }

  // CHECK-LABEL: func.func @per_axis
  func.func @per_axis(%x: tensor<?x16xf32>) -> tensor<?x2xf32> {
    %w = qrealign.get_param @w_axis : tensor<2x16x!quant.uniform<i8:f32:0, {0.5, 0.25}>>
    // CHECK: qrealign.linear "o_proj" {{.*}}#qrealign.quant<w_bits = 8, a_bits = 8, symmetric = true>
    %y = qrealign.linear "o_proj" %x, %w {quant = #qrealign.quant<w_bits = 8, a_bits = 8, symmetric = true>} : (tensor<?x16xf32>, tensor<2x16x!quant.uniform<i8:f32:0, {0.5, 0.25}>>) -> tensor<?x2xf32>
    return %y : tensor<?x2xf32>
  }

  // CHECK-LABEL: func.func @sub_channel
  func.func @sub_channel(%x: tensor<?x16xf32>) -> tensor<?x2xf32> {
    %w = qrealign.get_param @w_group : tensor<2x16x!quant.uniform<u4:f16:{0:1, 1:8}, {{0.5:3, 0.5:3}, {0.25:7, 0.25:7}}>>
    // CHECK: qrealign.linear "down_proj" {{.*}}#qrealign.quant<w_bits = 4, granularity = per_group, group_size = 8>
    %y = qrealign.linear "down_proj" %x, %w {quant = #qrealign.quant<w_bits = 4, granularity = per_group, group_size = 8>} : (tensor<?x16xf32>, tensor<2x16x!quant.uniform<u4:f16:{0:1, 1:8}, {{0.5:3, 0.5:3}, {0.25:7, 0.25:7}}>>) -> tensor<?x2xf32>
    return %y : tensor<?x2xf32>
  }
}
