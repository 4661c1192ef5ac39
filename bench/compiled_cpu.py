"""The compiled backend against the libtorch engine on the CPU, side by
side: the lab's aligned base model (examples/lab/base) in float, W8A8,
W4A16 g128 and W4A8 g128 (packed, round to nearest), greedy generation of NEW tokens for
each of PROMPTS chat prompts, one prompt at a time, one thread each.
Prints, per model and backend, the median over RUNS of the prefill and
decode seconds that qrealign-run reports, decode tokens per second, and the
compiled/engine ratio; the compiled backend's load (lowering and JIT) is
reported apart. The "object" rows run the same model compiled ahead of time
(qrealign-compile, whose seconds are printed once per model; load is then
mapping the object and the parameters).

usage: python3 bench/compiled_cpu.py [--runs 3] [--prompts 8] [--new 32]
                                    [--models "float,W4A8 g128"]
Needs build/ (scripts/setup.sh); no ../shared.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "bin")
PROMPTS = [
    "How do I bake bread?", "Give three tips for staying healthy.",
    "Write a short poem about the sea.", "Explain what a compiler does.",
    "What is the capital of France?", "Describe a cat in one sentence.",
    "How do plants make food?", "Name two uses of copper.",
]


def run(cmd):
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        sys.exit("failed: %s\n%s" % (" ".join(cmd), proc.stderr))
    return proc


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--new", type=int, default=32)
    ap.add_argument("--models", default="float,W8A8,W4A16 g128,W4A8 g128",
                    help="comma-separated, of the default list")
    args = ap.parse_args()
    wanted = [m.strip() for m in args.models.split(",") if m.strip()]
    known = ["float", "W8A8", "W4A16 g128", "W4A8 g128"]
    for m in wanted:
        if m not in known:
            ap.error("unknown model %r (known: %s)" % (m, ", ".join(known)))
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    work = tempfile.mkdtemp(prefix="qr-bench-")
    base = os.path.join(work, "base.mlir")
    run([os.path.join(BIN, "qrealign-import"),
         os.path.join(ROOT, "examples", "lab", "base"), "-o", base])
    models = {"float": base} if "float" in wanted else {}
    for name, opts in (("W8A8", "w-bits=8 a-bits=8"),
                       ("W4A16 g128", "w-bits=4 group-size=128"),
                       ("W4A8 g128", "w-bits=4 a-bits=8 group-size=128")):
        if name not in wanted:
            continue
        out = os.path.join(work, name.split()[0] + ".mlir")
        run([os.path.join(BIN, "qrealign-opt"), base,
             "--qrealign-assign-quant=" + opts,
             "--qrealign-quantize-weights=file=" + out + ".safetensors",
             "-o", out])
        models[name] = out
    prompts = os.path.join(work, "prompts.txt")
    with open(prompts, "w") as f:
        f.write("\n".join(PROMPTS[:args.prompts]) + "\n")
    pattern = re.compile(r"(\d+) generated in ([0-9.]+) s.*prefill ([0-9.]+) "
                         r"s, engine load ([0-9.]+) s")
    print("machine: %s, one thread" % os.uname().nodename)
    print("| model | backend | prefill s | decode s | decode tok/s | load s "
          "| decode ratio compiled/engine |")
    print("|---|---|---:|---:|---:|---:|---:|")
    compile_seconds = {}
    for name, model in models.items():
        rows = {}
        obj = model[:-len(".mlir")] + ".o"
        t0 = time.monotonic()
        run([os.path.join(BIN, "qrealign-compile"), model, "-o", obj])
        compile_seconds[name] = time.monotonic() - t0
        for backend in ("engine", "compiled", "object"):
            pre, dec, tps, load = [], [], [], []
            flags = (["--backend", "compiled", "--object", obj]
                     if backend == "object" else ["--backend", backend])
            for _ in range(args.runs):
                proc = run([os.path.join(BIN, "qrealign-run"), model,
                            "--prompts-file", prompts, "--max-new-tokens",
                            str(args.new), "--ignore-eos", "--batch-size", "1",
                            "--num-threads", "1"] + flags + ["-o", os.devnull])
                m = pattern.search(proc.stderr)
                if not m:
                    sys.exit("no timing line:\n" + proc.stderr)
                tokens, total, prefill, loaded = (int(m.group(1)),
                                                  float(m.group(2)),
                                                  float(m.group(3)),
                                                  float(m.group(4)))
                pre.append(prefill)
                dec.append(total - prefill)
                tps.append((tokens - args.prompts) / max(total - prefill, 1e-9))
                load.append(loaded)
            rows[backend] = [statistics.median(v) for v in (pre, dec, tps, load)]
        for backend in ("engine", "compiled", "object"):
            p, d, t, l = rows[backend]
            ratio = ("%.2fx" % (d / rows["engine"][1])
                     if backend != "engine" else "")
            print("| %s | %s | %.3f | %.3f | %.0f | %.2f | %s |" % (
                name, backend, p, d, t, l, ratio))


    print("\nqrealign-compile seconds: " + ", ".join(
        "%s %.1f" % kv for kv in compile_seconds.items()))


if __name__ == "__main__":
    main()
