// RUN: qrealign-opt %s --split-input-file --verify-diagnostics

// The single-checkpoint attribute is gone; old IR gets told what replaced it.
// expected-error @+1 {{'qrealign.checkpoint' was replaced by 'qrealign.params = {model = "PATH"}' (a scope map; reimport or edit the module)}}
module attributes {qrealign.checkpoint = "m.safetensors"} {
}

// -----

// expected-error @+1 {{'qrealign.params' must be a dictionary of scope = "path"}}
module attributes {qrealign.params = "m.safetensors"} {
}

// -----

// expected-error @+1 {{'qrealign.params': scope 'model' must map to a non-empty path string}}
module attributes {qrealign.params = {model = ""}} {
}

// -----

// expected-error @+1 {{'qrealign.params': scope 'probes' must map to a non-empty path string}}
module attributes {qrealign.params = {model = "m.safetensors", probes = 3}} {
}

// -----

// expected-error @+1 {{'qrealign.params': scope '1x' is not a name ([A-Za-z_][A-Za-z0-9_-]*)}}
module attributes {qrealign.params = {"1x" = "m.safetensors"}} {
}

// -----

func.func @f() {
  // expected-error @+1 {{'qrealign.params' is only valid on a builtin.module}}
  return {qrealign.params = {model = "m.safetensors"}}
}

// -----

// expected-error @+1 {{unknown qrealign attribute 'qrealign.weights' (known: 'qrealign.params', 'qrealign.tokenizer', 'qrealign.model_type', 'qrealign.chat_template', 'qrealign.bos_token_id', 'qrealign.eos_token_ids', 'qrealign.max_positions', 'qrealign.sliding_window', 'qrealign.calibration')}}
module attributes {qrealign.weights = "m.safetensors"} {
}

// -----

// expected-error @+1 {{'qrealign.chat_template' must be one of "llama-2", "llama-3", "chatml", "none"}}
module attributes {qrealign.chat_template = "vicuna"} {
}

// -----

// expected-error @+1 {{'qrealign.bos_token_id' must be an integer >= 0}}
module attributes {qrealign.bos_token_id = -1} {
}

// -----

// expected-error @+1 {{'qrealign.max_positions' must be an integer >= 1}}
module attributes {qrealign.max_positions = 0} {
}

// -----

// expected-error @+1 {{'qrealign.eos_token_ids' must be a non-empty array of integers >= 0}}
module attributes {qrealign.eos_token_ids = [2, "x"]} {
}

// -----

// expected-error @+1 {{'qrealign.tokenizer' must be a non-empty string}}
module attributes {qrealign.tokenizer = ""} {
}

// -----

// All module attributes together verify.
module attributes {qrealign.params = {model = "/m", probes = "p.safetensors"},
    qrealign.tokenizer = "t.model",
    qrealign.model_type = "llama", qrealign.chat_template = "llama-2",
    qrealign.bos_token_id = 1, qrealign.eos_token_ids = [2, 3],
    qrealign.max_positions = 4096, qrealign.sliding_window = 4096} {
}
