// RUN: qrealign-opt %s --split-input-file --verify-diagnostics

// expected-error @+1 {{'qrealign.param' op requires attribute 'initial_value'}}
"qrealign.param"() <{sym_name = "w", type = tensor<2xf32>}> : () -> ()

// -----

// One initial value, inline or external: a string is neither.
// expected-error @+1 {{'qrealign.param' op attribute 'initial_value' failed to satisfy constraint}}
"qrealign.param"() <{sym_name = "w", type = tensor<2xf32>, initial_value = "w"}> : () -> ()

// -----

// Whether the scope is mapped is not the op's business (the module's
// qrealign.params or a tool's --params supply it): this verifies
// (--verify-diagnostics fails on any unexpected error).
qrealign.param @w : tensor<2x2xbf16> = #qrealign.external<"model"::"model.w">

// -----

// expected-error @+1 {{external tensor name must not be empty}}
qrealign.param @w : tensor<2x2xbf16> = #qrealign.external<"model"::"">

// -----

// expected-error @+1 {{scope '' is not a name ([A-Za-z_][A-Za-z0-9_-]*)}}
qrealign.param @w : tensor<2x2xbf16> = #qrealign.external<""::"w">

// -----

// expected-error @+1 {{scope 'a/b' is not a name ([A-Za-z_][A-Za-z0-9_-]*)}}
qrealign.param @w : tensor<2x2xbf16> = #qrealign.external<"a/b"::"w">

// -----

// expected-error @+1 {{expected ':'}}
qrealign.param @w : tensor<2x2xbf16> = #qrealign.external<"model":"w">

// -----

// expected-error @+1 {{'qrealign.param' op inline value has type 'tensor<3xf32>' but the parameter is declared as 'tensor<2xf32>'}}
"qrealign.param"() <{sym_name = "w", type = tensor<2xf32>, initial_value = dense<1.0> : tensor<3xf32>}> : () -> ()

// -----

// Weights have static shapes.
// expected-error @+1 {{'qrealign.param' op attribute 'type' failed to satisfy constraint: type attribute of statically shaped tensor of any type values}}
qrealign.param @w : tensor<?x2xf32> = #qrealign.external<"model"::"w">

// -----

// expected-error @+1 {{expected #qrealign.external<"scope"::"key"> or an elements attribute (dense, dense_resource)}}
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
