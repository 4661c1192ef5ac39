// RUN: qrealign-opt %s --split-input-file --verify-diagnostics

func.func @f(%x: tensor<?x?x8xf32>, %w: tensor<4xf32>) {
  // expected-error @+1 {{'qrealign.rms_norm' op weight must be 1-D with one element per feature ([8]), got [4]}}
  %0 = qrealign.rms_norm %x, %w eps = 1.0e-5 : (tensor<?x?x8xf32>, tensor<4xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @f(%x: tensor<?x?x8xf32>, %w: tensor<8x1xf32>) {
  // expected-error @+1 {{'qrealign.rms_norm' op weight must be 1-D with one element per feature ([8]), got [8, 1]}}
  %0 = qrealign.rms_norm %x, %w eps = 1.0e-5 : (tensor<?x?x8xf32>, tensor<8x1xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @f(%x: tensor<?x?x8xf32>, %w: tensor<8xf32>) {
  // expected-error @+1 {{'qrealign.rms_norm' op epsilon must be positive and finite}}
  %0 = qrealign.rms_norm %x, %w eps = 0.0 : (tensor<?x?x8xf32>, tensor<8xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @f(%x: tensor<?x?x8xf32>, %w: tensor<8xf32>) {
  // expected-error @+1 {{'qrealign.rms_norm' op epsilon must be positive and finite}}
  %0 = qrealign.rms_norm %x, %w eps = 0x7FF0000000000000 : (tensor<?x?x8xf32>, tensor<8xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @f(%x: tensor<?x?x8xf32>, %w: tensor<8xf32>) {
  // expected-error @+1 {{'qrealign.rms_norm' op result type 'tensor<?x?x8xf16>' must equal the input type 'tensor<?x?x8xf32>'}}
  %0 = qrealign.rms_norm %x, %w eps = 1.0e-5 : (tensor<?x?x8xf32>, tensor<8xf32>) -> tensor<?x?x8xf16>
  return
}

// -----

func.func @f(%x: tensor<f32>, %w: tensor<1xf32>) {
  // expected-error @+1 {{'qrealign.rms_norm' op input must have rank >= 1}}
  %0 = qrealign.rms_norm %x, %w eps = 1.0e-5 : (tensor<f32>, tensor<1xf32>) -> tensor<f32>
  return
}
