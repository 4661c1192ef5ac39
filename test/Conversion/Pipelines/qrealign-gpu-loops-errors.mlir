// RUN: qrealign-opt %s --qrealign-gpu-loops --split-input-file -verify-diagnostics

func.func @tensors(%x: tensor<8xf32>) -> tensor<8xf32> {
  // expected-error @below {{qrealign-gpu-loops: expects bufferized IR (this op still works on tensors)}}
  %r = linalg.generic {indexing_maps = [affine_map<(i) -> (i)>, affine_map<(i) -> (i)>], iterator_types = ["parallel"]} ins(%x : tensor<8xf32>) outs(%x : tensor<8xf32>) {
  ^bb0(%a: f32, %b: f32):
    %n = arith.negf %a : f32
    linalg.yield %n : f32
  } -> tensor<8xf32>
  return %r : tensor<8xf32>
}

// -----

func.func @full_reduction(%x: memref<64xf32>, %s: memref<f32>) {
  // expected-error @below {{qrealign-gpu-loops: no parallel dimension to map to GPU threads (a reduction to one value)}}
  linalg.generic {indexing_maps = [affine_map<(k) -> (k)>, affine_map<(k) -> ()>], iterator_types = ["reduction"]} ins(%x : memref<64xf32>) outs(%s : memref<f32>) {
  ^bb0(%a: f32, %acc: f32):
    %r = arith.addf %a, %acc : f32
    linalg.yield %r : f32
  }
  return
}

// -----

func.func @host_read(%x: memref<64xf32>) -> f32 {
  %c0 = arith.constant 0 : index
  // expected-error @below {{qrealign-gpu-loops: the host would access device memory here}}
  %v = memref.load %x[%c0] : memref<64xf32>
  return %v : f32
}

// -----

func.func private @size() -> index

func.func @nested_alloc(%c: i1, %x: memref<?xf32>) {
  scf.if %c {
    %n = func.call @size() : () -> index
    // expected-error @below {{qrealign-gpu-loops: a device buffer allocated in a nested region of host code, its size computed there (no place to free it)}}
    %t = memref.alloc(%n) : memref<?xf32>
    linalg.copy ins(%x : memref<?xf32>) outs(%t : memref<?xf32>)
  }
  return
}

// -----

func.func @blocks(%x: memref<64xf32>) {
  // expected-error @below {{qrealign-gpu-loops: host code with several blocks (no single place to free this buffer)}}
  %t = memref.alloc() : memref<64xf32>
  linalg.copy ins(%x : memref<64xf32>) outs(%t : memref<64xf32>)
  cf.br ^end
^end:
  return
}

// -----

func.func @strided_through_branch(%c: i1, %x: memref<64xf32>) -> memref<32xf32, strided<[2]>> {
  %r = scf.if %c -> memref<32xf32, strided<[2]>> {
    %v = memref.subview %x[0] [32] [2] : memref<64xf32> to memref<32xf32, strided<[2]>>
    scf.yield %v : memref<32xf32, strided<[2]>>
  } else {
    %v = memref.subview %x[0] [32] [2] : memref<64xf32> to memref<32xf32, strided<[2]>>
    scf.yield %v : memref<32xf32, strided<[2]>>
  }
  // expected-error @below {{qrealign-gpu-loops: a buffer with a layout returned through a branch or loop}}
  return %r : memref<32xf32, strided<[2]>>
}
