// RUN: qrealign-opt %s --lower-quant-ops | FileCheck %s --check-prefix=QUANT

// The upstream quant lowering is registered and works inside qrealign-opt.

// QUANT-LABEL: func.func @dequantize
// QUANT-NOT: quant.dcast
// QUANT: arith.sitofp
// QUANT: arith.mulf
func.func @dequantize(%w: tensor<4x!quant.uniform<i8:f32, 0.5>>) -> tensor<4xf32> {
  %0 = quant.dcast %w : tensor<4x!quant.uniform<i8:f32, 0.5>> to tensor<4xf32>
  return %0 : tensor<4xf32>
}
