// smooth-init names where the smoothing scales start; anything else is one
// error on the module, before any file is read or the engine is loaded.

// RUN: qrealign-opt %s --verify-diagnostics --qrealign-calibrate="data=d.jsonl file=o.safetensors smooth-init=ones"
// expected-error @below {{qrealign-calibrate: smooth-init must be smoothquant or module, not 'ones'}}
module {
}
