#!/usr/bin/env python3
"""Benchmark: tokenizing time grows linearly with the prompt.

Times `qrealign-tokenize` on prompts of growing size (default 10 KB, 100 KB,
1 MB) for each tokenizer kind and kind of text, and prints, per row, the
median of N runs at each size and the ratio of time per byte between the
largest and the smallest size. Times are net of the tool's start-up and
tokenizer loading (the median time of a one-byte prompt, subtracted); a
ratio near 1 means linear, 10 would mean quadratic over a 10x size step.

Tokenizers, generated at run time into a temporary directory:

  llama2c        ../shared/models/stories260K/tok512.bin when present, else
                 a generated vocabulary (test/tools/qrealign-tokenize/Inputs)
  bpe            tokenizer.json, Llama-3 split pattern, 300 merges learnt on
                 the prose below
  bpe-added50k   the same with 50,000 added tokens (lower-case words)
  sentencepiece  examples/lab/base/tokenizer.model (libsentencepiece)
  sp-tok512      ../shared/models/stories260K/tok512.model when present

Texts: prose (the repository's docs, shuffled), one letter repeated, only
spaces, no spaces (random letters and punctuation), digits, mixed scripts.

    /usr/bin/python3 bench/tokenizer_speed.py [--bin build/bin | --tool PATH]
        [--sizes 10000,100000,1000000] [--runs 3] [--timeout 60]
        [--kinds llama2c,bpe,...] [--texts prose,spaces,...]

A run over --timeout seconds is shown as >T and ends that row (larger sizes
are skipped). A time marked ? is within twice the spread of the start-up
times (noise: use larger --sizes, more --runs, or --clock cpu on a busy
machine), and so is a ratio computed from one.
"""
import argparse
import collections
import glob
import importlib.util
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INPUTS = os.path.join(ROOT, "test", "tools", "qrealign-tokenize", "Inputs")
MKBPE = os.path.join(ROOT, "test", "lit-utils", "make-bpe-tokenizer.py")
SHARED = os.path.normpath(os.path.join(ROOT, "..", "shared"))
sys.path.insert(0, INPUTS)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree

import bpe_tok  # noqa: E402
import llama2c_tok  # noqa: E402

# make-bpe-tokenizer.py writes the tokenizers this benchmark times; its
# byte-to-unicode map is the one the trainer below needs too.
_spec = importlib.util.spec_from_file_location("make_bpe_tokenizer", MKBPE)
make_bpe_tokenizer = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_bpe_tokenizer)

MIXED = ("abcXYZ019 '.,!?-_()é中日한ー\u0301\u0915\u093f½²Ⅻ٣०😀\u00a0"
         "\u3000’—€\U0001d400\u05d0ǅĳ")


def prose_corpus():
    text = []
    for path in sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")) +
                       [os.path.join(ROOT, "README.md")]):
        with open(path, encoding="utf-8") as f:
            text += [line.strip() for line in f if line.strip()]
    return text


def make_text(kind, size, rng, corpus):
    if kind == "prose":
        out, n = [], 0
        while n < size:
            line = rng.choice(corpus)
            out.append(line)
            n += len(line.encode()) + 1
        data = " ".join(out).encode()
    elif kind == "letter":
        data = b"a" * size
    elif kind == "spaces":
        data = b" " * size
    elif kind == "nospace":
        data = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz.,!?'")
                       for _ in range(size)).encode()
    elif kind == "digits":
        data = "".join(rng.choice("0123456789") for _ in range(size)).encode()
    elif kind == "mixed":
        data = "".join(rng.choice(MIXED) for _ in range(size)).encode()
    else:
        raise ValueError(kind)
    return data[:size].decode(errors="ignore").encode()


