// Checked after upstream clean-up (which folds the launch sizes to
// constants, and must keep the result valid).
// RUN: qrealign-opt %s --qrealign-gpu-loops --canonicalize --cse --split-input-file | FileCheck %s
// RUN: qrealign-opt %s --qrealign-gpu-loops="max-threads=128" --canonicalize --split-input-file | FileCheck %s --check-prefix=T128

// An elementwise op of dynamic sizes: the inner dimension across 256
// threads, ceil(n / 256) blocks on x, the rows on y; the last block guarded.
// CHECK-LABEL: func.func @elementwise
// CHECK-SAME: (%[[X:.*]]: memref<?x?xf32>, %[[Y:.*]]: memref<?x?xf32>)
// CHECK-DAG: %[[C256:.*]] = arith.constant 256 : index
// CHECK-DAG: %[[M:.*]] = memref.dim %[[X]], %c0
// CHECK-DAG: %[[N:.*]] = memref.dim %[[X]], %c1
// CHECK: %[[BX:.*]] = affine.apply #{{.*}}()[%[[N]]]
// CHECK: gpu.launch blocks(%[[BI:.*]], %[[BJ:.*]], %{{.*}}) in (%{{.*}} = %[[BX]], %{{.*}} = %[[M]], %{{.*}} = %c1) threads(%[[TX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[C256]], %{{.*}} = %c1, %{{.*}} = %c1)
// CHECK: %[[J:.*]] = arith.addi %[[TX]], %{{.*}} : index
// CHECK-DAG: arith.cmpi ult, %[[BJ]], %[[M]]
// CHECK-DAG: arith.cmpi ult, %[[J]], %[[N]]
// CHECK: scf.if
// CHECK: memref.load %[[X]]
// CHECK: math.exp
// CHECK: memref.store %{{.*}}, %[[Y]]
// CHECK: gpu.terminator
// CHECK-NOT: linalg.generic
// T128-LABEL: func.func @elementwise
// T128: threads(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %c128,
func.func @elementwise(%x: memref<?x?xf32>, %y: memref<?x?xf32>) {
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%x : memref<?x?xf32>) outs(%y : memref<?x?xf32>) {
  ^bb0(%a: f32, %b: f32):
    %e = math.exp %a : f32
    linalg.yield %e : f32
  }
  return
}

// -----

