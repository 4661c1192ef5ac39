"""qrealign-calibrate against a plain PyTorch implementation of the same
algorithm (test/Calibration/Inputs/reference-calibration.py), side by side,
on the lab's fine-tuned p = 0.1 model: W8A8 with LWC and LET, objective
qrealign, the 192 calibration prompts as one batch, STEPS optimizer steps
per layer, one thread each. Prints the seconds per optimizer step of each
layer, their medians and the ratio, and the per-layer losses of both.

usage: /usr/bin/python3 bench/calibration_speed.py [--steps 20]
Needs the lab (scripts/demo.sh, which also writes build/lab/calibration/).
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, capture_output=True,
                          **kw)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    a = ap.parse_args()
    lab = os.path.join(a.build, "lab")
    cal = os.path.join(lab, "calibration")
    ft = os.path.join(lab, "finetuned-p0.1")
    for need in [ft, os.path.join(cal, "calib.jsonl"),
                 os.path.join(cal, "probes.safetensors")]:
        if not os.path.exists(need):
            sys.exit("bench: %s is missing: run scripts/demo.sh first" % need)
    bin_ = os.path.join(a.build, "bin")
    inputs = os.path.join(ROOT, "test", "Calibration", "Inputs")
    with tempfile.TemporaryDirectory() as t:
        run([bin_ + "/qrealign-import", ft, "-o", "ft.mlir"], cwd=t)
        run([bin_ + "/qrealign-opt", "ft.mlir",
             "--qrealign-assign-quant=w-bits=8 a-bits=8 skip=lm_head",
             "--qrealign-quantize-weights=form=fake lwc smooth "
             "file=init.safetensors scope=init",
             "--qrealign-attach-probes=file=" + cal + "/probes.safetensors",
             "-o", "fake.mlir"], cwd=t)
        n = sum(1 for l in open(cal + "/calib.jsonl") if l.strip())
        ours = run([bin_ + "/qrealign-opt", "fake.mlir",
                    "--qrealign-calibrate=data=%s/calib.jsonl objective=qrealign "
                    "file=learned.safetensors device=cpu threads=1 "
                    "batch-size=%d epochs=%d" % (cal, n, a.steps),
                    "-o", "cal.mlir"], cwd=t).stderr
        lines = run([sys.executable, inputs + "/prompt-lines.py",
                     cal + "/calib.jsonl"]).stdout
        open(t + "/prompts.txt", "w").write(lines)
        run([bin_ + "/qrealign-tokenize", ft + "/tokenizer.model",
             "--chat-template", "llama-2", "--bos", "--prompts-file",
             t + "/prompts.txt", "-o", t + "/ids.jsonl"])
        # One thread for PyTorch too: torch.set_num_threads does not reach
        # the pthread OpenBLAS of Debian's torch (the engine sets both).
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
        ref = run([sys.executable, inputs + "/reference-calibration.py", ft,
                   cal + "/probes.safetensors", t + "/ids.jsonl",
                   cal + "/calib.jsonl", "qrealign", str(a.steps)],
                  env=env).stdout
        cmp = run([sys.executable, inputs + "/compare-losses.py",
                   t + "/cal.mlir", "/dev/stdin", "1", "1"], input=ref).stdout
    mine = [float(s) / a.steps for s in
            re.findall(r"steps \(([0-9.]+) s\)", ours)]
    theirs = [float(s) / a.steps for s in
              re.findall(r"seconds ([0-9.]+)", ref)]
    print("calibration speed: lab model (4 layers, hidden 128), W8A8 LWC+LET, "
          "qrealign, %d prompts per step, %d steps per layer, 1 thread" %
          (n, a.steps))
    print()
    print("| layer | qrealign-calibrate s/step | PyTorch s/step | ours / PyTorch |")
    print("|---:|---:|---:|---:|")
    for i, (x, y) in enumerate(zip(mine, theirs)):
        print("| %d | %.4f | %.4f | %.2f |" % (i, x, y, x / y))
    mx, my = statistics.median(mine), statistics.median(theirs)
    print("| median | %.4f | %.4f | %.2f |" % (mx, my, mx / my))
    print()
    print("Losses (ours against PyTorch's):")
    print(cmp, end="")


main()
