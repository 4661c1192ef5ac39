// RUN: qrealign-opt %s --split-input-file --verify-diagnostics

qrealign.param @probe : tensor<8xf32> = dense<0.1>
qrealign.param @bias : tensor<1xf32> = dense<0.5>
func.func @f(%h: tensor<?x?x4xf32>) {
  // The boundary width must equal the hidden size.
  // expected-error @+1 {{'qrealign.layer' op safety boundary weight @probe must be a 1-D float tensor of the hidden size 4, got 'tensor<8xf32>'}}
  %0 = qrealign.layer 1 boundary #qrealign.boundary<weight = @probe, bias = @bias, position = -1, accuracy = 0.9> (%h) : (tensor<?x?x4xf32>) -> tensor<?x?x4xf32> {
  ^bb0(%x: tensor<?x?x4xf32>):
    qrealign.yield %x : tensor<?x?x4xf32>
  }
  return
}

// -----

qrealign.param @probe : tensor<4xi32> = dense<1>
qrealign.param @bias : tensor<1xf32> = dense<0.5>
func.func @f(%h: tensor<?x?x4xf32>) {
  // expected-error @+1 {{'qrealign.layer' op safety boundary weight @probe must be a 1-D float tensor of the hidden size 4, got 'tensor<4xi32>'}}
  %0 = qrealign.layer 1 boundary #qrealign.boundary<weight = @probe, bias = @bias, position = -1, accuracy = 0.9> (%h) : (tensor<?x?x4xf32>) -> tensor<?x?x4xf32> {
  ^bb0(%x: tensor<?x?x4xf32>):
    qrealign.yield %x : tensor<?x?x4xf32>
  }
  return
}

// -----

qrealign.param @bias : tensor<1xf32> = dense<0.5>
func.func @f(%h: tensor<?x?x4xf32>) {
  // expected-error @+1 {{'qrealign.layer' op safety boundary weight @missing does not name a qrealign.param}}
  %0 = qrealign.layer 1 boundary #qrealign.boundary<weight = @missing, bias = @bias, position = -1, accuracy = 0.9> (%h) : (tensor<?x?x4xf32>) -> tensor<?x?x4xf32> {
  ^bb0(%x: tensor<?x?x4xf32>):
    qrealign.yield %x : tensor<?x?x4xf32>
  }
  return
}

// -----

qrealign.param @probe : tensor<4xf32> = dense<0.1>
qrealign.param @bias : tensor<2xf32> = dense<0.5>
func.func @f(%h: tensor<?x?x4xf32>) {
  // expected-error @+1 {{'qrealign.layer' op safety boundary bias @bias must be a float tensor<1>, got 'tensor<2xf32>'}}
  %0 = qrealign.layer 1 boundary #qrealign.boundary<weight = @probe, bias = @bias, position = -1, accuracy = 0.9> (%h) : (tensor<?x?x4xf32>) -> tensor<?x?x4xf32> {
  ^bb0(%x: tensor<?x?x4xf32>):
    qrealign.yield %x : tensor<?x?x4xf32>
  }
  return
}

// -----

qrealign.param @probe : tensor<4xf32> = dense<0.1>
func.func @f(%h: tensor<?x?x4xf32>) {
  // expected-error @+1 {{'qrealign.layer' op safety boundary bias @nobias does not name a qrealign.param}}
  %0 = qrealign.layer 1 boundary #qrealign.boundary<weight = @probe, bias = @nobias, position = -1, accuracy = 0.9> (%h) : (tensor<?x?x4xf32>) -> tensor<?x?x4xf32> {
  ^bb0(%x: tensor<?x?x4xf32>):
    qrealign.yield %x : tensor<?x?x4xf32>
  }
  return
}

// -----

// expected-error @+1 {{safety boundary accuracy must be in [0, 1], got 1.5}}
#b = #qrealign.boundary<weight = @p, bias = @b, position = -1, accuracy = 1.5>

// -----

// The layer is the op the boundary is attached to: the old `layer` field is
// gone.
// expected-error @+1 {{duplicate or unknown struct parameter name: layer}}
#b = #qrealign.boundary<weight = @p, bias = @b, position = -1, layer = 1, accuracy = 0.5>

// -----

// Every parameter is required.
// expected-error @+1 {{expected ','}}
#b = #qrealign.boundary<weight = @p, bias = @b, position = -1>
