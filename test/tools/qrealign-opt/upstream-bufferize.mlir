// RUN: qrealign-opt %s --one-shot-bufferize="bufferize-function-boundaries" --convert-linalg-to-loops | FileCheck %s --check-prefix=LOOPS

// The upstream passes the lowering pipeline builds on are registered and
// work inside qrealign-opt: bufferization and linalg lowering.

// LOOPS-LABEL: func.func @matmul
// LOOPS: scf.for
// LOOPS: memref.load
// LOOPS: arith.mulf
func.func @matmul(%a: tensor<4x8xf32>, %b: tensor<8x2xf32>, %c: tensor<4x2xf32>) -> tensor<4x2xf32> {
  %0 = linalg.matmul ins(%a, %b : tensor<4x8xf32>, tensor<8x2xf32>) outs(%c : tensor<4x2xf32>) -> tensor<4x2xf32>
  return %0 : tensor<4x2xf32>
}

