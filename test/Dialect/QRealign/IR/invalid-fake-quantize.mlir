// RUN: qrealign-opt %s --split-input-file --verify-diagnostics

func.func @f(%w: tensor<4x8xf32>) {
  // expected-error @+1 {{'qrealign.fake_quantize' op bits must be in [2, 8], got 1}}
  %0 = qrealign.fake_quantize %w bits = 1 per_channel : (tensor<4x8xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @f(%w: tensor<f32>) {
  // expected-error @+1 {{'qrealign.fake_quantize' op input must have rank >= 1}}
  %0 = qrealign.fake_quantize %w bits = 8 per_tensor : (tensor<f32>) -> tensor<f32>
  return
}

// -----

func.func @f(%w: tensor<4x8xbf16>) {
  // expected-error @+1 {{'qrealign.fake_quantize' op result shape [8, 4] must be the input shape [4, 8]}}
  %0 = qrealign.fake_quantize %w bits = 4 per_channel : (tensor<4x8xbf16>) -> tensor<8x4xf32>
  return
}

// -----

func.func @f(%w: tensor<4x8xf32>) {
  // expected-error @+1 {{'qrealign.fake_quantize' op per_group needs group_size}}
  %0 = qrealign.fake_quantize %w bits = 4 per_group : (tensor<4x8xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @f(%w: tensor<4x8xf32>) {
  // expected-error @+1 {{'qrealign.fake_quantize' op group_size is only valid with per_group}}
  %0 = qrealign.fake_quantize %w bits = 4 per_channel group_size = 8 : (tensor<4x8xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @f(%w: tensor<4x8xf32>) {
  // expected-error @+1 {{'qrealign.fake_quantize' op group_size must be positive, got 0}}
  %0 = qrealign.fake_quantize %w bits = 4 per_group group_size = 0 : (tensor<4x8xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @f(%x: tensor<?x?x12xf32>) {
  // expected-error @+1 {{'qrealign.fake_quantize' op group_size 8 does not divide the last axis (12)}}
  %0 = qrealign.fake_quantize %x bits = 8 per_group group_size = 8 : (tensor<?x?x12xf32>) -> tensor<?x?x12xf32>
  return
}

// -----

func.func @f(%x: tensor<?x8xf32>, %z: tensor<1x1xi8>) {
  // expected-error @+1 {{'qrealign.fake_quantize' op zero_point needs scale (static ranges)}}
  %0 = qrealign.fake_quantize %x zero_point %z bits = 8 per_tensor : (tensor<?x8xf32>, tensor<1x1xi8>) -> tensor<?x8xf32>
  return
}

// -----

func.func @f(%w: tensor<4x8xf32>, %s: tensor<4x1xf32>, %c: tensor<4x1xf32>) {
  // expected-error @+1 {{'qrealign.fake_quantize' op clipping factors apply to dynamic ranges; static ranges (scale) are already clipped}}
  %0 = qrealign.fake_quantize %w scale %s clip %c bits = 4 per_channel symmetric : (tensor<4x8xf32>, tensor<4x1xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @f(%x: tensor<?x8xf32>, %s: tensor<1x1xf32>, %z: tensor<1x1xi8>) {
  // expected-error @+1 {{'qrealign.fake_quantize' op symmetric quantization has no zero_point}}
  %0 = qrealign.fake_quantize %x scale %s zero_point %z bits = 8 per_tensor symmetric : (tensor<?x8xf32>, tensor<1x1xf32>, tensor<1x1xi8>) -> tensor<?x8xf32>
  return
}

// -----

func.func @f(%x: tensor<?x8xf32>, %s: tensor<1x1xf32>) {
  // expected-error @+1 {{'qrealign.fake_quantize' op asymmetric static quantization needs zero_point}}
  %0 = qrealign.fake_quantize %x scale %s bits = 8 per_tensor : (tensor<?x8xf32>, tensor<1x1xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @f(%w: tensor<4x8xf32>, %c: tensor<4x1xf32>) {
  // expected-error @+1 {{'qrealign.fake_quantize' op symmetric quantization takes clip_max only}}
  %0 = qrealign.fake_quantize %w clip %c, %c bits = 4 per_channel symmetric : (tensor<4x8xf32>, tensor<4x1xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @f(%w: tensor<4x8xf32>, %c: tensor<4x1xf32>) {
  // expected-error @+1 {{'qrealign.fake_quantize' op asymmetric clipping needs clip_max and clip_min}}
  %0 = qrealign.fake_quantize %w clip %c bits = 4 per_channel : (tensor<4x8xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @f(%x: tensor<?x8xf32>, %s: tensor<4x1xf32>) {
  // expected-error @+1 {{'qrealign.fake_quantize' op scale needs a 2-D input of static shape (a weight) for per_channel ranges, got [?, 8]}}
  %0 = qrealign.fake_quantize %x scale %s bits = 8 per_channel symmetric : (tensor<?x8xf32>, tensor<4x1xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @f(%w: tensor<4x32xf32>, %a: tensor<4x2xf32>, %b: tensor<4x4xf32>) {
  // expected-error @+1 {{'qrealign.fake_quantize' op clip_min [4, 2] must be [4, 4] for per_group ranges of a [4, 32] input}}
  %0 = qrealign.fake_quantize %w clip %b, %a bits = 4 per_group group_size = 8 : (tensor<4x32xf32>, tensor<4x4xf32>, tensor<4x2xf32>) -> tensor<4x32xf32>
  return
}

// -----

func.func @f(%x: tensor<?x?x8xf32>, %s: tensor<1xf32>) {
  // expected-error @+1 {{'qrealign.fake_quantize' op scale [1] must be [1, 1] for per_tensor ranges of a [?, ?, 8] input}}
  %0 = qrealign.fake_quantize %x scale %s bits = 8 per_tensor symmetric : (tensor<?x?x8xf32>, tensor<1xf32>) -> tensor<?x?x8xf32>
  return
}