def learn_merges(corpus, count):
    """A small byte-level BPE trainer: the most frequent adjacent pair of
    pieces within space-separated words, `count` times."""
    b2u = make_bpe_tokenizer.bytes_to_unicode()
    words = collections.Counter()
    for line in corpus:
        for i, w in enumerate(line.split(" ")):
            if w:
                words[tuple(b2u[b] for b in ((" " if i else "") + w).encode())
                      ] += 1
    words = {w: c for w, c in words.items() if len(w) > 1}
    merges = []
    for _ in range(count):
        pairs = collections.Counter()
        for w, c in words.items():
            for a, b in zip(w, w[1:]):
                pairs[a, b] += c
        if not pairs:
            break
        (a, b), _ = pairs.most_common(1)[0]
        merges.append("%s %s" % (a, b))
        new = {}
        for w, c in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new[tuple(out)] = new.get(tuple(out), 0) + c
        words = new
    return merges


def make_tokenizers(work, kinds, corpus):
    toks = {}
    if "llama2c" in kinds:
        tok512 = os.path.join(SHARED, "models", "stories260K", "tok512.bin")
        if os.path.exists(tok512):
            toks["llama2c"] = tok512
        else:
            path = os.path.join(work, "tok.bin")
            llama2c_tok.write_vocab(path, *llama2c_tok.make_vocab(1, False))
            toks["llama2c"] = path
    if "bpe" in kinds or "bpe-added50k" in kinds:
        merges = learn_merges(corpus, 300)
        path = os.path.join(work, "bpe", "tokenizer.json")
        os.makedirs(os.path.dirname(path))
        cmd = [sys.executable, MKBPE, path, "--pattern", "llama3"]
        for m in merges:
            cmd += ["--merge", m]
        subprocess.run(cmd, check=True)
        if "bpe" in kinds:
            toks["bpe"] = path
        if "bpe-added50k" in kinds:
            added = os.path.join(work, "bpe-added", "tokenizer.json")
            os.makedirs(os.path.dirname(added))
            with open(path, encoding="utf-8") as f, \
                    open(added, "w", encoding="utf-8") as g:
                g.write(f.read())
            bpe_tok.add_tokens(argparse.Namespace(
                json=added, count=50000, seed=1,
                alphabet="abcdefghijklmnopqrstuvwxyz", min_len=2,
                max_len=10))
            toks["bpe-added50k"] = added
    if "sentencepiece" in kinds:
        sp = os.path.join(ROOT, "examples", "lab", "base", "tokenizer.model")
        if os.path.exists(sp):
            toks["sentencepiece"] = sp
    if "sp-tok512" in kinds:
        sp = os.path.join(SHARED, "models", "stories260K", "tok512.model")
        if os.path.exists(sp):
            toks["sp-tok512"] = sp
    return toks


def escape(text):
    return (text.replace(b"\\", b"\\\\").replace(b"\n", b"\\n")
            .replace(b"\r", b"\\r").replace(b"\t", b"\\t"))


def time_run(tool, tok, prompt_file, timeout, clock):
    """Seconds of one run (wall clock, or the child's user + system CPU
    time), or None past `timeout` seconds of wall clock."""
    start = time.perf_counter()
    proc = subprocess.Popen([tool, tok, "--prompts-file", prompt_file, "-o",
                             os.devnull], stdout=subprocess.DEVNULL)
    # Popen.wait(timeout) polls with sleeps of up to 50 ms, which would
    # quantize the times: wait blocking, and kill from a timer instead.
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode < 0 and wall >= timeout:
        return None
    if proc.returncode != 0:
        sys.exit("%s failed (exit %d) on %s" % (tool, proc.returncode,
                                                prompt_file))
    return wall if clock == "wall" else usage.ru_utime + usage.ru_stime


