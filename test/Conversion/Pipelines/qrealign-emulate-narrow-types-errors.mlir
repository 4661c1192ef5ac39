// RUN: qrealign-opt %s --qrealign-emulate-narrow-types --split-input-file -verify-diagnostics

func.func @shifted(%flat: memref<72xi8>, %r: index) -> i4 {
  %c8 = arith.constant 8 : index
  // expected-error @below {{'memref.view' op of sub-byte elements must start at byte 0}}
  %levels = memref.view %flat[%c8][] : memref<72xi8> to memref<8x16xi4>
  %l = memref.load %levels[%r, %r] : memref<8x16xi4>
  return %l : i4
}

// -----

func.func @larger(%flat: memref<72xi8>, %r: index) -> i4 {
  %c0 = arith.constant 0 : index
  // expected-error @below {{'memref.view' op of sub-byte elements must cover its source exactly ('memref<72xi8>' is not 'memref<64xi8>')}}
  %levels = memref.view %flat[%c0][] : memref<72xi8> to memref<8x16xi4>
  %l = memref.load %levels[%r, %r] : memref<8x16xi4>
  return %l : i4
}

// -----

// expected-error @below {{'func.func' op argument #0 of sub-byte type 'memref<?x16xi4>' must have a static shape (the emulated function passes its bytes flattened)}}
func.func @dynamic_argument(%levels: memref<?x16xi4>, %r: index) -> i4 {
  %l = memref.load %levels[%r, %r] : memref<?x16xi4>
  return %l : i4
}

// -----

// expected-error @below {{'func.func' op result #0 of sub-byte type 'memref<?xi4>' must have a static shape (the emulated function passes its bytes flattened)}}
func.func @dynamic_result(%n: index) -> memref<?xi4> {
  %levels = memref.alloc(%n) : memref<?xi4>
  return %levels : memref<?xi4>
}
