#!/usr/bin/env python3
"""Mutation fuzzer for qrealign-opt.

Derives inputs from seed files by random mutations and runs the tool on
each, with and without a pass pipeline. A run is acceptable if it exits 0,
or exits 1 having printed a located "error:" diagnostic. Anything else
(a signal, another exit code, an unlocated error, a timeout) is a crash: the
input is saved in --work-dir and the script exits 1.
"""
import argparse
import os
import random
import re
import subprocess
import sys

NUMBERS = ["0", "-1", "1", "3", "7", "65536", "9223372036854775807",
           "-9223372036854775808", "1.0e308", "nan", "0x7FF8000000000000"]
TOKENS = ["qrealign.layer", "qrealign.linear", "qrealign.yield", "tensor<",
          "?x", "x", "@", "%", "{", "}", "(", ")", "<", ">", ":", ",", "=",
          "external", "dense<", "dense_resource<", "#qrealign.quant<",
          "#qrealign.boundary<", "!quant.uniform<", "boundary", "mask",
          "bias", "causal", "per_group", "group_size = 0", "i1", "bf16"]
PIPELINES = [[], ["--qrealign-assign-quant=w-bits=4 group-size=8"],
             ["--qrealign-assign-quant=w-bits=8 a-bits=8 skip=lm_head",
              "--qrealign-quant-report"],
             ["--qrealign-assign-quant=overrides=L0:w-bits=2"]]


def mutate(text, rng):
    lines = text.split("\n")
    kind = rng.randrange(8)
    if kind == 0 and len(text) > 1:
        return text[:rng.randrange(len(text))]
    if kind == 1 and lines:
        del lines[rng.randrange(len(lines))]
    elif kind == 2 and lines:
        i = rng.randrange(len(lines))
        lines.insert(rng.randrange(len(lines) + 1), lines[i])
    elif kind == 3 and len(lines) > 1:
        i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    elif kind == 4:
        nums = list(re.finditer(r"-?\d+(\.\d+)?(e[-+]?\d+)?", text))
        if nums:
            m = rng.choice(nums)
            return text[:m.start()] + rng.choice(NUMBERS) + text[m.end():]
    elif kind == 5:
        pos = rng.randrange(len(text) + 1)
        return text[:pos] + rng.choice(TOKENS) + text[pos:]
    elif kind == 6 and text:
        pos = rng.randrange(len(text))
        noise = "".join(chr(rng.randrange(1, 256)) for _ in range(rng.randrange(1, 8)))
        return text[:pos] + noise + text[pos + len(noise):]
    elif kind == 7:
        words = list(re.finditer(r"[A-Za-z_][A-Za-z0-9_.]*", text))
        if len(words) > 1:
            a, b = rng.choice(words), rng.choice(words)
            return text[:a.start()] + b.group(0) + text[a.end():]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", required=True)
    ap.add_argument("--iterations", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work-dir", required=True)
    ap.add_argument("seeds", nargs="+")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    corpus = []
    for path in args.seeds:
        with open(path, encoding="utf-8") as f:
            # Keep the RUN/CHECK comments out: they are not IR.
            corpus.append("\n".join(l for l in f.read().split("\n")
                                    if not l.lstrip().startswith("//")))
    crashes = 0
    for i in range(args.iterations):
        text = rng.choice(corpus)
        for _ in range(rng.randrange(1, 4)):
            text = mutate(text, rng)
        path = os.path.join(args.work_dir, "input.mlir")
        with open(path, "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write(text)
        cmd = [args.tool, path, "-o", os.devnull] + rng.choice(PIPELINES)
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=60)
            code, err = proc.returncode, proc.stderr.decode("utf-8", "replace")
        except subprocess.TimeoutExpired:
            code, err = "timeout", ""
        ok = code == 0 or (code == 1 and re.search(r":\d+:\d+: error:", err))
        if not ok:
            crashes += 1
            keep = os.path.join(args.work_dir, "crash-%d.mlir" % i)
            os.replace(path, keep)
            print("crash: exit %s on %s\n  %s\n%s" %
                  (code, keep, " ".join(cmd[1:]), err[-2000:]))
    print("%d inputs, %d crashes" % (args.iterations, crashes))
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
