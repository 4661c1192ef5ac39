"""Compiled linears on the CPU against PyTorch's float linear, side by
side: for Llama-2-7B linear shapes and M tokens, the median milliseconds
of the compiled float, W8A8 (per-token activations, i8 GEMM) and W4A16 g128
linears (build/bin/qrealign-bench-linear: qrealign-lower-to-cpu, JIT, one
thread) and of torch.nn.functional.linear in float32 (Debian's PyTorch, one
thread), and each compiled/PyTorch ratio. With --scalar, also the compiled
linears without vectorization at M = 1.

usage: /usr/bin/python3 bench/compiled_linear.py [--runs 20] [--scalar]
Needs build/ (scripts/setup.sh) and Debian's python3-torch.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.path.join(ROOT, "build", "bin", "qrealign-bench-linear")
SHAPES = [("q_proj", 4096, 4096), ("down_proj", 11008, 4096)]
TOKENS = [1, 16, 128]


def compiled(scheme, m, n, k, runs, scalar=False):
    cmd = [TOOL, "--scheme", scheme, "--m", str(m), "--n", str(n),
           "--k", str(k), "--runs", str(runs)] + (["--scalar"] if scalar else [])
    proc = subprocess.run(cmd, capture_output=True, text=True,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))
    if proc.returncode:
        sys.exit("failed: %s\n%s" % (" ".join(cmd), proc.stderr))
    return json.loads(proc.stdout)["median_ms"]


def torch_linear(m, n, k, runs):
    import torch
    torch.set_num_threads(1)
    x = torch.randn(m, k)
    w = torch.randn(n, k) * 0.02
    torch.nn.functional.linear(x, w)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        torch.nn.functional.linear(x, w)
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--scalar", action="store_true")
    args = ap.parse_args()
    if not os.path.exists(TOOL):
        sys.exit("build/bin/qrealign-bench-linear is missing: run "
                 "scripts/setup.sh")
    print("machine: %s, %s, one thread" % (platform.node(),
                                          platform.processor() or
                                          platform.machine()))
    head = ("| linear | M | PyTorch f32 ms | float ms | W8A8 ms | "
            "W4A16 ms | float / PyTorch | W8A8 / PyTorch | W4A16 / PyTorch |")
    print(head)
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, k, n in SHAPES:
        for m in TOKENS:
            base = torch_linear(m, n, k, args.runs)
            t = {s: compiled(s, m, n, k, args.runs)
                 for s in ("float", "w8a8", "w4a16")}
            print("| %s %dx%d | %d | %.3f | %.3f | %.3f | %.3f | %.2fx | "
                  "%.2fx | %.2fx |" % (name, n, k, m, base, t["float"],
                                       t["w8a8"], t["w4a16"],
                                       t["float"] / base, t["w8a8"] / base,
                                       t["w4a16"] / base), flush=True)
    if args.scalar:
        print()
        print("| linear | M | scalar float ms | scalar W8A8 ms | "
              "scalar W4A16 ms |")
        print("|---|---:|---:|---:|---:|")
        for name, k, n in SHAPES:
            t = {s: compiled(s, 1, n, k, max(3, args.runs // 4), True)
                 for s in ("float", "w8a8", "w4a16")}
            print("| %s %dx%d | 1 | %.3f | %.3f | %.3f |" % (
                name, n, k, t["float"], t["w8a8"], t["w4a16"]), flush=True)


if __name__ == "__main__":
    main()
