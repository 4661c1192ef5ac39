// RUN: rm -rf %t && mkdir -p %t
// RUN: %python %S/Inputs/make-probes.py %t/probes.safetensors --layers 2 --hidden 4
// RUN: qrealign-opt %S/Inputs/two-probed-layers.mlir --qrealign-attach-probes="file=%t/probes.safetensors" -o %t/probed.mlir
// RUN: FileCheck %s --input-file %t/probed.mlir
// Upstream clean-up keeps the boundaries and the parameters they name.
// RUN: qrealign-opt %t/probed.mlir --cse --canonicalize --symbol-dce | FileCheck %s --check-prefix=DCE

// Each layer gets the probe fitted on its output; the data stay in the
// probes file, mapped as scope `probes` relative to the output IR.
// CHECK: module attributes {qrealign.params = {probes = "probes.safetensors"}}
// CHECK: qrealign.param @w
// CHECK-NEXT: qrealign.param @probes.layers.0.weight : tensor<4xf32> = #qrealign.external<"probes"::"layers.0.weight">
// CHECK-NEXT: qrealign.param @probes.layers.0.bias : tensor<1xf32> = #qrealign.external<"probes"::"layers.0.bias">
// CHECK-NEXT: qrealign.param @probes.layers.1.weight : tensor<4xf32>
// CHECK-NEXT: qrealign.param @probes.layers.1.bias : tensor<1xf32>
// CHECK-NOT: final_norm
// CHECK: qrealign.layer 0 boundary <weight = @probes.layers.0.weight, bias = @probes.layers.0.bias, position = -1, accuracy = 9.000000e-01>
// CHECK: qrealign.layer 1 boundary <weight = @probes.layers.1.weight, bias = @probes.layers.1.bias, position = -1, accuracy = 9.000000e-01>

// DCE: qrealign.param @probes.layers.0.weight
// DCE: qrealign.param @probes.layers.1.bias
// DCE: qrealign.layer 1 boundary <weight = @probes.layers.1.weight
