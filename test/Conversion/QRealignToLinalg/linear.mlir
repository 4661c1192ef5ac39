// RUN: qrealign-opt %s --convert-qrealign-to-linalg | FileCheck %s
// Upstream clean-up keeps the lowered IR valid.
// RUN: qrealign-opt %s --convert-qrealign-to-linalg --cse --canonicalize | FileCheck %s --check-prefix=CLEAN
// After elementwise fusion, a W4A16 linear is still one contraction.
// With static rows above packed-rows-limit, the generic form alone.
// RUN: qrealign-opt %s --convert-qrealign-to-linalg=packed-rows-limit=2 | FileCheck %s --check-prefix=GENERIC
// RUN: qrealign-opt %s --convert-qrealign-to-linalg=packed-int-rows-limit=0 | FileCheck %s --check-prefix=INTUNPACKED
// RUN: qrealign-opt %s --pass-pipeline='builtin.module(func.func(convert-qrealign-to-linalg,linalg-fuse-elementwise-ops),canonicalize,cse)' | FileCheck %s --check-prefix=FUSED

// A float linear: the leading axes stay (no reshape of dynamic sizes), a
// bf16 weight is widened in the body, the bias added after the contraction.
// CHECK-DAG: #[[X:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
// CHECK-DAG: #[[W:.*]] = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
// CHECK-DAG: #[[Y:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// The maps of the packed W4A16 linears below.
// CHECK-DAG: #[[XB:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d2, d4, d3)>
// CHECK-DAG: #[[PB:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d1, d2, d4)>
// CHECK-DAG: #[[SB:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d1, d2)>
// CHECK-DAG: #[[YB:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1)>
// CHECK-DAG: #[[XW:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d3, d5, d4)>
// CHECK-DAG: #[[PW:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d2, d3, d5)>
// CHECK-LABEL: func.func @float_linear
// CHECK-SAME: (%[[IN:.*]]: tensor<?x?x64xf32>, %[[WT:.*]]: tensor<32x64xbf16>, %[[B:.*]]: tensor<32xbf16>)
// CHECK: %[[FILL:.*]] = linalg.fill
// CHECK: %[[MM:.*]] = linalg.generic {indexing_maps = [#[[X]], #[[W]], #[[Y]]], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%[[IN]], %[[WT]] : tensor<?x?x64xf32>, tensor<32x64xbf16>) outs(%[[FILL]] : tensor<?x?x32xf32>)
// CHECK: arith.extf %{{.*}} : bf16 to f32
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: linalg.generic {{.*}} ins(%[[MM]], %[[B]] : tensor<?x?x32xf32>, tensor<32xbf16>)
// CHECK-NOT: qrealign.
// CHECK: return
func.func @float_linear(%x: tensor<?x?x64xf32>, %w: tensor<32x64xbf16>, %b: tensor<32xbf16>) -> tensor<?x?x32xf32> {
  %y = qrealign.linear "q_proj" %x, %w bias %b : (tensor<?x?x64xf32>, tensor<32x64xbf16>, tensor<32xbf16>) -> tensor<?x?x32xf32>
  return %y : tensor<?x?x32xf32>
}