def fmt_time(t):
    if t is None:
        return "-"
    if isinstance(t, str):
        return t
    return "%.3fs" % t if t < 10 else "%.1fs" % t


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "bin"))
    ap.add_argument("--tool", help="the qrealign-tokenize binary (default: "
                    "BIN/qrealign-tokenize)")
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                    help="wall clock, or user + system CPU time of the tool "
                    "(steadier on a busy machine)")
    ap.add_argument("--kinds", default="llama2c,bpe,bpe-added50k,"
                    "sentencepiece,sp-tok512")
    ap.add_argument("--texts", default="prose,letter,spaces,nospace,digits,"
                    "mixed")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    tool = args.tool or os.path.join(args.bin, "qrealign-tokenize")
    if not os.access(tool, os.X_OK):
        sys.exit("no qrealign-tokenize at %s (--bin or --tool)" % tool)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    kinds = args.kinds.split(",")
    texts = args.texts.split(",")
    corpus = prose_corpus()
    with tempfile.TemporaryDirectory(prefix="qrealign-bench-tok-") as work:
        toks = make_tokenizers(work, kinds, corpus)
        print("tool: %s; %s time, median of %d runs; each run encodes about "
              "%d bytes, as prompts of the size of the column, net of "
              "start-up (a 1-byte prompt)" % (tool, args.clock, args.runs,
                                              sizes[-1]))
        header = (["tokenizer", "text", "start-up"] +
                  ["%d B x%d" % (s, -(-sizes[-1] // s)) for s in sizes] +
                  ["ns/B (largest)", "per-byte ratio"])
        rows = []
        for kind in kinds:
            if kind not in toks:
                print("(%s: no tokenizer file here, skipped)" % kind)
                continue
            tok = toks[kind]
            one = os.path.join(work, "one.txt")
            with open(one, "wb") as f:
                f.write(b"x\n")
            base_runs = [time_run(tool, tok, one, args.timeout, args.clock)
                         or 0 for _ in range(max(args.runs, 5))]
            base = statistics.median(base_runs)
            # A net time within the start-up's own spread is noise.
            noise = max(base_runs) - min(base_runs)
            for text in texts:
                rng = random.Random(args.seed)
                row = [kind, text, fmt_time(base)]
                nets = []
                noisy_row = False
                for size in sizes:
                    path = os.path.join(work, "prompts.txt")
                    with open(path, "wb") as f:
                        for _ in range(-(-sizes[-1] // size)):
                            f.write(escape(make_text(text, size, rng,
                                                     corpus)) + b"\n")
                    times = []
                    for _ in range(args.runs):
                        t = time_run(tool, tok, path, args.timeout,
                                     args.clock)
                        if t is None:
                            break
                        times.append(t)
                    if len(times) < args.runs:
                        row.append(">%gs" % args.timeout)
                        nets.append(None)
                        break
                    med = statistics.median(times)
                    noisy = med - base < 2 * noise
                    row.append(fmt_time(med - base) + ("?" if noisy else ""))
                    nets.append(max(med - base, 1e-3))
                    noisy_row = noisy_row or noisy
                row += ["-"] * (len(header) - 2 - len(row))
                row.append("%.0f" % (nets[-1] / sizes[-1] * 1e9)
                           if nets[-1] is not None else "-")
                # Every column encodes the same number of bytes, so the
                # ratio of per-byte times is the ratio of the times.
                if len(nets) == len(sizes) and None not in nets:
                    row.append("%.2f%s" % (nets[-1] / nets[0],
                                           "?" if noisy_row else ""))
                elif len(nets) > 1 and nets[0] is not None:
                    row.append(">%.0f" % ((args.timeout - base) / nets[0]))
                else:
                    row.append("-")
                rows.append(row)
                print("  " + " | ".join(row), file=sys.stderr, flush=True)
        widths = [max(len(str(r[i])) for r in rows + [header])
                  for i in range(len(header))]
        line = lambda r: "| " + " | ".join(  # noqa: E731
            str(c).ljust(w) for c, w in zip(r, widths)) + " |"
        print(line(header))
        print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        for r in rows:
            print(line(r))


if __name__ == "__main__":
    main()
