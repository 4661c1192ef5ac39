// RUN: qrealign-opt %s --split-input-file --verify-diagnostics

// expected-error @+1 {{'qrealign.checkpoint' must be a non-empty string naming a .safetensors file or a .safetensors.index.json}}
module attributes {qrealign.checkpoint = ""} {
}

// -----

// expected-error @+1 {{'qrealign.checkpoint' must be a non-empty string}}
module attributes {qrealign.checkpoint = 3} {
}

// -----

func.func @f() {
  // expected-error @+1 {{'qrealign.checkpoint' is only valid on a builtin.module}}
  return {qrealign.checkpoint = "m.safetensors"}
}

// -----

// expected-error @+1 {{unknown qrealign attribute 'qrealign.weights' (known: 'qrealign.checkpoint')}}
module attributes {qrealign.weights = "m.safetensors"} {
}
