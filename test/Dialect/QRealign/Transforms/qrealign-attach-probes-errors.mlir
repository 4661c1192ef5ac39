// Bad probe files and modules: one located error, the IR unchanged.
// RUN: rm -rf %t && mkdir -p %t
// RUN: %python %S/Inputs/make-probes.py %t/ok.safetensors --layers 2 --hidden 4
// RUN: %python %S/Inputs/make-probes.py %t/final.safetensors --layers 2 --hidden 4 --tensor "layers.1=the final norm's output (the LM head's input)"
// RUN: %python %S/Inputs/make-probes.py %t/wide.safetensors --layers 2 --hidden 8
// RUN: %python %S/Inputs/make-probes.py %t/three.safetensors --layers 3 --hidden 4
// RUN: %python %S/Inputs/make-probes.py %t/drop.safetensors --layers 2 --hidden 4 --drop layers.1
// RUN: %python %S/Inputs/make-probes.py %t/plain.safetensors --layers 2 --hidden 4 --no-format

// A probe fitted on another tensor (here the final norm's output recorded
// as probe layers.1) is refused, located on the layer.
// RUN: qrealign-opt %s --qrealign-attach-probes="file=%t/final.safetensors" --verify-diagnostics
module {
  func.func @f(%h: tensor<?x?x4xf32>) -> tensor<?x?x4xf32> {
    %0 = qrealign.layer 0 (%h) : (tensor<?x?x4xf32>) -> tensor<?x?x4xf32> {
    ^bb0(%x: tensor<?x?x4xf32>):
      qrealign.yield %x : tensor<?x?x4xf32>
    }
    // expected-error @+1 {{qrealign-attach-probes: probe 'layers.1' in}}
    %1 = qrealign.layer 1 (%0) : (tensor<?x?x4xf32>) -> tensor<?x?x4xf32> {
    ^bb0(%x: tensor<?x?x4xf32>):
      qrealign.yield %x : tensor<?x?x4xf32>
    }
    return %1 : tensor<?x?x4xf32>
  }
}

// RUN: not qrealign-opt %S/Inputs/two-probed-layers.mlir --qrealign-attach-probes="file=%t/final.safetensors" 2>&1 | FileCheck %s --check-prefix=FINAL
// FINAL: two-probed-layers.mlir:10:10: error: qrealign-attach-probes: probe 'layers.1' in {{.*}}final.safetensors was fitted on 'the final norm's output (the LM head's input)' at position -1, not on this layer's output at the last prompt token
// RUN: not qrealign-opt %S/Inputs/two-probed-layers.mlir --qrealign-attach-probes="file=%t/wide.safetensors" 2>&1 | FileCheck %s --check-prefix=WIDE
// WIDE: two-probed-layers.mlir:6:10: error: qrealign-attach-probes: probe 'layers.0' in {{.*}}wide.safetensors was fitted on hidden size 8; this layer's residual stream has 4
// RUN: not qrealign-opt %S/Inputs/two-probed-layers.mlir --qrealign-attach-probes="file=%t/three.safetensors" 2>&1 | FileCheck %s --check-prefix=THREE
// THREE: error: qrealign-attach-probes: the probes in {{.*}}three.safetensors were fitted on a model with 3 layers; this module has 2
// RUN: not qrealign-opt %S/Inputs/two-probed-layers.mlir --qrealign-attach-probes="file=%t/drop.safetensors" 2>&1 | FileCheck %s --check-prefix=DROP
// DROP: two-probed-layers.mlir:10:10: error: qrealign-attach-probes: {{.*}}drop.safetensors: tensors 'layers.1.weight' (F32 [4]) and 'layers.1.bias' (F32 [1]) are missing or of another shape
// RUN: not qrealign-opt %S/Inputs/two-probed-layers.mlir --qrealign-attach-probes="file=%t/plain.safetensors" 2>&1 | FileCheck %s --check-prefix=PLAIN
// PLAIN: error: qrealign-attach-probes: {{.*}}plain.safetensors is not a probes file
// RUN: not qrealign-opt %S/Inputs/two-probed-layers.mlir --qrealign-attach-probes 2>&1 | FileCheck %s --check-prefix=NOFILE
// NOFILE: error: qrealign-attach-probes: set file=PATH
// RUN: not qrealign-opt %S/Inputs/two-probed-layers.mlir --qrealign-attach-probes="file=%t/missing.safetensors" 2>&1 | FileCheck %s --check-prefix=MISSING
// MISSING: error: qrealign-attach-probes: {{.*}}missing.safetensors
// Attaching twice: the layers already carry boundaries, and the scope is
// taken.
// RUN: qrealign-opt %S/Inputs/two-probed-layers.mlir --qrealign-attach-probes="file=%t/ok.safetensors" -o %t/once.mlir
// RUN: not qrealign-opt %t/once.mlir --qrealign-attach-probes="file=%t/ok.safetensors" 2>&1 | FileCheck %s --check-prefix=SCOPE
// SCOPE: error: qrealign-attach-probes: scope 'probes' is already mapped
// RUN: not qrealign-opt %t/once.mlir --qrealign-attach-probes="file=%t/ok.safetensors scope=again" 2>&1 | FileCheck %s --check-prefix=TWICE
// TWICE: error: qrealign-attach-probes: the layer already has a safety boundary