// A row reduction: rows across threads (64 of them: the power of two from
// 32 that covers the static extent), the reduction in sequence per thread.
// CHECK-LABEL: func.func @row_max
// CHECK-DAG: %[[C64:.*]] = arith.constant 64 : index
// CHECK: gpu.launch blocks({{.*}}) in (%{{.*}} = %c1, %{{.*}} = %c1, %{{.*}} = %c1) threads(%[[T:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[C64]],
// CHECK: arith.cmpi ult, %[[T]], %c40
// CHECK: scf.if
// CHECK: scf.for %{{.*}} = %c0 to %c4096
// CHECK: arith.maximumf
func.func @row_max(%x: memref<40x4096xf32>, %y: memref<40xf32>) {
  linalg.generic {indexing_maps = [affine_map<(i, k) -> (i, k)>, affine_map<(i, k) -> (i)>], iterator_types = ["parallel", "reduction"]} ins(%x : memref<40x4096xf32>) outs(%y : memref<40xf32>) {
  ^bb0(%a: f32, %m: f32):
    %r = arith.maximumf %a, %m : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// A trailing unit dimension is not the threaded one: the 128 rows are.
// CHECK-LABEL: func.func @unit_inner
// CHECK-DAG: %[[C128:.*]] = arith.constant 128 : index
// CHECK: gpu.launch blocks({{.*}}) in (%{{.*}} = %c1, %{{.*}} = %c1, %{{.*}} = %c1) threads(%[[T:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[C128]], %{{.*}} = %c1, %{{.*}} = %c1)
// CHECK: memref.store %{{.*}}, %{{.*}}[%[[T]], %c0]
func.func @unit_inner(%y: memref<128x1xi32>) {
  %zero = arith.constant 0 : i32
  linalg.fill ins(%zero : i32) outs(%y : memref<128x1xi32>)
  return
}

// -----

// Host buffers become device buffers; the one the function returns is the
// caller's, the other is freed at the end. A host copy becomes a kernel.
// CHECK-LABEL: func.func @buffers
// CHECK: %[[T:.*]] = gpu.alloc () : memref<64xf32>
// CHECK: gpu.launch
// CHECK: %[[R:.*]] = gpu.alloc () : memref<64xf32>
// CHECK: gpu.launch
// CHECK: %[[V:.*]] = memref.load %[[T]]
// CHECK: memref.store %[[V]], %[[R]]
// CHECK-NOT: memref.copy
// CHECK-NOT: memref.alloc
// CHECK: gpu.dealloc %[[T]] : memref<64xf32>
// CHECK-NOT: gpu.dealloc
// CHECK: return %[[R]]
func.func @buffers(%x: memref<64xf32>) -> memref<64xf32> {
  %t = memref.alloc() : memref<64xf32>
  linalg.generic {indexing_maps = [affine_map<(i) -> (i)>, affine_map<(i) -> (i)>], iterator_types = ["parallel"]} ins(%x : memref<64xf32>) outs(%t : memref<64xf32>) {
  ^bb0(%a: f32, %b: f32):
    %n = arith.negf %a : f32
    linalg.yield %n : f32
  }
  %r = memref.alloc() : memref<64xf32>
  memref.copy %t, %r : memref<64xf32> to memref<64xf32>
  return %r : memref<64xf32>
}

// -----

// A buffer allocated in a host branch (the few-rows / many-rows choice of a
// packed linear) moves to the function body with the ops computing its
// size, and is freed at the end.
// CHECK-LABEL: func.func @branch
// CHECK-SAME: (%[[C:.*]]: i1, %[[X:.*]]: memref<?xf32>)
// CHECK: %[[N:.*]] = memref.dim %[[X]], %c0
// CHECK: %[[T:.*]] = gpu.alloc (%[[N]]) : memref<?xf32>
// CHECK: scf.if %[[C]]
// CHECK: gpu.launch
// CHECK: gpu.dealloc %[[T]]
// CHECK-NEXT: return
func.func @branch(%c: i1, %x: memref<?xf32>) {
  scf.if %c {
    %c0 = arith.constant 0 : index
    %n = memref.dim %x, %c0 : memref<?xf32>
    %t = memref.alloc(%n) : memref<?xf32>
    linalg.copy ins(%x : memref<?xf32>) outs(%t : memref<?xf32>)
  }
  return
}

// -----

// A buffer returned through a branch (each form of a packed linear
// allocates the value cache it returns) is copied into a buffer of its own:
// the caller frees that one, the function end the branch's.
// CHECK-LABEL: func.func @returned_through_branch
// CHECK-SAME: (%[[C:.*]]: i1, %[[X:.*]]: memref<?xf32>)
// CHECK: %[[T:.*]] = gpu.alloc (%{{.*}}) : memref<?xf32>
// CHECK: scf.if %[[C]]
// CHECK: %[[OWN:.*]] = gpu.alloc (%{{.*}}) : memref<?xf32>
// CHECK: gpu.launch
// CHECK: memref.store %{{.*}}, %[[OWN]]
// CHECK: gpu.dealloc %[[T]]
// CHECK-NOT: gpu.dealloc
// CHECK: return %[[OWN]]
func.func @returned_through_branch(%c: i1, %x: memref<?xf32>) -> memref<?xf32> {
  %r = scf.if %c -> memref<?xf32> {
    %c0 = arith.constant 0 : index
    %n = memref.dim %x, %c0 : memref<?xf32>
    %t = memref.alloc(%n) : memref<?xf32>
    linalg.copy ins(%x : memref<?xf32>) outs(%t : memref<?xf32>)
    scf.yield %t : memref<?xf32>
  } else {
    scf.yield %x : memref<?xf32>
  }
  return %r : memref<?xf32>
}

// -----

// A free written in the input stays, and is the only one: no second free
// at the end (whether the input freed a host or a device buffer).
// CHECK-LABEL: func.func @freed_by_hand
// CHECK: %[[A:.*]] = gpu.alloc () : memref<64xf32>
// CHECK: %[[B:.*]] = gpu.alloc () : memref<64xf32>
// CHECK: gpu.launch
// CHECK-NOT: gpu.dealloc
// CHECK: gpu.dealloc %[[A]]
// CHECK-NEXT: gpu.dealloc %[[B]]
// CHECK-NEXT: return
func.func @freed_by_hand(%x: memref<64xf32>) {
  %a = memref.alloc() : memref<64xf32>
  %b = gpu.alloc () : memref<64xf32>
  linalg.copy ins(%x : memref<64xf32>) outs(%a : memref<64xf32>)
  memref.dealloc %a : memref<64xf32>
  gpu.dealloc %b : memref<64xf32>
  return
}
