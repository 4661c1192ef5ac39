// RUN: qrealign-opt %s --split-input-file --verify-diagnostics

// expected-error @+1 {{'qrealign.checkpoint' must be a non-empty string}}
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

// expected-error @+1 {{unknown qrealign attribute 'qrealign.weights' (known: 'qrealign.checkpoint', 'qrealign.tokenizer', 'qrealign.model_type', 'qrealign.chat_template', 'qrealign.bos_token_id', 'qrealign.eos_token_ids', 'qrealign.max_positions', 'qrealign.sliding_window')}}
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
module attributes {qrealign.checkpoint = "/m", qrealign.tokenizer = "t.model",
    qrealign.model_type = "llama", qrealign.chat_template = "llama-2",
    qrealign.bos_token_id = 1, qrealign.eos_token_ids = [2, 3],
    qrealign.max_positions = 4096, qrealign.sliding_window = 4096} {
}
