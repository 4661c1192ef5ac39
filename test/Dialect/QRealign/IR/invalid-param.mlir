// RUN: qrealign-opt %s --split-input-file --verify-diagnostics

// expected-error @+1 {{'qrealign.param' op must have exactly one of an external tensor name or an inline value}}
"qrealign.param"() <{sym_name = "w", type = tensor<2xf32>}> : () -> ()

// -----

// expected-error @+1 {{'qrealign.param' op must have exactly one of an external tensor name or an inline value}}
"qrealign.param"() <{sym_name = "w", type = tensor<2xf32>, tensor_name = "w", value = dense<1.0> : tensor<2xf32>}> : () -> ()

// -----

// An external parameter needs the checkpoint named on the module.
// expected-error @+1 {{'qrealign.param' op is external, but the enclosing module has no 'qrealign.checkpoint' attribute naming the checkpoint}}
qrealign.param @w : tensor<2x2xbf16> = external "model.w"

// -----

module attributes {qrealign.checkpoint = "m.safetensors"} {
  // expected-error @+1 {{'qrealign.param' op external tensor name must not be empty}}
  qrealign.param @w : tensor<2x2xbf16> = external ""
}

// -----

// expected-error @+1 {{'qrealign.param' op inline value has type 'tensor<3xf32>' but the parameter is declared as 'tensor<2xf32>'}}
"qrealign.param"() <{sym_name = "w", type = tensor<2xf32>, value = dense<1.0> : tensor<3xf32>}> : () -> ()

// -----

// Weights have static shapes.
// expected-error @+1 {{'qrealign.param' op attribute 'type' failed to satisfy constraint: type attribute of statically shaped tensor of any type values}}
qrealign.param @w : tensor<?x2xf32> = external "w"

// -----

// expected-error @+1 {{expected 'external "tensor-name"' or an elements attribute}}
qrealign.param @w : tensor<2xf32> = "oops"

// -----

func.func @f() {
  // expected-error @+1 {{'qrealign.param' op expects parent op 'builtin.module'}}
  qrealign.param @w : tensor<2xf32> = dense<1.0>
  return
}

// -----

// expected-note @+1 {{see existing symbol definition here}}
qrealign.param @w : tensor<2xf32> = dense<1.0>
// expected-error @+1 {{redefinition of symbol named 'w'}}
qrealign.param @w : tensor<2xf32> = dense<2.0>
