// RUN: qrealign-opt %s --split-input-file --verify-diagnostics

func.func @f(%p: tensor<4x4xui8>, %s: tensor<4x1xf32>) {
  // expected-error @+1 {{'qrealign.dequantize' op bits must be in [2, 8], got 9}}
  %0 = qrealign.dequantize %p, %s bits = 9 : (tensor<4x4xui8>, tensor<4x1xf32>) -> tensor<4x8xf32>
  return
}

// -----

// 4-bit levels one per byte (int-quantized W4A8) take a byte each.
func.func @f(%p: tensor<4x4xi8>, %s: tensor<4x1xf32>) {
  // expected-error @+1 {{'qrealign.dequantize' op packed storage [4, 4] does not hold a [4, 8] weight at 4 bits (expected [N, K])}}
  %0 = qrealign.dequantize %p, %s bits = 4 : (tensor<4x4xi8>, tensor<4x1xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @f(%p: tensor<4x4xui8>, %s: tensor<4x1xf32>) {
  // expected-error @+1 {{'qrealign.dequantize' op levels of 8 bits are stored as i8 (one per byte), got ui8 (two per byte holds 2 to 4 bits)}}
  %0 = qrealign.dequantize %p, %s bits = 8 : (tensor<4x4xui8>, tensor<4x1xf32>) -> tensor<4x4xf32>
  return
}

// -----

func.func @f(%p: tensor<4x8xui8>, %s: tensor<4x1xf32>) {
  // expected-error @+1 {{'qrealign.dequantize' op packed storage [4, 8] does not hold a [4, 8] weight at 4 bits (expected [N, K / 2])}}
  %0 = qrealign.dequantize %p, %s bits = 4 : (tensor<4x8xui8>, tensor<4x1xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @f(%p: tensor<4x8xi8>, %s: tensor<3x1xf32>) {
  // expected-error @+1 {{'qrealign.dequantize' op scale has 3 rows; expected 1 (per tensor) or 4}}
  %0 = qrealign.dequantize %p, %s bits = 8 : (tensor<4x8xi8>, tensor<3x1xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @f(%p: tensor<4x8xi8>, %s: tensor<4x3xf32>) {
  // expected-error @+1 {{'qrealign.dequantize' op scale has 3 groups, which do not divide the 8 input channels}}
  %0 = qrealign.dequantize %p, %s bits = 8 : (tensor<4x8xi8>, tensor<4x3xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @f(%p: tensor<4x8xi8>, %s: tensor<4x2xf32>, %z: tensor<4x1xi8>) {
  // expected-error @+1 {{'qrealign.dequantize' op zero_point [4, 1] must have the shape of scale [4, 2]}}
  %0 = qrealign.dequantize %p, %s zero_point %z bits = 8 : (tensor<4x8xi8>, tensor<4x2xf32>, tensor<4x1xi8>) -> tensor<4x8xf32>
  return
}

// -----

func.func @f(%p: tensor<4x8xi8>, %s: tensor<4x2xf32>) {
  // expected-error @+1 {{'qrealign.dequantize' op packed, scale and result must be 2-D, got [4, 8], [4, 2] and [32]}}
  %0 = qrealign.dequantize %p, %s bits = 8 : (tensor<4x8xi8>, tensor<4x2xf32>) -> tensor<32xf32>
  return
}

// -----

// Zero points are signed levels: i8.
func.func @f(%p: tensor<4x8xi8>, %s: tensor<4x2xf32>, %z: tensor<4x2xf32>) {
  // expected-error @+1 {{'qrealign.dequantize' op operand #2 must be ranked tensor of 8-bit signless integer or 32-bit signless integer values, but got 'tensor<4x2xf32>'}}
  %0 = qrealign.dequantize %p, %s zero_point %z bits = 8 : (tensor<4x8xi8>, tensor<4x2xf32>, tensor<4x2xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @f(%p: tensor<4x1xi32>, %s: tensor<4x1xf32>) {
  // expected-error @+1 {{'qrealign.dequantize' op i32 words hold 4- or 8-bit levels, got 3 bits}}
  %0 = qrealign.dequantize %p, %s bits = 3 : (tensor<4x1xi32>, tensor<4x1xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @f(%p: tensor<4x2xi32>, %s: tensor<4x1xf32>) {
  // expected-error @+1 {{'qrealign.dequantize' op packed storage [4, 2] does not hold a [4, 8] weight at 4 bits (expected [N, K / 8] words)}}
  %0 = qrealign.dequantize %p, %s bits = 4 : (tensor<4x2xi32>, tensor<4x1xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @f(%p: tensor<4x3xi32>, %s: tensor<4x1xf32>) {
  // expected-error @+1 {{'qrealign.dequantize' op i32 words of 8-bit levels need K divisible by 4, got 10}}
  %0 = qrealign.dequantize %p, %s bits = 8 : (tensor<4x3xi32>, tensor<4x1xf32>) -> tensor<4x10xf32>
  return
}

// -----

func.func @f(%p: tensor<10x1xi32>, %s: tensor<10x1xf32>, %z: tensor<10x1xi8>) {
  // expected-error @+1 {{'qrealign.dequantize' op zero_point must be i32 words with word storage, got 'i8'}}
  %0 = qrealign.dequantize %p, %s zero_point %z bits = 4 : (tensor<10x1xi32>, tensor<10x1xf32>, tensor<10x1xi8>) -> tensor<10x8xf32>
  return
}

// -----

func.func @f(%p: tensor<10x1xi32>, %s: tensor<10x1xf32>, %z: tensor<10x1xi32>) {
  // expected-error @+1 {{'qrealign.dequantize' op zero_point [10, 1] does not hold the [10, 1] zero points of scale as words packed along the rows (expected [ceil(rows / 8), groups])}}
  %0 = qrealign.dequantize %p, %s zero_point %z bits = 4 : (tensor<10x1xi32>, tensor<10x1xf32>, tensor<10x1xi32>) -> tensor<10x8xf32>
  return
}

// -----

func.func @f(%p: tensor<4x4xui8>, %s: tensor<4x1xf32>, %z: tensor<1x1xi32>) {
  // expected-error @+1 {{'qrealign.dequantize' op zero_point must be i8 with byte storage, got 'i32'}}
  %0 = qrealign.dequantize %p, %s zero_point %z bits = 4 : (tensor<4x4xui8>, tensor<4x1xf32>, tensor<1x1xi32>) -> tensor<4x8xf32>
  return
}
