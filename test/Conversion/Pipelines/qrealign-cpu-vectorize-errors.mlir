// RUN: qrealign-opt %s --verify-diagnostics --pass-pipeline='builtin.module(qrealign-cpu-vectorize{tile-rows=-2})'
// RUN: not qrealign-opt %s --pass-pipeline='builtin.module(qrealign-cpu-vectorize{lanes=-8})' 2>&1 | FileCheck %s --check-prefix=LANES
// RUN: not qrealign-opt %s --qrealign-lower-to-cpu=tile-rows=-1 2>&1 | FileCheck %s --check-prefix=PIPELINE

// LANES: error: qrealign-cpu-vectorize: tile-rows (0) and lanes (-8) must be positive, or 0 for the host's
// PIPELINE: error: qrealign-cpu-vectorize: tile-rows (-1) and lanes (0) must be positive, or 0 for the host's
// expected-error @below {{qrealign-cpu-vectorize: tile-rows (-2) and lanes (0) must be positive, or 0 for the host's}}
module {
  func.func @f() {
    return
  }
}
