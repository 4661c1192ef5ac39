// RUN: qrealign-opt %s --split-input-file --verify-diagnostics

func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<128x32xf32>) {
  // expected-error @+1 {{'qrealign.linear' op input has 64 features but the weight [128, 32] expects 32}}
  %0 = qrealign.linear "q_proj" %x, %w : (tensor<?x?x64xf32>, tensor<128x32xf32>) -> tensor<?x?x128xf32>
  return
}

// -----

func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<128x64x1xf32>) {
  // expected-error @+1 {{'qrealign.linear' op weight must be 2-D [out_features, in_features], got [128, 64, 1]}}
  %0 = qrealign.linear "q_proj" %x, %w : (tensor<?x?x64xf32>, tensor<128x64x1xf32>) -> tensor<?x?x128xf32>
  return
}

// -----

func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<128x64xf32>) {
  // expected-error @+1 {{'qrealign.linear' op result shape [?, ?, 64] does not match [?, ?, 128] (input shape with the last dimension replaced by out_features)}}
  %0 = qrealign.linear "q_proj" %x, %w : (tensor<?x?x64xf32>, tensor<128x64xf32>) -> tensor<?x?x64xf32>
  return
}

// -----

func.func @f(%x: tensor<2x3x64xf32>, %w: tensor<128x64xf32>) {
  // expected-error @+1 {{'qrealign.linear' op result shape [2, 4, 128] does not match [2, 3, 128]}}
  %0 = qrealign.linear "q_proj" %x, %w : (tensor<2x3x64xf32>, tensor<128x64xf32>) -> tensor<2x4x128xf32>
  return
}

// -----

func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<128x64xf32>) {
  // expected-error @+1 {{'qrealign.linear' op result element type 'f16' must equal the input element type 'f32'}}
  %0 = qrealign.linear "q_proj" %x, %w : (tensor<?x?x64xf32>, tensor<128x64xf32>) -> tensor<?x?x128xf16>
  return
}

// -----

func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<128x64xf32>, %b: tensor<64xf32>) {
  // expected-error @+1 {{'qrealign.linear' op bias must be 1-D with 128 elements, got [64]}}
  %0 = qrealign.linear "q_proj" %x, %w bias %b : (tensor<?x?x64xf32>, tensor<128x64xf32>, tensor<64xf32>) -> tensor<?x?x128xf32>
  return
}

// -----

func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<128x64xi8>) {
  // expected-error @+1 {{'qrealign.linear' op operand #1 must be ranked tensor of floating-point values, but got 'tensor<128x64xi8>'}}
  %0 = qrealign.linear "q_proj" %x, %w : (tensor<?x?x64xf32>, tensor<128x64xi8>) -> tensor<?x?x128xf32>
  return
}

// -----

func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<128x64xf32>) {
  // expected-error @+1 {{'qrealign.linear' op name must not be empty}}
  %0 = qrealign.linear "" %x, %w : (tensor<?x?x64xf32>, tensor<128x64xf32>) -> tensor<?x?x128xf32>
  return
}

// -----

func.func @f(%x: tensor<f32>, %w: tensor<1x1xf32>) {
  // expected-error @+1 {{'qrealign.linear' op input must have rank >= 1}}
  %0 = qrealign.linear "q_proj" %x, %w : (tensor<f32>, tensor<1x1xf32>) -> tensor<1xf32>
  return
}

// -----

func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<128x64xf32>) {
  // expected-error @+1 {{'qrealign.linear' op fusion group name must not be empty}}
  %0 = qrealign.linear "q_proj" %x, %w {fusion = ""} : (tensor<?x?x64xf32>, tensor<128x64xf32>) -> tensor<?x?x128xf32>
  return
}
