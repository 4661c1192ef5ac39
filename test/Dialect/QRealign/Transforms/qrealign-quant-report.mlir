// RUN: qrealign-opt %S/Inputs/two-layers.mlir --qrealign-assign-quant="w-bits=4 group-size=32 skip=lm_head" --qrealign-quant-report -o /dev/null 2>&1 | FileCheck %s
// RUN: qrealign-opt %S/Inputs/two-layers.mlir --qrealign-quant-report -o /dev/null 2>&1 | FileCheck %s --check-prefix=FP

// Expected numbers, by hand: W4 g32 asymmetric stores 4 bits plus a 16-bit
// scale and a 4-bit zero point per 32 weights: 4 + 20/32 = 4.625 bits. A
// 64x64 q_proj is 8192 B in FP16 and 64*64*4.625/8 = 2368 B (2.3 KiB)
// quantized. In all: 2 * (2*64*64 + 2*32*64 + 3*128*64) = 73728 quantized
// weights plus a 96x64 FP16 head: 79872 weights, 159744 B (156.0 KiB) in
// FP16, 73728*4.625/8 + 12288 = 54912 B (53.6 KiB), 5.5 bits on average,
// 159744 / 54912 = 2.91x.

// CHECK: | layer | linear | weight | scheme | bits/weight | FP16 | quantized |
// CHECK: | 0 | q_proj | 64x64 | W4A16 g32 asym | 4.625 | 8.0 KiB | 2.3 KiB |
// CHECK: | 0 | k_proj | 32x64 | W4A16 g32 asym | 4.625 | 4.0 KiB | 1.2 KiB |
// CHECK: | 1 | down_proj | 64x128 | W4A16 g32 asym | 4.625 | 16.0 KiB | 4.6 KiB |
// CHECK: | - | lm_head | 96x64 | unquantized | 16.000 | 12.0 KiB | 12.0 KiB |
// CHECK: | total | 15 linears | 79872 weights | | 5.500 | 156.0 KiB | 53.6 KiB |
// CHECK: Linear weights: 156.0 KiB in FP16, 53.6 KiB quantized (2.91x smaller).

// FP: | 0 | q_proj | 64x64 | unquantized | 16.000 | 8.0 KiB | 8.0 KiB |
// FP: | total | 15 linears | 79872 weights | | 16.000 | 156.0 KiB | 156.0 KiB |
// FP: (1.00x smaller)
