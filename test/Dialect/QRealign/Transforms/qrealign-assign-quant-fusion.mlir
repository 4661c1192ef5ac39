// RUN: qrealign-opt %S/Inputs/two-layers.mlir --qrealign-assign-quant="w-bits=4 overrides=L1.k_proj:w-bits=8,L0.up_proj:symmetric=true skip=L1.gate_proj" --qrealign-check-fusion | FileCheck %s

// An override or skip of one member of a fusion group (the linears of a
// layer with the same `fusion` name: q/k/v, gate/up) applies to the whole
// group of that layer, and only to it; the result is deployable
// (qrealign-check-fusion passes).

// CHECK: qrealign.layer 0
// CHECK: qrealign.linear "q_proj" {{.*}}#qrealign.quant<w_bits = 4>}
// CHECK: qrealign.linear "k_proj" {{.*}}#qrealign.quant<w_bits = 4>}
// CHECK: qrealign.linear "gate_proj" {{.*}}#qrealign.quant<w_bits = 4, symmetric = true>}
// CHECK: qrealign.linear "up_proj" {{.*}}#qrealign.quant<w_bits = 4, symmetric = true>}
// CHECK: qrealign.linear "down_proj" {{.*}}#qrealign.quant<w_bits = 4>}
// CHECK: qrealign.layer 1
// CHECK: qrealign.linear "q_proj" {{.*}}#qrealign.quant<w_bits = 8>}
// CHECK: qrealign.linear "k_proj" {{.*}}#qrealign.quant<w_bits = 8>}
// CHECK: qrealign.linear "v_proj" {{.*}}#qrealign.quant<w_bits = 8>}
// CHECK: qrealign.linear "o_proj" {{.*}}#qrealign.quant<w_bits = 4>}
// CHECK: qrealign.linear "gate_proj" %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}} {fusion = "gate_up"} : (
// CHECK: qrealign.linear "up_proj" %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}} {fusion = "gate_up"} : (
// CHECK: qrealign.linear "down_proj" {{.*}}#qrealign.quant<w_bits = 4>}
