#!/usr/bin/env python3
"""Benchmark: the libtorch engine's forward pass against plain PyTorch.

A model of the safety lab's shape (Llama: 4 layers, hidden 128, 4 heads of
32, MLP 384, vocabulary 2048, tied embeddings; random weights, which do not
change the speed) is written as a Hugging Face checkpoint and imported with
qrealign-import. Both sides run the same batch (default 32 sequences of
128 tokens) with one thread, the same libtorch (Debian's torch 1.13 for
PyTorch, the engine's libtorch 1.13) and the same BLAS, and compute the
last token's logits:

- engine: `qrealign-run --bench-forward N` (one warm-up, N timed passes);
- PyTorch: the same Llama forward written with torch ops in this script,
  under torch.inference_mode(), one warm-up and N timed passes, in a child
  process: once with glibc's allocator defaults, once with the thresholds
  the engine sets for itself (mallopt at creation).

Both logits are compared (the check that they compute the same model) and
the script prints medians, minor page faults per pass and the ratio
engine / PyTorch. Needs /usr/bin/python3 with torch and numpy (Debian's
python3-torch, python3-numpy).

    /usr/bin/python3 bench/engine_forward.py [--bin build/bin] [--runs 10]
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

SHAPE = dict(layers=4, hidden=128, heads=4, intermediate=384, vocab=2048)


def write_model(path, seed):
    import numpy as np
    rng = np.random.default_rng(seed)
    D, F, V = SHAPE["hidden"], SHAPE["intermediate"], SHAPE["vocab"]
    w = {"model.embed_tokens.weight": rng.normal(0, 0.02, (V, D)),
         "model.norm.weight": 1 + rng.normal(0, 0.05, D)}
    for i in range(SHAPE["layers"]):
        p = "model.layers.%d." % i
        for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
            w[p + "self_attn.%s.weight" % name] = rng.normal(0, 0.05, (D, D))
        w[p + "mlp.gate_proj.weight"] = rng.normal(0, 0.05, (F, D))
        w[p + "mlp.up_proj.weight"] = rng.normal(0, 0.05, (F, D))
        w[p + "mlp.down_proj.weight"] = rng.normal(0, 0.05, (D, F))
        w[p + "input_layernorm.weight"] = 1 + rng.normal(0, 0.05, D)
        w[p + "post_attention_layernorm.weight"] = 1 + rng.normal(0, 0.05, D)
    w = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in w.items()}
    os.makedirs(path)
    header, offset = {}, 0
    for k, v in w.items():
        header[k] = {"dtype": "F32", "shape": list(v.shape),
                     "data_offsets": [offset, offset + v.nbytes]}
        offset += v.nbytes
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with open(os.path.join(path, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        for v in w.values():
            f.write(v.tobytes())
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump({"model_type": "llama", "architectures": ["LlamaForCausalLM"],
                   "hidden_size": D, "intermediate_size": F,
                   "num_hidden_layers": SHAPE["layers"],
                   "num_attention_heads": SHAPE["heads"],
                   "num_key_value_heads": SHAPE["heads"], "vocab_size": V,
                   "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
                   "max_position_embeddings": 512,
                   "tie_word_embeddings": True, "bos_token_id": 1,
                   "eos_token_id": 2}, f)
    return w


def torch_forward(torch, w, ids):
    """Llama forward in plain torch ops; logits of the last token."""
    D, H = SHAPE["hidden"], SHAPE["heads"]
    hd = D // H
    B, S = ids.shape
    t = {k: torch.from_numpy(v) for k, v in w.items()}

    def norm(x, g):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * g

    pos = torch.arange(S, dtype=torch.float32)
    inv = 1.0 / (10000.0 ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
    ang = torch.outer(pos, inv)
    cos = torch.cat([ang.cos(), ang.cos()], -1)
    sin = torch.cat([ang.sin(), ang.sin()], -1)

    def rope(x):
        x1, x2 = x[..., : hd // 2], x[..., hd // 2:]
        return x * cos + torch.cat([-x2, x1], -1) * sin

    causal = torch.full((S, S), float("-inf")).triu(1)
    h = t["model.embed_tokens.weight"][ids]
    lin = torch.nn.functional.linear
    for i in range(SHAPE["layers"]):
        p = "model.layers.%d." % i
        x = norm(h, t[p + "input_layernorm.weight"])
        q, k, v = (lin(x, t[p + "self_attn.%s_proj.weight" % n])
                   .view(B, S, H, hd).transpose(1, 2) for n in "qkv")
        q, k = rope(q), rope(k)
        a = torch.softmax(q @ k.transpose(-1, -2) / hd ** 0.5 + causal, -1) @ v
        h = h + lin(a.transpose(1, 2).reshape(B, S, D),
                    t[p + "self_attn.o_proj.weight"])
        x = norm(h, t[p + "post_attention_layernorm.weight"])
        g = torch.nn.functional.silu(lin(x, t[p + "mlp.gate_proj.weight"]))
        h = h + lin(g * lin(x, t[p + "mlp.up_proj.weight"]),
                    t[p + "mlp.down_proj.weight"])
    x = norm(h[:, -1], t["model.norm.weight"])
    return lin(x, t["model.embed_tokens.weight"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--bin", default=os.path.join(here, "..", "build", "bin"))
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--pytorch-child", metavar="DIR", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.pytorch_child:
        return pytorch_child(args.pytorch_child, args.runs, args.threads)
    try:
        import numpy as np
        import torch
    except ImportError as e:
        sys.exit("needs numpy and torch (run with /usr/bin/python3): %s" % e)
    run = os.path.join(args.bin, "qrealign-run")
    if not os.path.exists(run):
        sys.exit("%s not found: build first (scripts/setup.sh)" % run)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(1)
    ids = rng.integers(3, SHAPE["vocab"], (args.batch, args.seq))
    with tempfile.TemporaryDirectory() as root:
        w = write_model(os.path.join(root, "hf"), 0)
        ir = os.path.join(root, "model.mlir")
        subprocess.run([os.path.join(args.bin, "qrealign-import"),
                        os.path.join(root, "hf"), "-o", ir], check=True)
        prompts = os.path.join(root, "prompts.txt")
        with open(prompts, "w") as f:
            for row in ids:
                f.write(" ".join(map(str, row)) + "\n")
        cmd = [run, ir, "--prompt-ids", "--prompts-file", prompts,
               "--num-threads", str(args.threads),
               "--batch-size", str(args.batch),
               "--logits", os.path.join(root, "engine.npy"),
               "--max-new-tokens", "0", "-o", os.devnull]
        subprocess.run(cmd, check=True, stderr=subprocess.DEVNULL)
        out = subprocess.run(cmd + ["--bench-forward", str(args.runs)],
                             check=True, capture_output=True, text=True)
        engine = json.loads(out.stdout.strip().splitlines()[-1])
        engine_logits = np.load(os.path.join(root, "engine.npy"))

        np.save(os.path.join(root, "ids.npy"), ids)
        np.savez(os.path.join(root, "weights.npz"), **w)
        # PyTorch in a child process each: with glibc's defaults, and with
        # the allocator thresholds the engine sets for itself.
        torch_rows = []
        for label, env in (("glibc defaults", {}),
                           ("MALLOC_MMAP_THRESHOLD_/TRIM_THRESHOLD_ as the "
                            "engine sets them",
                            {"MALLOC_MMAP_THRESHOLD_": str(32 << 20),
                             "MALLOC_TRIM_THRESHOLD_": str(1 << 30)})):
            child = subprocess.run(
                [sys.executable, os.path.abspath(__file__), "--pytorch-child",
                 root, "--runs", str(args.runs), "--threads",
                 str(args.threads)],
                check=True, capture_output=True, text=True,
                env=dict(os.environ, **env))
            r = json.loads(child.stdout)
            r["label"] = label
            torch_rows.append(r)
        ref = np.load(os.path.join(root, "torch.npy"))
    rel = float(np.abs(engine_logits - ref).max() / np.abs(ref).max())
    print("lab-shaped Llama, batch %d x %d tokens, %d thread(s), median of "
          "%d runs, libtorch %s" % (args.batch, args.seq, args.threads,
                                    args.runs, torch.__version__))
    print("logits: max relative difference engine vs PyTorch %.2g" % rel)
    print()
    print("| | median s | minor page faults / pass | engine / this |")
    print("|---|---:|---:|---:|")
    print("| engine (`qrealign-run --bench-forward`) | %.4f | %.0f | |" %
          (engine["median_s"], engine["minor_faults_per_pass"]))
    for r in torch_rows:
        print("| PyTorch, %s | %.4f | %.0f | %.2fx |" %
              (r["label"], r["median_s"], r["faults"],
               engine["median_s"] / r["median_s"]))
    if rel > 1e-4:
        sys.exit("engine and PyTorch disagree (%.2g): not the same model" % rel)


def pytorch_child(root, runs, threads):
    import numpy as np
    import torch
    torch.set_num_threads(threads)
    w = dict(np.load(os.path.join(root, "weights.npz")))
    tids = torch.from_numpy(np.load(os.path.join(root, "ids.npy")))
    times, faults = [], []
    with torch.inference_mode():
        np.save(os.path.join(root, "torch.npy"),
                torch_forward(torch, w, tids).numpy())
        for _ in range(runs):
            f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            t0 = time.perf_counter()
            torch_forward(torch, w, tids)
            times.append(time.perf_counter() - t0)
            faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt -
                          f0)
    print(json.dumps({"median_s": statistics.median(times),
                      "faults": statistics.median(faults)}))


if __name__ == "__main__":
    main()
