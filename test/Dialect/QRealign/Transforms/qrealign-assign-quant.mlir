// RUN: qrealign-opt %S/Inputs/two-layers.mlir --qrealign-assign-quant | FileCheck %s --check-prefix=DEFAULT
// RUN: qrealign-opt %S/Inputs/two-layers.mlir --qrealign-assign-quant="w-bits=4 group-size=32 skip=lm_head" | FileCheck %s --check-prefix=W4G32
// RUN: qrealign-opt %S/Inputs/two-layers.mlir --qrealign-assign-quant="w-bits=8 a-bits=8 granularity=per-tensor symmetric=true act=static" | FileCheck %s --check-prefix=W8A8
// RUN: qrealign-opt %S/Inputs/two-layers.mlir --pass-pipeline="builtin.module(qrealign-assign-quant{w-bits=3 granularity=per-group group-size=64})" | FileCheck %s --check-prefix=W3
// Symmetric dynamic activations (llm-compressor's W8A8), by option and by
// override; a-bits=16 in an override drops it with the activations.
// RUN: qrealign-opt %S/Inputs/two-layers.mlir --qrealign-assign-quant="w-bits=8 a-bits=8 symmetric=true a-symmetric=true overrides=lm_head:a-bits=16" | FileCheck %s --check-prefix=SYMACT
// RUN: qrealign-opt %S/Inputs/two-layers.mlir --qrealign-assign-quant="w-bits=8 a-bits=8 overrides=q_proj:a-symmetric=true" | FileCheck %s --check-prefix=SYMACT-OV
// Applying the pass twice gives the same IR (it overwrites, it does not stack).
// RUN: qrealign-opt %S/Inputs/two-layers.mlir --qrealign-assign-quant="w-bits=4 group-size=32" > %t.once.mlir
// RUN: qrealign-opt %t.once.mlir --qrealign-assign-quant="w-bits=4 group-size=32" | diff %t.once.mlir -

// The default scheme: W8A16 per-channel asymmetric, on every linear.
// DEFAULT-COUNT-15: qrealign.linear {{.*}}quant = #qrealign.quant<w_bits = 8>}
// DEFAULT-NOT: qrealign.linear {{"[a-z_]+"}} %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}} :

// W4G32-COUNT-2: qrealign.linear "q_proj" {{.*}}quant = #qrealign.quant<w_bits = 4, granularity = per_group, group_size = 32>}
// W4G32: qrealign.linear "down_proj" {{.*}}quant = #qrealign.quant<w_bits = 4, granularity = per_group, group_size = 32>}
// W4G32: qrealign.linear "lm_head" %{{.*}}, %{{.*}} : (tensor<?x?x64xf32>, tensor<96x64xbf16>) -> tensor<?x?x96xf32>

// W8A8: qrealign.linear "q_proj" {{.*}}quant = #qrealign.quant<w_bits = 8, a_bits = 8, granularity = per_tensor, symmetric = true, act = static>}
// W8A8: qrealign.linear "lm_head" {{.*}}quant = #qrealign.quant<w_bits = 8, a_bits = 8, granularity = per_tensor, symmetric = true, act = static>}

// SYMACT: qrealign.linear "q_proj" {{.*}}quant = #qrealign.quant<w_bits = 8, a_bits = 8, symmetric = true, act_symmetric = true>}
// SYMACT: qrealign.linear "lm_head" {{.*}}quant = #qrealign.quant<w_bits = 8, symmetric = true>}
// The fusion rule gives q, k and v one scheme.
// SYMACT-OV: qrealign.linear "q_proj" {{.*}}quant = #qrealign.quant<w_bits = 8, a_bits = 8, act_symmetric = true>}
// SYMACT-OV: qrealign.linear "k_proj" {{.*}}quant = #qrealign.quant<w_bits = 8, a_bits = 8, act_symmetric = true>}
// SYMACT-OV: qrealign.linear "o_proj" {{.*}}quant = #qrealign.quant<w_bits = 8, a_bits = 8>}

// W3: qrealign.linear "down_proj" {{.*}}quant = #qrealign.quant<w_bits = 3, granularity = per_group, group_size = 64>}