// W4A16 g32: one contraction reads the packed bytes themselves. Loops
// (m, n, g, j, b): byte b of group g, nibble j (low first, offset-binary),
// x read as [M, G, B, 2]; (q - z) * s in the body; units innermost.
// CHECK-LABEL: func.func @w4a16
// CHECK: %[[BYTES:.*]] = tensor.bitcast %{{.*}} : tensor<32x32xui8> to tensor<32x32xi8>
// CHECK: %[[UNITS:.*]] = tensor.expand_shape %[[BYTES]] {{\[}}[0], [1, 2]] output_shape [32, 2, 16] : tensor<32x32xi8> into tensor<32x2x16xi8>
// CHECK: %[[XG:.*]] = tensor.expand_shape %{{.*}} {{\[}}[0], [1, 2, 3]] output_shape [4, 2, 16, 2] : tensor<4x64xf32> into tensor<4x2x16x2xf32>
// CHECK: linalg.generic {indexing_maps = [#[[XB]], #[[PB]], #[[SB]], #[[SB]], #[[YB]]], iterator_types = ["parallel", "parallel", "reduction", "reduction", "reduction"]} ins(%[[XG]], %[[UNITS]], %{{.*}}, %{{.*}} : tensor<4x2x16x2xf32>, tensor<32x2x16xi8>, tensor<32x2xf32>, tensor<32x2xi8>) outs(%{{.*}} : tensor<4x32xf32>)
// CHECK: %[[U:.*]] = arith.extui %{{.*}} : i8 to i32
// CHECK: %[[J:.*]] = linalg.index 3
// CHECK: %[[JI:.*]] = arith.index_cast %[[J]]
// CHECK: %[[SH:.*]] = arith.muli %[[JI]], %c4_i32
// CHECK: %[[NIB:.*]] = arith.shrui %[[U]], %[[SH]]
// CHECK: %[[LV:.*]] = arith.andi %[[NIB]], %c15_i32
// CHECK: %[[Q:.*]] = arith.subi %[[LV]], %c8_i32
// CHECK: %[[Z:.*]] = arith.extsi %{{.*}} : i8 to i32
// CHECK: %[[QZ:.*]] = arith.subi %[[Q]], %[[Z]]
// CHECK: arith.sitofp %[[QZ]]
// CHECK: arith.mulf
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK-NOT: linalg.generic
// CHECK: return
// The generic form: each group's nibbles de-interleaved (its low nibbles,
// then its high ones), in the dequantized weight and the input alike, then
// a float contraction. The bytes are read along the innermost loop (b), the
// input's pairs as (g, b, u) from loops (m, g, u, b).
// GENERIC-DAG: #[[BYTEMAP:map[0-9]*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
// GENERIC-DAG: #[[XMAP:map[0-9]*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3, d2)>
// GENERIC-LABEL: func.func @w4a16
// GENERIC-NOT: scf.if
// GENERIC: %[[B3:.*]] = tensor.expand_shape %{{.*}} {{\[}}[0], [1, 2]] output_shape [32, 2, 16] : tensor<32x32xi8> into tensor<32x2x16xi8>
// GENERIC: %[[WH:.*]] = linalg.generic {indexing_maps = [#[[BYTEMAP]], #{{.*}}, #{{.*}}, #{{.*}}], {{.*}} ins(%[[B3]], {{.*}} outs(%{{.*}} : tensor<32x2x2x16xf32>)
// GENERIC: linalg.index 2 : index
// GENERIC: %[[W:.*]] = tensor.collapse_shape %[[WH]] {{\[}}[0], [1, 2, 3]] : tensor<32x2x2x16xf32> into tensor<32x64xf32>
// GENERIC: %[[X4:.*]] = tensor.expand_shape %{{.*}} {{\[}}[0], [1, 2, 3]] output_shape [4, 2, 16, 2] : tensor<4x64xf32> into tensor<4x2x16x2xf32>
// GENERIC: %[[XH:.*]] = linalg.generic {indexing_maps = [#[[XMAP]], #{{.*}}], {{.*}} ins(%[[X4]] : tensor<4x2x16x2xf32>) outs(%{{.*}} : tensor<4x2x2x16xf32>)
// GENERIC: %[[X:.*]] = tensor.collapse_shape %[[XH]] {{\[}}[0], [1, 2, 3]] : tensor<4x2x2x16xf32> into tensor<4x64xf32>
// GENERIC: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[X]], %[[W]] : tensor<4x64xf32>, tensor<32x64xf32>)
// GENERIC-LABEL: func.func @dequantize_nibbles
// FUSED-LABEL: func.func @w4a16
// FUSED-COUNT-1: linalg.generic
// FUSED-NOT: linalg.generic
// FUSED: return
func.func @w4a16(%x: tensor<4x64xf32>, %p: tensor<32x32xui8>, %s: tensor<32x2xf32>, %z: tensor<32x2xi8>) -> tensor<4x32xf32> {
  %w = qrealign.dequantize %p, %s zero_point %z bits = 4 : (tensor<32x32xui8>, tensor<32x2xf32>, tensor<32x2xi8>) -> tensor<32x64xf32>
  %y = qrealign.linear "q_proj" %x, %w {quant = #qrealign.quant<w_bits = 4, granularity = per_group, group_size = 32>} : (tensor<4x64xf32>, tensor<32x64xf32>) -> tensor<4x32xf32>
  return %y : tensor<4x32xf32>
}

// A dequantize that feeds no linear (the generic form): one op reads the
// ui8 bytes as i8, group by group, loops (n, g, b, u) for nibble u of byte
// b (low nibble first: the byte shifted right by 4u, offset-binary), and
// computes (q - z) * s.
// CHECK-LABEL: func.func @dequantize_nibbles
// CHECK: %[[BYTES:.*]] = tensor.bitcast %{{.*}} : tensor<32x32xui8> to tensor<32x32xi8>
// CHECK: %[[GROUPED:.*]] = tensor.expand_shape %[[BYTES]] {{\[}}[0], [1, 2]] output_shape [32, 2, 16] : tensor<32x32xi8> into tensor<32x2x16xi8>
// CHECK: %[[PAIRS:.*]] = linalg.generic {{.*}} ins(%[[GROUPED]], %{{.*}}, %{{.*}} : tensor<32x2x16xi8>, tensor<32x2xf32>, tensor<32x2xi8>) outs(%{{.*}} : tensor<32x2x16x2xf32>)
// CHECK: %[[BYTE:.*]] = arith.extui %{{.*}} : i8 to i32
// CHECK: %[[U:.*]] = linalg.index 3 : index
// CHECK: %[[U32:.*]] = arith.index_cast %[[U]] : index to i32
// CHECK: %[[SHIFT:.*]] = arith.muli %[[U32]], %c4_i32
// CHECK: %[[SHIFTED:.*]] = arith.shrui %[[BYTE]], %[[SHIFT]]
// CHECK: %[[NIB:.*]] = arith.andi %[[SHIFTED]], %c15_i32
// CHECK: %[[Q:.*]] = arith.subi %[[NIB]], %c8_i32 : i32
// CHECK: arith.subi %[[Q]]
// CHECK: arith.sitofp
// CHECK: arith.mulf
// CHECK: tensor.collapse_shape %[[PAIRS]] {{\[}}[0], [1, 2, 3]] : tensor<32x2x16x2xf32> into tensor<32x64xf32>
func.func @dequantize_nibbles(%p: tensor<32x32xui8>, %s: tensor<32x2xf32>, %z: tensor<32x2xi8>) -> tensor<32x64xf32> {
  %w = qrealign.dequantize %p, %s zero_point %z bits = 4 : (tensor<32x32xui8>, tensor<32x2xf32>, tensor<32x2xi8>) -> tensor<32x64xf32>
  return %w : tensor<32x64xf32>
}

// W8A8, per-channel asymmetric weights, dynamic per-token activations: the
// integer path.
// CHECK-LABEL: func.func @w8a8
// CHECK-SAME: (%[[X8:.*]]: tensor<?x?x64xf32>, %[[P8:.*]]: tensor<32x64xi8>, %[[S8:.*]]: tensor<32x1xf32>, %[[Z8:.*]]: tensor<32x1xi8>)
// The constants of the path (hoisted): 2^8 - 1, the scale floor, the level
// offset 2^7, the group width.
// CHECK-DAG: arith.constant 2.550000e+02 : f32
// CHECK-DAG: arith.constant 9.99999993E-9 : f32
// CHECK-DAG: arith.constant 128 : i32
// CHECK-DAG: arith.constant 64 : i32
// 1. Per-token range from 0, scale and zero point, levels.
// CHECK: %[[MM8:.*]]:2 = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[X8]] : tensor<?x?x64xf32>)
// CHECK: arith.maximumf
// CHECK: arith.minimumf
// CHECK: %[[SZ:.*]]:2 = linalg.generic {{.*}} ins(%[[MM8]]#0, %[[MM8]]#1 : tensor<?x?xf32>, tensor<?x?xf32>) outs(%{{.*}}, %{{.*}} : tensor<?x?xf32>, tensor<?x?xi32>)
// CHECK: math.roundeven
// CHECK: %[[QA:.*]] = linalg.generic {{.*}} ins(%[[X8]], %[[SZ]]#0, %[[SZ]]#1 : tensor<?x?x64xf32>, tensor<?x?xf32>, tensor<?x?xi32>) outs(%{{.*}} : tensor<?x?x64xi8>)
// CHECK: math.roundeven
// CHECK: arith.trunci %{{.*}} : i32 to i8
// 2. The i8 x i8 -> i32 contraction per group (one group per channel).
// CHECK: %[[A3:.*]] = tensor.expand_shape %[[QA]] {{\[}}[0], [1], [2, 3]]
// CHECK: %[[W3:.*]] = tensor.expand_shape %[[P8]] {{\[}}[0], [1, 2]] output_shape [32, 1, 64]
// CHECK: %[[ACC:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%[[A3]], %[[W3]] : tensor<?x?x1x64xi8>, tensor<32x1x64xi8>) outs(%{{.*}} : tensor<?x?x32x1xi32>)
// CHECK: arith.extsi %{{.*}} : i8 to i32
// CHECK: arith.extsi %{{.*}} : i8 to i32
// CHECK: arith.muli
// CHECK: arith.addi
// 3. Row sums of the weight and the activations.
// CHECK: %[[SW:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<32x1xi32>)
// CHECK: %[[SA:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<?x?x1xi32>)
// 4. The epilogue: corrections, then both scales.
// CHECK: %[[PART:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%[[ACC]], %[[SZ]]#1, %[[SW]], %[[Z8]], %[[SA]], %[[S8]] :
// CHECK: arith.sitofp
// CHECK: linalg.generic {{.*}} ins(%[[PART]], %[[SZ]]#0 : tensor<?x?x32xf32>, tensor<?x?xf32>) outs(%{{.*}} : tensor<?x?x32xf32>)
// CHECK-NOT: qrealign.
// CHECK: return

// CLEAN-LABEL: func.func @w8a8
// CLEAN: math.roundeven
// CLEAN: arith.muli
// CLEAN: return
func.func @w8a8(%x: tensor<?x?x64xf32>, %p: tensor<32x64xi8>, %s: tensor<32x1xf32>, %z: tensor<32x1xi8>) -> tensor<?x?x32xf32> {
  %w = qrealign.dequantize %p, %s zero_point %z bits = 8 : (tensor<32x64xi8>, tensor<32x1xf32>, tensor<32x1xi8>) -> tensor<32x64xf32>
  %y = qrealign.linear "q_proj" %x, %w {quant = #qrealign.quant<w_bits = 8, a_bits = 8>} : (tensor<?x?x64xf32>, tensor<32x64xf32>) -> tensor<?x?x32xf32>
  return %y : tensor<?x?x32xf32>
}

// W4A4 per tensor, symmetric, 2 rows (at most packed-int-rows-limit): one
// contraction reads the packed bytes, t = (a - za) * (q - 8) in i32 (no
// weight zero point to subtract), loops (m, n, g, j, b); a one-row scale is
// read as [G] in the epilogue.
// CHECK-LABEL: func.func @w4a4_tensor_sym
// CHECK-DAG: arith.constant 1.500000e+01 : f32
// CHECK-DAG: arith.constant 8 : i32
// CHECK: %[[QA4:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<2x64xi8>)
// CHECK: %[[B4:.*]] = tensor.bitcast %{{.*}} : tensor<32x32xui8> to tensor<32x32xi8>
// CHECK: %[[U4:.*]] = tensor.expand_shape %[[B4]] {{\[}}[0], [1, 2]] output_shape [32, 1, 32]
// CHECK: %[[A4:.*]] = tensor.expand_shape %[[QA4]] {{\[}}[0], [1, 2, 3]] output_shape [2, 1, 32, 2]
// CHECK: %[[T4:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction"]} ins(%[[A4]], %{{.*}}, %[[U4]] : tensor<2x1x32x2xi8>, tensor<2xi32>, tensor<32x1x32xi8>) outs(%{{.*}} : tensor<2x32x1xi32>)
// CHECK: %[[AE:.*]] = arith.extsi %{{.*}} : i8 to i32
// CHECK: %[[AC:.*]] = arith.subi %[[AE]], %{{.*}} : i32
// CHECK: %[[UE:.*]] = arith.extui %{{.*}} : i8 to i32
// CHECK: linalg.index 3
// CHECK: arith.shrui %[[UE]]
// CHECK: arith.andi %{{.*}}, %c15_i32
// CHECK: %[[WL:.*]] = arith.subi %{{.*}}, %c8_i32
// CHECK: arith.muli %[[AC]], %[[WL]]
// CHECK: %[[ROW:.*]] = tensor.collapse_shape %{{.*}} {{\[}}[0, 1]] : tensor<1x1xf32> into tensor<1xf32>
// CHECK: linalg.generic {{.*}} ins(%[[T4]], %[[ROW]] : tensor<2x32x1xi32>, tensor<1xf32>)
// CHECK-NOT: arith.subi
// CHECK: arith.sitofp
// With packed-int-rows-limit=0, the levels are unpacked first.
// INTUNPACKED-LABEL: func.func @w4a4_tensor_sym
// INTUNPACKED: linalg.generic {{.*}} outs(%{{.*}} : tensor<32x32x2xi8>)
// INTUNPACKED: linalg.generic {{.*}} outs(%{{.*}} : tensor<2x32x1xi32>)
func.func @w4a4_tensor_sym(%x: tensor<2x64xf32>, %p: tensor<32x32xui8>, %s: tensor<1x1xf32>) -> tensor<2x32xf32> {
  %w = qrealign.dequantize %p, %s bits = 4 : (tensor<32x32xui8>, tensor<1x1xf32>) -> tensor<32x64xf32>
  %y = qrealign.linear "o_proj" %x, %w {quant = #qrealign.quant<w_bits = 4, a_bits = 4, granularity = per_tensor, symmetric = true>} : (tensor<2x64xf32>, tensor<32x64xf32>) -> tensor<2x32xf32>
  return %y : tensor<2x32xf32>
}

// W4A8 g32 with zero points and a dynamic row count: the packed form (the
// weight zero point subtracted in the contraction) for at most 2 rows, the
// unpacked form with row-sum corrections otherwise.
// CHECK-LABEL: func.func @w4a8_dynamic_rows
// CHECK: %[[FEW:.*]] = arith.cmpi ule, %{{.*}}, %c2
// CHECK: scf.if %[[FEW]] -> (tensor<?x32xf32>)
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : tensor<?x2x16x2xi8>, tensor<?xi32>, tensor<32x2x16xi8>, tensor<32x2xi8>) outs(%{{.*}} : tensor<?x32x2xi32>)
// CHECK: arith.extsi %{{.*}} : i8 to i32
// CHECK: arith.subi
// CHECK: } else {
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<32x32x2xi8>)
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<?x2x32xi8>, tensor<32x2x32xi8>) outs(%{{.*}} : tensor<?x32x2xi32>)
// GENERIC-LABEL: func.func @w4a8_dynamic_rows
// GENERIC: scf.if
func.func @w4a8_dynamic_rows(%x: tensor<?x64xf32>, %p: tensor<32x32xui8>, %s: tensor<32x2xf32>, %z: tensor<32x2xi8>) -> tensor<?x32xf32> {
  %w = qrealign.dequantize %p, %s zero_point %z bits = 4 : (tensor<32x32xui8>, tensor<32x2xf32>, tensor<32x2xi8>) -> tensor<32x64xf32>
  %y = qrealign.linear "o_proj" %x, %w {quant = #qrealign.quant<w_bits = 4, a_bits = 8, granularity = per_group, group_size = 32>} : (tensor<?x64xf32>, tensor<32x64xf32>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// W4A8 as compressed-tensors' int-quantized stores it (4-bit levels one
// per byte, i8): no unpacking, no packed form; the levels enter the
// i8 x i8 -> i32 contraction as they are.
// CHECK-LABEL: func.func @w4a8_bytes
// CHECK-SAME: %[[PB:[a-z0-9]+]]: tensor<32x64xi8>
// CHECK-NOT: scf.if
// CHECK-NOT: tensor.bitcast
// CHECK: %[[WB:.*]] = tensor.expand_shape %[[PB]] {{\[}}[0], [1, 2]] output_shape [32, 2, 32]
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %[[WB]] : tensor<?x2x32xi8>, tensor<32x2x32xi8>) outs(%{{.*}} : tensor<?x32x2xi32>)
func.func @w4a8_bytes(%x: tensor<?x64xf32>, %p: tensor<32x64xi8>, %s: tensor<32x2xf32>, %z: tensor<32x2xi8>) -> tensor<?x32xf32> {
  %w = qrealign.dequantize %p, %s zero_point %z bits = 4 : (tensor<32x64xi8>, tensor<32x2xf32>, tensor<32x2xi8>) -> tensor<32x64xf32>
  %y = qrealign.linear "o_proj" %x, %w {quant = #qrealign.quant<w_bits = 4, a_bits = 8, granularity = per_group, group_size = 32>} : (tensor<?x64xf32>, tensor<32x64xf32>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// compressed-tensors' words (qrealign-import of a pack-quantized
// checkpoint): zero points unpacked along the rows (10 rows in two words);
// then one op reads the words group by group ([10, 2, 4]: 4 words of 8
// levels per group of 32), loops (n, g, b, u) for level u of word b, bits
// 4u..4u+3, minus 8, and dequantizes.
// CHECK-LABEL: func.func @dequantize_words
// CHECK: %[[WG:.*]] = tensor.expand_shape %{{.*}} {{\[}}[0], [1, 2]] output_shape [10, 2, 4] : tensor<10x8xi32> into tensor<10x2x4xi32>
// CHECK: linalg.generic {{.*}} ins(%{{.*}} : tensor<2x2xi32>) outs(%{{.*}} : tensor<2x2x8xi8>)
// CHECK: tensor.collapse_shape {{.*}} : tensor<2x2x8xi8> into tensor<2x16xi8>
// CHECK: tensor.extract_slice {{.*}}[0, 0] [2, 10] [1, 1] : tensor<2x16xi8> to tensor<2x10xi8>
// CHECK: %[[ZW:.*]] = linalg.generic {{.*}} ins(%{{.*}} : tensor<2x10xi8>) outs(%{{.*}} : tensor<10x2xi8>)
// CHECK: %[[DQ:.*]] = linalg.generic {{.*}} ins(%[[WG]], %{{.*}}, %[[ZW]] : tensor<10x2x4xi32>, tensor<10x2xf32>, tensor<10x2xi8>) outs(%{{.*}} : tensor<10x2x4x8xf32>)
// CHECK: linalg.index 3
// CHECK: arith.muli %{{.*}}, %c4_i32
// CHECK: arith.shrui
// CHECK: arith.andi %{{.*}}, %c15_i32
// CHECK: arith.subi %{{.*}}, %c8_i32
// CHECK: tensor.collapse_shape %[[DQ]] {{\[}}[0], [1, 2, 3]] : tensor<10x2x4x8xf32> into tensor<10x64xf32>
// CLEAN-LABEL: func.func @dequantize_words
// CLEAN-NOT: qrealign.
func.func @dequantize_words(%p: tensor<10x8xi32>, %s: tensor<10x2xf32>, %z: tensor<2x2xi32>) -> tensor<10x64xf32> {
  %w = qrealign.dequantize %p, %s zero_point %z bits = 4 : (tensor<10x8xi32>, tensor<10x2xf32>, tensor<2x2xi32>) -> tensor<10x64xf32>
  return %w : tensor<10x64xf32>
}

// A W4A16 linear over words, with leading dynamic axes, bf16 scales and a
// bias: the words are the units (8 levels each, [10, 2, 4] for g32), x
// read as [?, ?, 2, 4, 8] (each dynamic axis alone in its group), the
// dequantized value rounded to bf16 as the weight's type says, the bias
// added after the contraction.
// CHECK-LABEL: func.func @w4a16_words
// CHECK: %[[ROWS:.*]] = arith.muli
// CHECK: %[[FEW:.*]] = arith.cmpi ule, %[[ROWS]], %c4
// CHECK: scf.if %[[FEW]] -> (tensor<?x?x10xf32>)
// CHECK: %[[WU:.*]] = tensor.expand_shape %{{.*}} {{\[}}[0], [1, 2]] output_shape [10, 2, 4] : tensor<10x8xi32> into tensor<10x2x4xi32>
// CHECK: %[[XW3:.*]] = tensor.expand_shape %{{.*}} {{\[}}[0], [1], [2, 3, 4]] output_shape [%{{.*}}, %{{.*}}, 2, 4, 8] : tensor<?x?x64xf32> into tensor<?x?x2x4x8xf32>
// CHECK: %[[MM:.*]] = linalg.generic {indexing_maps = [#[[XW]], #[[PW]], {{.*}}], iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]} ins(%[[XW3]], %[[WU]], %{{.*}}, %{{.*}} : tensor<?x?x2x4x8xf32>, tensor<10x2x4xi32>, tensor<10x2xbf16>, tensor<10x2xi8>) outs(%{{.*}} : tensor<?x?x10xf32>)
// CHECK: linalg.index 4
// CHECK: arith.shrui
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// CHECK: arith.extf %{{.*}} : bf16 to f32
// CHECK: linalg.generic {{.*}} ins(%[[MM]], %{{.*}} : tensor<?x?x10xf32>, tensor<10xbf16>)
// More rows (prefill): the generic form, the weight dequantized once per
// call from its words, de-interleaved ([10, 2, 8, 4]: level u of the 4
// words of a group, u = 0..7), x de-interleaved alike, then a float
// contraction.
// CHECK: } else {
// CHECK: %[[DQW:.*]] = linalg.generic {{.*}} ins(%{{.*}}, %{{.*}}, %{{.*}} : tensor<10x2x4xi32>, tensor<10x2xbf16>, tensor<10x2xi8>) outs(%{{.*}} : tensor<10x2x8x4xbf16>)
// CHECK: %[[W64:.*]] = tensor.collapse_shape %[[DQW]] {{\[}}[0], [1, 2, 3]] : tensor<10x2x8x4xbf16> into tensor<10x64xbf16>
// CHECK: linalg.generic {{.*}} ins(%{{.*}} : tensor<?x?x2x4x8xf32>) outs(%{{.*}} : tensor<?x?x2x8x4xf32>)
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%{{.*}}, %[[W64]] : tensor<?x?x64xf32>, tensor<10x64xbf16>)
// CLEAN-LABEL: func.func @w4a16_words
// CLEAN-NOT: qrealign.
func.func @w4a16_words(%x: tensor<?x?x64xf32>, %p: tensor<10x8xi32>, %s: tensor<10x2xbf16>, %z: tensor<2x2xi32>, %b: tensor<10xbf16>) -> tensor<?x?x10xf32> {
  %w = qrealign.dequantize %p, %s zero_point %z bits = 4 : (tensor<10x8xi32>, tensor<10x2xbf16>, tensor<2x2xi32>) -> tensor<10x64xbf16>
  %y = qrealign.linear "q_proj" %x, %w bias %b {quant = #qrealign.quant<w_bits = 4, granularity = per_group, group_size = 32>} : (tensor<?x?x64xf32>, tensor<10x64xbf16>, tensor<10xbf16>) -> tensor<?x?x10xf32>
  return %y : tensor<?x?x10xf32>
}
