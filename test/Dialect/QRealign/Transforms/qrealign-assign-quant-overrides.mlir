// RUN: qrealign-opt %S/Inputs/two-layers.mlir --qrealign-assign-quant="w-bits=4 group-size=32 overrides=L0:w-bits=8,down_proj:group-size=64:symmetric=true,L1.o_proj:w-bits=16:a-bits=8" | FileCheck %s
// Later overrides win over earlier ones.
// RUN: qrealign-opt %S/Inputs/two-layers.mlir --qrealign-assign-quant="w-bits=4 overrides=*:w-bits=8,lm_head:w-bits=2" | FileCheck %s --check-prefix=ORDER

// Layer 0 is at 8 bits (keeping the default group size).
// CHECK: qrealign.layer 0
// CHECK: qrealign.linear "q_proj" {{.*}}#qrealign.quant<w_bits = 8, granularity = per_group, group_size = 32>
// CHECK: qrealign.linear "o_proj" {{.*}}#qrealign.quant<w_bits = 8, granularity = per_group, group_size = 32>
// CHECK: qrealign.linear "down_proj" {{.*}}#qrealign.quant<w_bits = 8, granularity = per_group, group_size = 64, symmetric = true>
// CHECK: qrealign.layer 1
// CHECK: qrealign.linear "q_proj" {{.*}}#qrealign.quant<w_bits = 4, granularity = per_group, group_size = 32>
// w-bits=16 resets the weight-only fields: W16A8 is activation-only.
// CHECK: qrealign.linear "o_proj" {{.*}}#qrealign.quant<w_bits = 16, a_bits = 8>
// CHECK: qrealign.linear "gate_proj" {{.*}}#qrealign.quant<w_bits = 4, granularity = per_group, group_size = 32>
// CHECK: qrealign.linear "down_proj" {{.*}}#qrealign.quant<w_bits = 4, granularity = per_group, group_size = 64, symmetric = true>
// CHECK: qrealign.linear "lm_head" {{.*}}#qrealign.quant<w_bits = 4, granularity = per_group, group_size = 32>

// ORDER: qrealign.linear "down_proj" {{.*}}#qrealign.quant<w_bits = 8>
// ORDER: qrealign.linear "lm_head" {{.*}}#qrealign.quant<w_bits = 2>
