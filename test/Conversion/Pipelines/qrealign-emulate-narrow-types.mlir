// RUN: qrealign-opt %s --qrealign-emulate-narrow-types --split-input-file | FileCheck %s
// Upstream clean-up keeps the result valid.
// RUN: qrealign-opt %s --qrealign-emulate-narrow-types --cse --canonicalize --split-input-file -o /dev/null

// Packed weight storage as convert-qrealign-to-linalg{narrow-levels} binds
// it: a view of the bytes as i4 levels. The view becomes the bytes; a
// vector of 16 levels is 8 bytes, split into low nibbles (even levels) and
// high nibbles (odd levels) and interleaved: element 0 of a byte in its low
// bits.
// CHECK-LABEL: func.func @levels
// CHECK-SAME: (%[[BYTES:.*]]: memref<8x8xi8>, %[[R:.*]]: index)
// CHECK-DAG: %[[FOUR:.*]] = arith.constant dense<4> : vector<8xi8>
// CHECK-DAG: %[[MASK:.*]] = arith.constant dense<15> : vector<8xi8>
// CHECK: %[[FLAT:.*]] = memref.collapse_shape %[[BYTES]] {{\[}}[0, 1]] : memref<8x8xi8> into memref<64xi8>
// CHECK-NOT: memref.view
// CHECK: %[[AT:.*]] = affine.apply #{{.*}}()[%[[R]]]
// CHECK: %[[V:.*]] = vector.load %[[FLAT]][%[[AT]]] : memref<64xi8>, vector<8xi8>
// CHECK: %[[LO:.*]] = arith.andi %[[V]], %[[MASK]] : vector<8xi8>
// CHECK: %[[HI:.*]] = arith.shrui %[[V]], %[[FOUR]] : vector<8xi8>
// CHECK: %[[L:.*]] = vector.interleave %[[LO]], %[[HI]] : vector<8xi8> -> vector<16xi8>
// CHECK: arith.extui %[[L]] : vector<16xi8> to vector<16xi32>
// CHECK-NOT: i4
func.func @levels(%bytes: memref<8x8xi8>, %r: index) -> vector<16xi32> {
  %c0 = arith.constant 0 : index
  %flat = memref.collapse_shape %bytes [[0, 1]] : memref<8x8xi8> into memref<64xi8>
  %levels = memref.view %flat[%c0][] : memref<64xi8> to memref<8x16xi4>
  %v = vector.load %levels[%r, %c0] : memref<8x16xi4>, vector<16xi4>
  %e = arith.extui %v : vector<16xi4> to vector<16xi32>
  return %e : vector<16xi32>
}

// -----

// An in-bounds transfer of levels is a plain load of bytes, not a masked
// one.
// CHECK-LABEL: func.func @transfer
// CHECK: vector.load %{{.*}} : memref<64xi8>, vector<4xi8>
// CHECK: vector.bitcast %{{.*}} : vector<4xi8> to vector<8xi4>
// CHECK-NOT: vector.transfer_read
// CHECK-NOT: vector.maskedload
func.func @transfer(%flat: memref<64xi8>, %r: index, %k: index) -> vector<8xi4> {
  %c0 = arith.constant 0 : index
  %pad = arith.constant 0 : i4
  %levels = memref.view %flat[%c0][] : memref<64xi8> to memref<8x16xi4>
  %v = vector.transfer_read %levels[%r, %k], %pad {in_bounds = [true]} : memref<8x16xi4>, vector<8xi4>
  return %v : vector<8xi4>
}

// -----

// A scalar level read through a subview at a dynamic offset: the subview
// is folded into the load, which reads the byte holding level (r, k) and
// shifts it by 4 bits when k is odd.
// CHECK-DAG: #[[BYTE:.*]] = affine_map<()[s0, s1] -> (s0 * 8 + s1 floordiv 2)>
// CHECK-DAG: #[[SHIFT:.*]] = affine_map<()[s0] -> (s0 * 4 - (s0 floordiv 2) * 8)>
// CHECK-LABEL: func.func @scalar
// CHECK-SAME: (%[[FLAT:.*]]: memref<64xi8>, %[[R:.*]]: index, %[[K:.*]]: index)
// CHECK-NOT: memref.subview
// CHECK: %[[AT:.*]] = affine.apply #[[BYTE]]()[%[[R]], %[[K]]]
// CHECK: %[[B:.*]] = memref.load %[[FLAT]][%[[AT]]] : memref<64xi8>
// CHECK: %[[S:.*]] = affine.apply #[[SHIFT]]()[%[[K]]]
// CHECK: %[[SI:.*]] = arith.index_cast %[[S]] : index to i8
// CHECK: %[[SH:.*]] = arith.shrsi %[[B]], %[[SI]] : i8
// CHECK: %[[L:.*]] = arith.trunci %[[SH]] : i8 to i4
// CHECK: arith.extui %[[L]] : i4 to i32
func.func @scalar(%flat: memref<64xi8>, %r: index, %k: index) -> i32 {
  %c0 = arith.constant 0 : index
  %levels = memref.view %flat[%c0][] : memref<64xi8> to memref<8x16xi4>
  %tile = memref.subview %levels[%r, 0] [2, 16] [1, 1] : memref<8x16xi4> to memref<2x16xi4, strided<[16, 1], offset: ?>>
  %l = memref.load %tile[%c0, %k] : memref<2x16xi4, strided<[16, 1], offset: ?>>
  %e = arith.extui %l : i4 to i32
  return %e : i32
}

// -----

// A sub-byte function argument becomes its bytes, flattened: the ABI
// changes.
// CHECK-LABEL: func.func @argument
// CHECK-SAME: (%[[ARG:.*]]: memref<64xi8>, %{{.*}}: index) -> vector<8xi4>
// CHECK: vector.load %[[ARG]][%{{.*}}] : memref<64xi8>, vector<4xi8>
func.func @argument(%levels: memref<8x16xi4>, %r: index) -> vector<8xi4> {
  %c8 = arith.constant 8 : index
  %v = vector.load %levels[%r, %c8] : memref<8x16xi4>, vector<8xi4>
  return %v : vector<8xi4>
}

// -----

// Nothing sub-byte: unchanged.
// CHECK-LABEL: func.func @bytes
// CHECK-SAME: (%[[B:.*]]: memref<8xi8>)
// CHECK: vector.load %[[B]][%{{.*}}] : memref<8xi8>, vector<8xi8>
func.func @bytes(%b: memref<8xi8>) -> vector<8xi8> {
  %c0 = arith.constant 0 : index
  %v = vector.load %b[%c0] : memref<8xi8>, vector<8xi8>
  return %v : vector<8xi8>
}

// -----

// Booleans (masks) keep a byte each, as the LLVM lowering lays them out.
// CHECK-LABEL: func.func @booleans
// CHECK-SAME: (%[[M:.*]]: memref<?x8xi1>, %[[R:.*]]: index)
// CHECK: memref.dim %[[M]]
// CHECK: vector.load %[[M]][%[[R]], %{{.*}}] : memref<?x8xi1>, vector<8xi1>
func.func @booleans(%m: memref<?x8xi1>, %r: index) -> (index, vector<8xi1>) {
  %c0 = arith.constant 0 : index
  %d = memref.dim %m, %c0 : memref<?x8xi1>
  %v = vector.load %m[%r, %c0] : memref<?x8xi1>, vector<8xi1>
  return %d, %v : index, vector<8xi1>
}
