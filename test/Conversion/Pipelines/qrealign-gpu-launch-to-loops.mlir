// RUN: qrealign-opt %s --qrealign-gpu-loops --qrealign-gpu-launch-to-loops --canonicalize --cse | FileCheck %s

// The launch qrealign-gpu-loops builds becomes loops over blocks, then
// threads; its guard stays; the device buffer is a host buffer again.
// CHECK-LABEL: func.func @scale
// CHECK-SAME: (%[[X:.*]]: memref<?xf32>, %[[Y:.*]]: memref<?xf32>)
// CHECK-DAG: %[[C256:.*]] = arith.constant 256 : index
// CHECK: %[[N:.*]] = memref.dim %[[X]], %c0
// CHECK: %[[T:.*]] = memref.alloc(%[[N]]) : memref<?xf32>
// CHECK: %[[BX:.*]] = affine.apply #{{.*}}()[%[[N]]]
// CHECK: scf.for %[[B:.*]] = %c0 to %[[BX]] step %c1 {
// CHECK: scf.for %[[TX:.*]] = %c0 to %[[C256]] step %c1 {
// CHECK: arith.cmpi ult, %{{.*}}, %[[N]]
// CHECK: scf.if
// CHECK: arith.mulf
// CHECK: memref.store %{{.*}}, %[[T]]
// CHECK-NOT: gpu.
// CHECK: memref.dealloc %[[T]]
// CHECK-NEXT: return
func.func @scale(%x: memref<?xf32>, %y: memref<?xf32>) {
  %c0 = arith.constant 0 : index
  %n = memref.dim %x, %c0 : memref<?xf32>
  %t = memref.alloc(%n) : memref<?xf32>
  linalg.generic {indexing_maps = [affine_map<(i) -> (i)>, affine_map<(i) -> (i)>], iterator_types = ["parallel"]} ins(%x : memref<?xf32>) outs(%t : memref<?xf32>) {
  ^bb0(%a: f32, %b: f32):
    %d = arith.mulf %a, %a : f32
    linalg.yield %d : f32
  }
  linalg.copy ins(%t : memref<?xf32>) outs(%y : memref<?xf32>)
  return
}
