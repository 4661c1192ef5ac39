// RUN: qrealign-opt %s --split-input-file --verify-diagnostics

func.func @f(%x: tensor<?x16xf32>, %w: tensor<2x16x!quant.uniform<i8:f32, 0.5>>) {
  // expected-error @+1 {{'qrealign.linear' op has a quantized weight ('!quant.uniform<i8:f32, 5.000000e-01>') but no 'quant' scheme}}
  %y = qrealign.linear "o_proj" %x, %w : (tensor<?x16xf32>, tensor<2x16x!quant.uniform<i8:f32, 0.5>>) -> tensor<?x2xf32>
  return
}

// -----

func.func @f(%x: tensor<?x16xf32>, %w: tensor<2x16x!quant.uniform<i8:f32, 0.5>>) {
  // expected-error @+1 {{'qrealign.linear' op weight storage is 8 bits but the scheme has w_bits = 4}}
  %y = qrealign.linear "o_proj" %x, %w {quant = #qrealign.quant<w_bits = 4, granularity = per_tensor>} : (tensor<?x16xf32>, tensor<2x16x!quant.uniform<i8:f32, 0.5>>) -> tensor<?x2xf32>
  return
}

// -----

func.func @f(%x: tensor<?x16xf32>, %w: tensor<2x16x!quant.uniform<i8:f32, 0.5>>) {
  // expected-error @+1 {{'qrealign.linear' op weight is quantized per tensor but the scheme is per_channel}}
  %y = qrealign.linear "o_proj" %x, %w {quant = #qrealign.quant<w_bits = 8>} : (tensor<?x16xf32>, tensor<2x16x!quant.uniform<i8:f32, 0.5>>) -> tensor<?x2xf32>
  return
}

// -----

func.func @f(%x: tensor<?x16xf32>, %w: tensor<2x16x!quant.uniform<i8:f32, 0.5:4>>) {
  // expected-error @+1 {{'qrealign.linear' op symmetric scheme but the weight type has a non-zero zero point}}
  %y = qrealign.linear "o_proj" %x, %w {quant = #qrealign.quant<w_bits = 8, granularity = per_tensor, symmetric = true>} : (tensor<?x16xf32>, tensor<2x16x!quant.uniform<i8:f32, 0.5:4>>) -> tensor<?x2xf32>
  return
}

// -----

func.func @f(%x: tensor<?x16xf32>, %w: tensor<2x16x!quant.uniform<i8:f32:1, {0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5}>>) {
  // expected-error @+1 {{'qrealign.linear' op per-channel weight must be quantized along axis 0 (output channels), got axis 1}}
  %y = qrealign.linear "o_proj" %x, %w {quant = #qrealign.quant<w_bits = 8>} : (tensor<?x16xf32>, tensor<2x16x!quant.uniform<i8:f32:1, {0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5}>>) -> tensor<?x2xf32>
  return
}

// -----

func.func @f(%x: tensor<?x16xf32>, %w: tensor<2x16x!quant.uniform<i8:f32:0, {0.5, 0.5, 0.5}>>) {
  // expected-error @+1 {{'qrealign.linear' op weight type has 3 scales for 2 output channels}}
  %y = qrealign.linear "o_proj" %x, %w {quant = #qrealign.quant<w_bits = 8>} : (tensor<?x16xf32>, tensor<2x16x!quant.uniform<i8:f32:0, {0.5, 0.5, 0.5}>>) -> tensor<?x2xf32>
  return
}

// -----

func.func @f(%x: tensor<?x16xf32>, %w: tensor<2x16x!quant.uniform<i8:f32:0, {0.5, 0.5}>>) {
  // expected-error @+1 {{'qrealign.linear' op weight is quantized per axis but the scheme is per_group}}
  %y = qrealign.linear "o_proj" %x, %w {quant = #qrealign.quant<w_bits = 8, granularity = per_group, group_size = 8>} : (tensor<?x16xf32>, tensor<2x16x!quant.uniform<i8:f32:0, {0.5, 0.5}>>) -> tensor<?x2xf32>
  return
}

// -----

func.func @f(%x: tensor<?x16xf32>, %w: tensor<2x16x!quant.uniform<u4:f16:{0:1, 1:16}, {{0.5:8}, {0.25:7}}>>) {
  // expected-error @+1 {{'qrealign.linear' op weight blocks are {0:1, 1:16} but the scheme needs {0:1, 1:8}}}
  %y = qrealign.linear "o_proj" %x, %w {quant = #qrealign.quant<w_bits = 4, granularity = per_group, group_size = 8>} : (tensor<?x16xf32>, tensor<2x16x!quant.uniform<u4:f16:{0:1, 1:16}, {{0.5:8}, {0.25:7}}>>) -> tensor<?x2xf32>
  return
}

// -----

func.func @f(%x: tensor<?x16xf32>, %w: tensor<2x16x!quant.uniform<u4:f16:{0:1, 1:8}, {{0.5:3, 0.5:3}, {0.25:7, 0.25:7}}>>) {
  // expected-error @+1 {{'qrealign.linear' op weight is quantized in sub-channel blocks but the scheme is per_channel}}
  %y = qrealign.linear "o_proj" %x, %w {quant = #qrealign.quant<w_bits = 4>} : (tensor<?x16xf32>, tensor<2x16x!quant.uniform<u4:f16:{0:1, 1:8}, {{0.5:3, 0.5:3}, {0.25:7, 0.25:7}}>>) -> tensor<?x2xf32>
  return
}

// -----

func.func @f(%x: tensor<?x16xf32>, %w: tensor<2x16x!quant.uniform<i8:f32, 0.5>>) {
  // expected-error @+1 {{'qrealign.linear' op has a quantized weight but its scheme has w_bits = 16}}
  %y = qrealign.linear "o_proj" %x, %w {quant = #qrealign.quant<w_bits = 16, a_bits = 8>} : (tensor<?x16xf32>, tensor<2x16x!quant.uniform<i8:f32, 0.5>>) -> tensor<?x2xf32>
  return
}

// -----

func.func @f(%x: tensor<?x16xf32>, %w: tensor<2x16x!quant.uniform<i8:f32:0, {0.5:1, 0.5:0}>>) {
  // expected-error @+1 {{'qrealign.linear' op symmetric scheme but the weight type has non-zero zero points}}
  %y = qrealign.linear "o_proj" %x, %w {quant = #qrealign.quant<w_bits = 8, symmetric = true>} : (tensor<?x16xf32>, tensor<2x16x!quant.uniform<i8:f32:0, {0.5:1, 0.5:0}>>) -> tensor<?x2xf32>
  return
}

// -----

func.func @f(%x: tensor<?x16xf32>, %w: tensor<2x16x!quant.uniform<i4:f16:{0:1, 1:8}, {{0.5:0, 0.5:2}, {0.25:0, 0.25:0}}>>) {
  // expected-error @+1 {{'qrealign.linear' op symmetric scheme but the weight type has non-zero zero points}}
  %y = qrealign.linear "o_proj" %x, %w {quant = #qrealign.quant<w_bits = 4, granularity = per_group, group_size = 8, symmetric = true>} : (tensor<?x16xf32>, tensor<2x16x!quant.uniform<i4:f16:{0:1, 1:8}, {{0.5:0, 0.5:2}, {0.25:0, 0.25:0}}>>) -> tensor<?x2xf32>
  return
}

// -----

func.func @f(%x: tensor<?x16xf32>, %w: tensor<2x16x!quant.any<i8:f32>>) {
  // expected-error @+1 {{'qrealign.linear' op unsupported quantized weight type '!quant.any<i8:f32>'}}
  %y = qrealign.linear "o_proj" %x, %w {quant = #qrealign.quant<w_bits = 8>} : (tensor<?x16xf32>, tensor<2x16x!quant.any<i8:f32>>) -> tensor<?x2xf32>
  return
}
