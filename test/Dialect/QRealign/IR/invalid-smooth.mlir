// RUN: qrealign-opt %s --split-input-file --verify-diagnostics

func.func @f(%x: tensor<f32>, %s: tensor<1xf32>) {
  // expected-error @+1 {{'qrealign.smooth' op input must have rank >= 1}}
  %0 = qrealign.smooth %x, %s : (tensor<f32>, tensor<1xf32>) -> tensor<f32>
  return
}

// -----

func.func @f(%x: tensor<?x?x8xf32>, %s: tensor<4xf32>) {
  // expected-error @+1 {{'qrealign.smooth' op scale [4] must have one element per channel [8]}}
  %0 = qrealign.smooth %x, %s : (tensor<?x?x8xf32>, tensor<4xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @f(%x: tensor<?x?x8xf32>, %s: tensor<8xf32>) {
  // expected-error @+1 {{'qrealign.smooth' op failed to verify that all of {input, result} have same type}}
  %0 = qrealign.smooth %x, %s : (tensor<?x?x8xf32>, tensor<8xf32>) -> tensor<?x?x8xbf16>
  return
}

// -----

func.func @f(%w: tensor<4x8x2xf32>, %s: tensor<8xf32>) {
  // expected-error @+1 {{'qrealign.smooth_weight' op weight must be 2-D [N, K], got [4, 8, 2]}}
  %0 = qrealign.smooth_weight %w, %s : (tensor<4x8x2xf32>, tensor<8xf32>) -> tensor<4x8x2xf32>
  return
}

// -----

func.func @f(%w: tensor<4x8xbf16>, %s: tensor<8xf32>) {
  // expected-error @+1 {{'qrealign.smooth_weight' op result shape [8, 4] must be the weight shape [4, 8]}}
  %0 = qrealign.smooth_weight %w, %s : (tensor<4x8xbf16>, tensor<8xf32>) -> tensor<8x4xf32>
  return
}

// -----

func.func @f(%w: tensor<4x8xbf16>, %s: tensor<4xf32>) {
  // expected-error @+1 {{'qrealign.smooth_weight' op scale [4] must have one element per input channel [8]}}
  %0 = qrealign.smooth_weight %w, %s : (tensor<4x8xbf16>, tensor<4xf32>) -> tensor<4x8xf32>
  return
}
