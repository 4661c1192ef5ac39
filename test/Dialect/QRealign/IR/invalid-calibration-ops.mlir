// RUN: qrealign-opt %s --split-input-file --verify-diagnostics

func.func @f(%h: tensor<?x8xf32>, %i: tensor<?xi64>) {
  // expected-error @+1 {{'qrealign.gather_token' op input must be 3-D [batch, seq, features], got [?, 8]}}
  %0 = qrealign.gather_token %h, %i : (tensor<?x8xf32>, tensor<?xi64>) -> tensor<?x8xf32>
  return
}

// -----

func.func @f(%h: tensor<2x?x8xf32>, %i: tensor<3xi64>) {
  // expected-error @+1 {{'qrealign.gather_token' op index shape [3] must be [batch] [2]}}
  %0 = qrealign.gather_token %h, %i : (tensor<2x?x8xf32>, tensor<3xi64>) -> tensor<2x8xf32>
  return
}

// -----

func.func @f(%h: tensor<?x?x8xf32>, %i: tensor<?xi64>) {
  // expected-error @+1 {{'qrealign.gather_token' op result must be [?, 8] of the input's element type}}
  %0 = qrealign.gather_token %h, %i : (tensor<?x?x8xf32>, tensor<?xi64>) -> tensor<?x4xf32>
  return
}

// -----

func.func @f(%h: tensor<?x?x8xf32>, %i: tensor<?xi32>) {
  // expected-error @+1 {{'qrealign.gather_token' op operand #1 must be ranked tensor of 64-bit signless integer values}}
  %0 = qrealign.gather_token %h, %i : (tensor<?x?x8xf32>, tensor<?xi32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @f(%a: tensor<f32>, %w: tensor<f32>) {
  // expected-error @+1 {{'qrealign.squared_error' op operands must have rank >= 1}}
  %0 = qrealign.squared_error %a, %a, %w coefficient = 1.0 : (tensor<f32>, tensor<f32>, tensor<f32>) -> tensor<f32>
  return
}

// -----

func.func @f(%a: tensor<?x?x8xf32>, %b: tensor<?x?x4xf32>, %w: tensor<?x?xf32>) {
  // expected-error @+1 {{'qrealign.squared_error' op operand shapes [?, ?, 8] and [?, ?, 4] differ}}
  %0 = qrealign.squared_error %a, %b, %w coefficient = 1.0 : (tensor<?x?x8xf32>, tensor<?x?x4xf32>, tensor<?x?xf32>) -> tensor<f32>
  return
}

// -----

func.func @f(%a: tensor<?x?x8xf32>, %w: tensor<?xf32>) {
  // expected-error @+1 {{'qrealign.squared_error' op weight shape [?] must be the operands' shape without its last dimension [?, ?]}}
  %0 = qrealign.squared_error %a, %a, %w coefficient = 1.0 : (tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?xf32>) -> tensor<f32>
  return
}

// -----

func.func @f(%a: tensor<?x8xf32>, %w: tensor<?xf32>) {
  // expected-error @+1 {{'qrealign.squared_error' op coefficient must be finite}}
  %0 = qrealign.squared_error %a, %a, %w coefficient = 0x7FF0000000000000 : (tensor<?x8xf32>, tensor<?x8xf32>, tensor<?xf32>) -> tensor<f32>
  return
}

// -----

func.func @f(%a: tensor<?x8xf32>, %w: tensor<?xf32>) {
  // expected-error @+1 {{'qrealign.squared_error' op result #0 must be 0D tensor of 32-bit float values}}
  %0 = qrealign.squared_error %a, %a, %w coefficient = 1.0 : (tensor<?x8xf32>, tensor<?x8xf32>, tensor<?xf32>) -> tensor<1xf32>
  return
}

// -----

func.func @f(%h: tensor<?x?x8xf32>, %p: tensor<8xf32>, %b: tensor<1xf32>, %w: tensor<?xf32>) {
  // expected-error @+1 {{'qrealign.boundary_loss' op input must be 2-D [batch, features], got [?, ?, 8]}}
  %0 = qrealign.boundary_loss %h, %p, %b, %w margin = 0.0 coefficient = 1.0 : (tensor<?x?x8xf32>, tensor<8xf32>, tensor<1xf32>, tensor<?xf32>) -> tensor<f32>
  return
}

// -----

func.func @f(%h: tensor<?x8xf32>, %p: tensor<4xf32>, %b: tensor<1xf32>, %w: tensor<?xf32>) {
  // expected-error @+1 {{'qrealign.boundary_loss' op probe weight [4] must have one element per feature [8]}}
  %0 = qrealign.boundary_loss %h, %p, %b, %w margin = 0.0 coefficient = 1.0 : (tensor<?x8xf32>, tensor<4xf32>, tensor<1xf32>, tensor<?xf32>) -> tensor<f32>
  return
}

// -----

func.func @f(%h: tensor<?x8xf32>, %p: tensor<8xf32>, %b: tensor<2xf32>, %w: tensor<?xf32>) {
  // expected-error @+1 {{'qrealign.boundary_loss' op probe bias [2] must be [1]}}
  %0 = qrealign.boundary_loss %h, %p, %b, %w margin = 0.0 coefficient = 1.0 : (tensor<?x8xf32>, tensor<8xf32>, tensor<2xf32>, tensor<?xf32>) -> tensor<f32>
  return
}

// -----

func.func @f(%h: tensor<3x8xf32>, %p: tensor<8xf32>, %b: tensor<1xf32>, %w: tensor<2xf32>) {
  // expected-error @+1 {{'qrealign.boundary_loss' op weight shape [2] must be [batch] [3]}}
  %0 = qrealign.boundary_loss %h, %p, %b, %w margin = 0.0 coefficient = 1.0 : (tensor<3x8xf32>, tensor<8xf32>, tensor<1xf32>, tensor<2xf32>) -> tensor<f32>
  return
}

// -----

func.func @f(%h: tensor<?x8xf32>, %p: tensor<8xf32>, %b: tensor<1xf32>, %w: tensor<?xf32>) {
  // expected-error @+1 {{'qrealign.boundary_loss' op margin must be finite}}
  %0 = qrealign.boundary_loss %h, %p, %b, %w margin = 0x7FF8000000000000 coefficient = 1.0 : (tensor<?x8xf32>, tensor<8xf32>, tensor<1xf32>, tensor<?xf32>) -> tensor<f32>
  return
}

// -----

func.func @f(%h: tensor<?x8xf32>, %p: tensor<8xf32>, %b: tensor<1xf32>, %w: tensor<?xf32>) {
  // expected-error @+1 {{'qrealign.boundary_loss' op coefficient must be finite}}
  %0 = qrealign.boundary_loss %h, %p, %b, %w margin = 0.0 coefficient = 0xFFF0000000000000 : (tensor<?x8xf32>, tensor<8xf32>, tensor<1xf32>, tensor<?xf32>) -> tensor<f32>
  return
}

// -----

// expected-error @+1 {{'qrealign.calibration' must be a dictionary with "objective" and "scope" strings and a "layers" array}}
module attributes {qrealign.calibration = {objective = "qrealign"}} {
}

// -----

// expected-error @+1 {{'qrealign.calibration': each entry of "layers" needs "layer", "initial_loss" and "final_loss"}}
module attributes {qrealign.calibration = {objective = "qrealign", scope = "c", layers = [{layer = 0 : i64}]}} {
}
