// Every option error of qrealign-calibrate is one error on the module,
// before any file is read or the engine is loaded.

// RUN: qrealign-opt %s --verify-diagnostics --qrealign-calibrate="file=o.safetensors"
// expected-error @below {{qrealign-calibrate: set data=FILE, the labelled calibration prompts (JSONL with "prompt" and "label": 1 malicious, 0 benign)}}
module {
}
