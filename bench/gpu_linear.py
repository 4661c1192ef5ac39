#!/usr/bin/env python3
"""The compiled GPU linears against cuBLAS, cuBLASLt and the hardware floor.

Runs build/bin/qrealign-bench-gpu-linear (the kernels of bench/gpu_kernels.py,
compiled by qrealign-lower-to-nvvm) and, at the same shapes on the same GPU,
PyTorch's baselines, each timed the same way: CUDA events around one call,
median over --runs calls after 3 warm-up calls.

  W4A16 (g128, i8 zero points, f16 out) at M = 1, 4, 16 against an f16
      linear (torch.nn.functional.linear: cuBLAS FP16, weights [N, K] f16).
      Goal (issue 14): ≥ 3× cuBLAS, Marlin's figure.
  W8A8 (the i8 × i8 → i32 GEMM core) at M = 512, 2048 against
      torch._int_mm (cuBLASLt INT8). Goal: ≥ 60% of cuBLASLt's throughput.

The floor of each W4A16 kernel is the bytes it must read and write (packed
weight, scales, zero points, activations, output) over the GPU's memory
bandwidth (datasheet: H100 SXM 3.35 TB/s, PCIe 2.0 TB/s, H200 4.8 TB/s);
the floor of a W8A8 GEMM its operations over the dense INT8 peak (1,979
TOPS on H100/H200 SXM).

Prints a table, and with --markdown FILE writes it for docs/benchmarks.md.
Exits 77 (skipped) without a GPU.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def bandwidth_and_int8_peak(name):
    """Datasheet memory bandwidth (bytes/s) and dense INT8 peak (ops/s)."""
    if "H200" in name:
        return 4.8e12, 1979e12
    if "H100" in name:
        return (2.0e12, 1513e12) if "PCIe" in name else (3.35e12, 1979e12)
    return None, None


def time_torch(fn, runs):
    import torch
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(runs):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) * 1e3)  # µs
    return statistics.median(times)


def baseline(row, runs):
    import torch
    m, n, k = row["m"], row["n"], row["k"]
    gen = torch.Generator(device="cuda").manual_seed(1)
    if row["scheme"] == "w4a16":
        x = torch.randn(m, k, device="cuda", dtype=torch.float16, generator=gen)
        w = torch.randn(n, k, device="cuda", dtype=torch.float16, generator=gen)
        return "cuBLAS f16", time_torch(
            lambda: torch.nn.functional.linear(x, w), runs)
    a = torch.randint(-128, 128, (m, k), device="cuda", dtype=torch.int8,
                      generator=gen)
    w = torch.randint(-128, 128, (n, k), device="cuda", dtype=torch.int8,
                      generator=gen)
    return "cuBLASLt i8", time_torch(lambda: torch._int_mm(a, w.t()), runs)


def floor_us(row, bandwidth, peak):
    m, n, k = row["m"], row["n"], row["k"]
    if row["scheme"] == "w4a16":
        if not bandwidth:
            return None
        groups = k // 128
        moved = n * k // 2 + n * groups * (2 + 1) + m * k * 2 + m * n * 2
        return moved / bandwidth * 1e6
    return 2 * m * n * k / peak * 1e6 if peak else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default=os.path.join(
        HERE, "..", "build", "bin", "qrealign-bench-gpu-linear"))
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--markdown", help="write the table here too")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if not os.access(args.binary, os.X_OK):
        sys.exit(f"gpu_linear.py: {args.binary} is not built (it needs the "
                 "NVVM target and ptxas: see bench/CMakeLists.txt)")
    proc = subprocess.run([args.binary, "--runs", str(args.runs)],
                          capture_output=True, text=True)
    if proc.returncode == 77:
        print(proc.stdout.strip())
        sys.exit(77)
    if proc.returncode != 0:
        sys.exit(f"gpu_linear.py: {args.binary} failed ({proc.returncode}):\n"
                 f"{proc.stdout}{proc.stderr}")
    rows = [json.loads(line) for line in proc.stdout.splitlines()
            if line.startswith("{")]
    try:
        import torch
        if not torch.cuda.is_available():
            raise ImportError("no CUDA device for PyTorch")
        device = torch.cuda.get_device_name()
    except ImportError as err:
        sys.exit(f"gpu_linear.py: the baselines need PyTorch with CUDA: {err}")
    bandwidth, peak = bandwidth_and_int8_peak(device)

    header = ("| scheme | layer | M | N | K | qrealign µs | baseline | "
              "baseline µs | baseline / qrealign | floor µs | "
              "qrealign / floor |")
    lines = [f"Device: {device}; median of {args.runs} calls, CUDA events "
             "around each call; qrealign-bench-gpu-linear and "
             "bench/gpu_linear.py.", "", header,
             "|---" * (header.count("|") - 1) + "|"]
    for row in rows:
        name, base = baseline(row, args.runs)
        ours = row["device_us"]
        floor = floor_us(row, bandwidth, peak)
        lines.append(
            f"| {row['scheme']} | {row['shape']} | {row['m']} | {row['n']} | "
            f"{row['k']} | {ours:.1f} | {name} | {base:.1f} | "
            f"{base / ours:.2f} | "
            f"{'' if floor is None else f'{floor:.1f}'} | "
            f"{'' if floor is None else f'{ours / floor:.2f}'} |")
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        tmp = args.markdown + ".tmp"
        with open(tmp, "w") as f:
            f.write(text + "\n")
        os.replace(tmp, args.markdown)


if __name__ == "__main__":
    main()
