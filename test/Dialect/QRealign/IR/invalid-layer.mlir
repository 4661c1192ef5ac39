// RUN: qrealign-opt %s --split-input-file --verify-diagnostics

func.func @f(%h: tensor<?x?x4xf32>) {
  // expected-error @+1 {{'qrealign.layer' op index must be >= 0, got -1}}
  %0 = qrealign.layer -1 (%h) : (tensor<?x?x4xf32>) -> tensor<?x?x4xf32> {
  ^bb0(%x: tensor<?x?x4xf32>):
    qrealign.yield %x : tensor<?x?x4xf32>
  }
  return
}

// -----

func.func @f(%h: tensor<?x4xf32>) {
  // expected-error @+1 {{'qrealign.layer' op first input must be the residual stream, a 3-D float tensor [batch, seq, hidden], got 'tensor<?x4xf32>'}}
  %0 = qrealign.layer 0 (%h) : (tensor<?x4xf32>) -> tensor<?x4xf32> {
  ^bb0(%x: tensor<?x4xf32>):
    qrealign.yield %x : tensor<?x4xf32>
  }
  return
}

// -----

func.func @f(%h: tensor<?x?x4xf32>) {
  // expected-error @+1 {{'qrealign.layer' op result type 'tensor<?x?x8xf32>' must equal the residual stream type 'tensor<?x?x4xf32>'}}
  %0 = qrealign.layer 0 (%h) : (tensor<?x?x4xf32>) -> tensor<?x?x8xf32> {
  ^bb0(%x: tensor<?x?x4xf32>):
    qrealign.yield %x : tensor<?x?x4xf32>
  }
  return
}

// -----

func.func @f(%h: tensor<?x?x4xf32>, %p: tensor<?x?xi64>) {
  // expected-error @+1 {{'qrealign.layer' op region has 1 arguments but the layer has 2 inputs}}
  %0 = qrealign.layer 0 (%h, %p) : (tensor<?x?x4xf32>, tensor<?x?xi64>) -> tensor<?x?x4xf32> {
  ^bb0(%x: tensor<?x?x4xf32>):
    qrealign.yield %x : tensor<?x?x4xf32>
  }
  return
}

// -----

func.func @f(%h: tensor<?x?x4xf32>, %p: tensor<?x?xi64>) {
  // expected-error @+1 {{'qrealign.layer' op region argument #1 has type 'tensor<?x?xi32>' but input #1 has type 'tensor<?x?xi64>'}}
  %0 = qrealign.layer 0 (%h, %p) : (tensor<?x?x4xf32>, tensor<?x?xi64>) -> tensor<?x?x4xf32> {
  ^bb0(%x: tensor<?x?x4xf32>, %q: tensor<?x?xi32>):
    qrealign.yield %x : tensor<?x?x4xf32>
  }
  return
}

// -----

func.func @f(%h: tensor<?x?x4xf32>, %g: tensor<?x?x4xf16>) {
  %0 = qrealign.layer 0 (%h, %g) : (tensor<?x?x4xf32>, tensor<?x?x4xf16>) -> tensor<?x?x4xf32> {
  ^bb0(%x: tensor<?x?x4xf32>, %y: tensor<?x?x4xf16>):
    // expected-error @+1 {{'qrealign.yield' op yields 'tensor<?x?x4xf16>' but the layer returns 'tensor<?x?x4xf32>'}}
    qrealign.yield %y : tensor<?x?x4xf16>
  }
  return
}

// -----

// The region is isolated from above: values come in through the inputs.
func.func @f(%h: tensor<?x?x4xf32>) {
  // expected-note @+1 {{required by region isolation constraints}}
  %0 = qrealign.layer 0 (%h) : (tensor<?x?x4xf32>) -> tensor<?x?x4xf32> {
  ^bb0(%x: tensor<?x?x4xf32>):
    // expected-error @+1 {{'qrealign.add' op using value defined outside the region}}
    %s = qrealign.add %x, %h : tensor<?x?x4xf32>
    qrealign.yield %s : tensor<?x?x4xf32>
  }
  return
}

// -----

func.func @f(%h: tensor<?x?x4xf32>) {
  // expected-note @+1 {{first used here}}
  %0 = qrealign.layer 3 (%h) : (tensor<?x?x4xf32>) -> tensor<?x?x4xf32> {
  ^bb0(%x: tensor<?x?x4xf32>):
    qrealign.yield %x : tensor<?x?x4xf32>
  }
  // expected-error @+1 {{'qrealign.layer' op index 3 is used twice}}
  %1 = qrealign.layer 3 (%0) : (tensor<?x?x4xf32>) -> tensor<?x?x4xf32> {
  ^bb0(%x: tensor<?x?x4xf32>):
    qrealign.yield %x : tensor<?x?x4xf32>
  }
  return
}

// -----

func.func @f(%h: tensor<?x?x4xf32>) {
  // expected-error @+1 {{'qrealign.layer' op needs at least one input (the residual stream)}}
  %0 = qrealign.layer 0 () : () -> tensor<?x?x4xf32> {
  ^bb0:
    %c = arith.constant dense<0.0> : tensor<1x1x4xf32>
    %d = tensor.cast %c : tensor<1x1x4xf32> to tensor<?x?x4xf32>
    qrealign.yield %d : tensor<?x?x4xf32>
  }
  return
}

// -----

func.func @f(%h: tensor<?x?x4xf32>) {
  // expected-error @+1 {{'qrealign.layer' op region must end with qrealign.yield}}
  %0 = qrealign.layer 0 (%h) : (tensor<?x?x4xf32>) -> tensor<?x?x4xf32> {
  ^bb0(%x: tensor<?x?x4xf32>):
    llvm.unreachable
  }
  return
}

// -----

func.func @f(%h: tensor<?x?x4xf32>) -> tensor<?x?x4xf32> {
  // expected-error @+1 {{'qrealign.yield' op expects parent op 'qrealign.layer'}}
  qrealign.yield %h : tensor<?x?x4xf32>
}
