// RUN: qrealign-opt %s --split-input-file --verify-diagnostics

// expected-note @+1 {{prior use here}}
func.func @f(%a: tensor<?x?x8xf32>, %b: tensor<?x?x4xf32>) {
  // expected-error @+1 {{use of value '%b' expects different type than prior uses}}
  %0 = qrealign.add %a, %b : tensor<?x?x8xf32>
  return
}

// -----

func.func @f(%a: tensor<?x?x8xf32>, %b: tensor<?x?x8xf16>) {
  // expected-error @+1 {{'qrealign.swiglu' op requires the same type for all operands and results}}
  %0 = "qrealign.swiglu"(%a, %b) : (tensor<?x?x8xf32>, tensor<?x?x8xf16>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @f(%a: tensor<?x?x8xi32>) {
  // expected-error @+1 {{'qrealign.add' op operand #0 must be ranked tensor of floating-point values}}
  %0 = qrealign.add %a, %a : tensor<?x?x8xi32>
  return
}
