#!/usr/bin/env python3
"""Benchmark: importing a 7B-shaped checkpoint reads headers only.

Generates, at run time, Hugging Face directories whose model.safetensors
holds a complete header and a *sparse* data section (no weight bytes are
written; the file has its full 13.5 GB size), for Llama-2-7B and for a tiny
model, then times `qrealign-import` on each (median of N runs, peak RSS from
the kernel) and prints the ratio 7B / tiny. Import cost must not depend on
weight size: the acceptance bar is < 2 s and < 200 MB for 7B.

    /usr/bin/python3 bench/import_7b.py [--bin build/bin] [--runs 5]
"""
import argparse
import json
import os
import resource
import statistics
import struct
import subprocess
import sys
import tempfile
import time

SHAPES = {
    "llama-2-7b": dict(hidden=4096, layers=32, heads=32, kv=32,
                       inter=11008, vocab=32000),
    "tiny": dict(hidden=64, layers=5, heads=8, kv=4, inter=172, vocab=512),
}


def write_fixture(root, name, s, dtype="BF16"):
    d = os.path.join(root, name)
    os.makedirs(d)
    D, F, V, hd = s["hidden"], s["inter"], s["vocab"], s["hidden"] // s["heads"]
    shapes = [("model.embed_tokens.weight", [V, D])]
    for i in range(s["layers"]):
        p = "model.layers.%d." % i
        shapes += [(p + "input_layernorm.weight", [D]),
                   (p + "self_attn.q_proj.weight", [D, D]),
                   (p + "self_attn.k_proj.weight", [s["kv"] * hd, D]),
                   (p + "self_attn.v_proj.weight", [s["kv"] * hd, D]),
                   (p + "self_attn.o_proj.weight", [D, D]),
                   (p + "post_attention_layernorm.weight", [D]),
                   (p + "mlp.gate_proj.weight", [F, D]),
                   (p + "mlp.up_proj.weight", [F, D]),
                   (p + "mlp.down_proj.weight", [D, F])]
    shapes += [("model.norm.weight", [D]), ("lm_head.weight", [V, D])]
    header, off = {}, 0
    for n, shape in shapes:
        size = 2
        for x in shape:
            size *= x
        header[n] = {"dtype": dtype, "shape": shape,
                     "data_offsets": [off, off + size]}
        off += size
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    path = os.path.join(d, "model.safetensors")
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        f.truncate(8 + len(h) + off)  # sparse: no data blocks written
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump({"model_type": "llama", "hidden_size": D,
                   "num_hidden_layers": s["layers"],
                   "num_attention_heads": s["heads"],
                   "num_key_value_heads": s["kv"], "intermediate_size": F,
                   "vocab_size": V, "rms_norm_eps": 1e-5}, f)
    return d, 8 + len(h) + off, os.stat(path).st_blocks * 512


def measure(tool, model, out, runs):
    walls, rss = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            os.execv(tool, [tool, model, "-o", out])
        _, status, usage = os.wait4(pid, 0)
        walls.append(time.perf_counter() - t0)
        if status != 0:
            sys.exit("%s %s failed" % (tool, model))
        rss.append(usage.ru_maxrss / 1024.0)
    return statistics.median(walls), max(rss)


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--bin", default=os.path.join(here, "..", "build", "bin"))
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    tool = os.path.join(args.bin, "qrealign-import")
    if not os.path.exists(tool):
        sys.exit("%s not found: build first (scripts/setup.sh)" % tool)
    with tempfile.TemporaryDirectory() as root:
        rows = {}
        for name, s in SHAPES.items():
            d, size, alloc = write_fixture(root, name, s)
            wall, rss = measure(tool, d, os.path.join(root, name + ".mlir"),
                                args.runs)
            rows[name] = (size, alloc, wall, rss)
        print("| model | checkpoint bytes | bytes on disk | import wall "
              "(median of %d) | peak RSS |" % args.runs)
        print("|---|---|---|---|---|")
        for name, (size, alloc, wall, rss) in rows.items():
            print("| %s | %s | %s | %.3f s | %.1f MB |" % (
                name, format(size, ","), format(alloc, ","), wall, rss))
        big, small = rows["llama-2-7b"], rows["tiny"]
        print("\n7B / tiny: wall x%.2f, RSS x%.2f, checkpoint size x%.0f" % (
            big[2] / small[2], big[3] / small[3], big[0] / small[0]))
        ok = big[2] < 2.0 and big[3] < 200
        print("target (< 2 s, < 200 MB): %s" % ("met" if ok else "MISSED"))
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
