// RUN: qrealign-opt %s --split-input-file --verify-diagnostics

func.func @f() {
  // expected-error @+1 {{'qrealign.get_param' op symbol @missing does not name a qrealign.param}}
  %0 = qrealign.get_param @missing : tensor<2xf32>
  return
}

// -----

qrealign.param @w : tensor<2xf32> = dense<1.0>
func.func @f() {
  // expected-error @+1 {{'qrealign.get_param' op result type 'tensor<2xf16>' does not match the type 'tensor<2xf32>' of @w}}
  %0 = qrealign.get_param @w : tensor<2xf16>
  return
}

// -----

func.func @g() {
  return
}
func.func @f() {
  // A symbol that exists but is not a parameter.
  // expected-error @+1 {{'qrealign.get_param' op symbol @g does not name a qrealign.param}}
  %0 = qrealign.get_param @g : tensor<2xf32>
  return
}
