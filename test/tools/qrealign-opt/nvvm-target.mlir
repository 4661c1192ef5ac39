// REQUIRES: nvvm-target
// RUN: qrealign-opt %s --nvvm-attach-target="chip=sm_90 features=+ptx80" | FileCheck %s
// RUN: qrealign-opt --help | FileCheck %s --check-prefix=HELP

// Builds with QREALIGN_WITH_NVVM_TARGET (the default for dylib builds) can
// target NVVM: attach an sm_90 target to a GPU module, and run the named
// GPU-to-NVVM pipeline.

// CHECK: gpu.module @kernels [#nvvm.target<chip = "sm_90", features = "+ptx80">]
gpu.module @kernels {
  gpu.func @noop() kernel {
    gpu.return
  }
}

// HELP: --gpu-lower-to-nvvm-pipeline
