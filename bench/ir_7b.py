#!/usr/bin/env python3
"""Benchmark: parse, verify and print the 7B-shaped IR with the whole
quantization pipeline in it.

Generates Llama-2-7B-shaped IR with python/qrealign/irgen.py (external
weights, no data) twice: plain (bf16 weights read by the linears) and in
the deployment form that qrealign-quantize-weights produces (every layer
linear with a W4 g128 scheme, its weight from qrealign.dequantize of packed
levels, f32 scales and i8 zero points: 3 more parameters and 4 more ops per
linear). Times `qrealign-opt FILE -o OUT` on each (parse, verify, print;
median of N runs; peak RSS from the kernel) and prints the ratio
quantized / plain. The acceptance bar: <= 2 s and <= 500 MB quantized.

    /usr/bin/python3 bench/ir_7b.py [--bin build/bin] [--runs 5]
"""
import argparse
import os
import subprocess
import sys
import tempfile

from import_7b import measure  # median wall time and peak RSS of a tool run


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--bin", default=os.path.join(here, "..", "build", "bin"))
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    tool = os.path.join(args.bin, "qrealign-opt")
    if not os.path.exists(tool):
        sys.exit("%s not found: build first (scripts/setup.sh)" % tool)
    irgen = os.path.join(here, "..", "python", "qrealign", "irgen.py")
    with tempfile.TemporaryDirectory() as root:
        rows = {}
        for name, extra in (("plain bf16", []),
                            ("W4 g128 packed + dequantize", ["--packed", "4:128"])):
            ir = os.path.join(root, name.split()[0] + ".mlir")
            subprocess.run([sys.executable, irgen, "--preset", "llama-2-7b",
                            "--weights", "external", "-o", ir] + extra,
                           check=True)
            wall, rss = measure(tool, ir, os.path.join(root, "out.mlir"),
                                args.runs)
            rows[name] = (os.path.getsize(ir), wall, rss)
        print("| IR (Llama-2-7B shape) | bytes | parse+verify+print "
              "(median of %d) | peak RSS |" % args.runs)
        print("|---|---:|---:|---:|")
        for name, (size, wall, rss) in rows.items():
            print("| %s | %s | %.3f s | %.1f MB |" % (
                name, format(size, ","), wall, rss))
        plain, quant = rows["plain bf16"], rows["W4 g128 packed + dequantize"]
        print("\nquantized / plain: wall x%.2f, RSS x%.2f, text x%.2f" % (
            quant[1] / plain[1], quant[2] / plain[2], quant[0] / plain[0]))
        ok = quant[1] <= 2.0 and quant[2] <= 500
        print("target (<= 2 s, <= 500 MB): %s" % ("met" if ok else "MISSED"))
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
