#!/usr/bin/env python3
"""The kernels of the GPU linear benchmark (bench/gpu_linear.cpp), as MLIR
for qrealign-lower-to-nvvm, and an X-macro list of them for the C++ side.

W4A16: the packed weight-only contraction convert-qrealign-to-linalg writes
for an f16 model's few-row linears (bytes, groups of 128, i8 zero points,
f16 output), with the output as a writable argument (destination-passing
style, so that nothing is allocated on the host), at Llama-2-7B shapes and
M = 1, 4, 16. W8A8: the i8 x i8 -> i32 GEMM core at M = 512 and 2048.

Usage: gpu_kernels.py OUT.mlir OUT.inc
"""
import sys

# (name, N, K): Llama-2-7B q_proj and down_proj.
SHAPES = [("q_proj", 4096, 4096), ("down_proj", 4096, 11008)]
W4A16_ROWS = [1, 4, 16]
W8A8_ROWS = [512, 2048]
GROUP = 128

MAPS = """#x = affine_map<(m, n, g, j, b) -> (m, g, b, j)>
#u = affine_map<(m, n, g, j, b) -> (n, g, b)>
#s = affine_map<(m, n, g, j, b) -> (n, g)>
#y = affine_map<(m, n, g, j, b) -> (m, n)>
#ma = affine_map<(m, n, k) -> (m, k)>
#mw = affine_map<(m, n, k) -> (n, k)>
#mc = affine_map<(m, n, k) -> (m, n)>
"""


def w4a16(fn, m, n, k):
    g, b = k // GROUP, GROUP // 2
    return f"""func.func @{fn}(%x: tensor<{m}x{k}xf16>, %p: tensor<{n}x{k // 2}xui8>, %s: tensor<{n}x{g}xf16>, %z: tensor<{n}x{g}xi8>, %out: tensor<{m}x{n}xf16> {{bufferization.writable = true}}) -> tensor<{m}x{n}xf16> attributes {{llvm.emit_c_interface}} {{
  %c4 = arith.constant 4 : i32
  %c8 = arith.constant 8 : i32
  %c15 = arith.constant 15 : i32
  %zero = arith.constant 0.0 : f16
  %bytes = tensor.bitcast %p : tensor<{n}x{k // 2}xui8> to tensor<{n}x{k // 2}xi8>
  %units = tensor.expand_shape %bytes [[0], [1, 2]] output_shape [{n}, {g}, {b}] : tensor<{n}x{k // 2}xi8> into tensor<{n}x{g}x{b}xi8>
  %xg = tensor.expand_shape %x [[0], [1, 2, 3]] output_shape [{m}, {g}, {b}, 2] : tensor<{m}x{k}xf16> into tensor<{m}x{g}x{b}x2xf16>
  %init = linalg.fill ins(%zero : f16) outs(%out : tensor<{m}x{n}xf16>) -> tensor<{m}x{n}xf16>
  %r = linalg.generic {{indexing_maps = [#x, #u, #s, #s, #y], iterator_types = ["parallel", "parallel", "reduction", "reduction", "reduction"]}} ins(%xg, %units, %s, %z : tensor<{m}x{g}x{b}x2xf16>, tensor<{n}x{g}x{b}xi8>, tensor<{n}x{g}xf16>, tensor<{n}x{g}xi8>) outs(%init : tensor<{m}x{n}xf16>) {{
  ^bb0(%in: f16, %u: i8, %sc: f16, %zp: i8, %acc: f16):
    %ue = arith.extui %u : i8 to i32
    %j = linalg.index 3 : index
    %ji = arith.index_cast %j : index to i32
    %sh = arith.muli %ji, %c4 : i32
    %nib = arith.shrui %ue, %sh : i32
    %lv = arith.andi %nib, %c15 : i32
    %q = arith.subi %lv, %c8 : i32
    %ze = arith.extsi %zp : i8 to i32
    %qz = arith.subi %q, %ze : i32
    %se = arith.extf %sc : f16 to f32
    %qf = arith.sitofp %qz : i32 to f32
    %ws = arith.mulf %qf, %se : f32
    %w = arith.truncf %ws : f32 to f16
    %prod = arith.mulf %in, %w : f16
    %sum = arith.addf %acc, %prod : f16
    linalg.yield %sum : f16
  }} -> tensor<{m}x{n}xf16>
  return %r : tensor<{m}x{n}xf16>
}}
"""


def w8a8(fn, m, n, k):
    return f"""func.func @{fn}(%a: tensor<{m}x{k}xi8>, %w: tensor<{n}x{k}xi8>, %c: tensor<{m}x{n}xi32> {{bufferization.writable = true}}) -> tensor<{m}x{n}xi32> attributes {{llvm.emit_c_interface}} {{
  %zero = arith.constant 0 : i32
  %init = linalg.fill ins(%zero : i32) outs(%c : tensor<{m}x{n}xi32>) -> tensor<{m}x{n}xi32>
  %r = linalg.generic {{indexing_maps = [#ma, #mw, #mc], iterator_types = ["parallel", "parallel", "reduction"]}} ins(%a, %w : tensor<{m}x{k}xi8>, tensor<{n}x{k}xi8>) outs(%init : tensor<{m}x{n}xi32>) {{
  ^bb0(%x: i8, %y: i8, %acc: i32):
    %xe = arith.extsi %x : i8 to i32
    %ye = arith.extsi %y : i8 to i32
    %p = arith.muli %xe, %ye : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  }} -> tensor<{m}x{n}xi32>
  return %r : tensor<{m}x{n}xi32>
}}
"""


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    mlir, inc = [MAPS], []
    for name, n, k in SHAPES:
        for m in W4A16_ROWS:
            fn = f"w4a16_{name}_m{m}"
            mlir.append(w4a16(fn, m, n, k))
            inc.append(f'W4A16({fn}, "{name}", {m}, {n}, {k})')
    name, n, k = SHAPES[0]
    for m in W8A8_ROWS:
        fn = f"w8a8_{name}_m{m}"
        mlir.append(w8a8(fn, m, n, k))
        inc.append(f'W8A8({fn}, "{name}", {m}, {n}, {k})')
    for path, text in ((sys.argv[1], "\n".join(mlir)),
                       (sys.argv[2], "\n".join(inc) + "\n")):
        with open(path + ".tmp", "w") as f:
            f.write(text)
        import os
        os.replace(path + ".tmp", path)


if __name__ == "__main__":
    main()
