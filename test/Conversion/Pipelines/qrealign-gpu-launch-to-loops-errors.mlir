// RUN: qrealign-opt %s --qrealign-gpu-launch-to-loops --split-input-file -verify-diagnostics

func.func @barrier(%x: memref<32xf32>) {
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  // expected-error @below {{qrealign-gpu-launch-to-loops: cannot run this launch on the host: 'gpu.barrier' (threads that cooperate, or the hardware's own operations)}}
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c32, %sy = %c1, %sz = %c1) {
    gpu.barrier
    gpu.terminator
  }
  return
}

// -----

func.func @async(%x: memref<32xf32>) {
  %c1 = arith.constant 1 : index
  %t0 = gpu.wait async
  // expected-error @below {{qrealign-gpu-launch-to-loops: cannot run this launch on the host: an asynchronous launch}}
  %t1 = gpu.launch async [%t0] blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    gpu.terminator
  }
  gpu.wait [%t1]
  return
}

// -----

func.func @blocks(%c: i1) {
  %c1 = arith.constant 1 : index
  // expected-error @below {{qrealign-gpu-launch-to-loops: cannot run this launch on the host: a kernel body of several blocks}}
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    cf.cond_br %c, ^a, ^b
  ^a:
    gpu.terminator
  ^b:
    gpu.terminator
  }
  return
}

// -----

func.func @async_alloc() {
  %t0 = gpu.wait async
  // expected-error @below {{qrealign-gpu-launch-to-loops: an asynchronous allocation}}
  %m, %t1 = gpu.alloc async [%t0] () : memref<32xf32>
  gpu.wait [%t1]
  return
}

// -----

func.func @async_free(%m: memref<32xf32>) {
  %t0 = gpu.wait async
  // expected-error @below {{qrealign-gpu-launch-to-loops: an asynchronous free}}
  %t1 = gpu.dealloc async [%t0] %m : memref<32xf32>
  gpu.wait [%t1]
  return
}
