// RUN: qrealign-opt %s --split-input-file --verify-diagnostics

func.func @f(%q: tensor<?x?x12xf32>, %p: tensor<?x?xi64>) {
  // expected-error @+1 {{'qrealign.rope' op head_dim must be positive and even, got 3}}
  %0 = qrealign.rope rotate_half %q, %p head_dim = 3 theta = 10000.0 : (tensor<?x?x12xf32>, tensor<?x?xi64>) -> tensor<?x?x12xf32>
  return
}

// -----

func.func @f(%q: tensor<?x?x12xf32>, %p: tensor<?x?xi64>) {
  // expected-error @+1 {{'qrealign.rope' op input width 12 is not a multiple of head_dim 8}}
  %0 = qrealign.rope rotate_half %q, %p head_dim = 8 theta = 10000.0 : (tensor<?x?x12xf32>, tensor<?x?xi64>) -> tensor<?x?x12xf32>
  return
}

// -----

func.func @f(%q: tensor<2x5x8xf32>, %p: tensor<2x4xi64>) {
  // expected-error @+1 {{'qrealign.rope' op positions shape [2, 4] must match the input shape without its last dimension [2, 5]}}
  %0 = qrealign.rope interleaved %q, %p head_dim = 8 theta = 10000.0 : (tensor<2x5x8xf32>, tensor<2x4xi64>) -> tensor<2x5x8xf32>
  return
}

// -----

func.func @f(%q: tensor<?x?x8xf32>, %p: tensor<?x?xi64>) {
  // expected-error @+1 {{'qrealign.rope' op theta must be positive and finite}}
  %0 = qrealign.rope rotate_half %q, %p head_dim = 8 theta = -1.0 : (tensor<?x?x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @f(%q: tensor<?x?x8xf32>, %p: tensor<?x?xi64>) {
  // expected-error @+1 {{'qrealign.rope' op result type 'tensor<?x?x16xf32>' must equal the input type 'tensor<?x?x8xf32>'}}
  %0 = qrealign.rope rotate_half %q, %p head_dim = 8 theta = 1.0 : (tensor<?x?x8xf32>, tensor<?x?xi64>) -> tensor<?x?x16xf32>
  return
}

// -----

func.func @f(%q: tensor<8xf32>, %p: tensor<i64>) {
  // expected-error @+1 {{'qrealign.rope' op input must have rank >= 2}}
  %0 = qrealign.rope rotate_half %q, %p head_dim = 8 theta = 1.0 : (tensor<8xf32>, tensor<i64>) -> tensor<8xf32>
  return
}

// -----

func.func @f(%q: tensor<?x?x8xf32>, %p: tensor<?x?xi64>) {
  // expected-error @+2 {{expected one of [rotate_half, interleaved] for which dimensions rotary position embedding rotates together, got: rotate_quarter}}
  // expected-error @+1 {{invalid value for property style}}
  %0 = qrealign.rope rotate_quarter %q, %p head_dim = 8 theta = 1.0 : (tensor<?x?x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  return
}
