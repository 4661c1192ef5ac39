#!/usr/bin/env python3
"""qrealign-calibrate against a plain PyTorch implementation of the same
algorithm, side by side, on a Llama-2-7B-shaped model with random weights
(issue 13's GPU measurement): W8A8 with LWC and SmoothQuant-started LET,
objective qrealign, batch 1, the paper's 5/15 epoch schedule, PROMPTS
prompts of TOKENS tokens (half labelled malicious). Prints, for each side,
the seconds per layer-epoch of every layer, the wall time of the whole
calibration, and the peak GPU memory, then the ratios ours / PyTorch.

    python3 bench/calibration_gpu.py --device cuda            # 7B shape
    python3 bench/calibration_gpu.py --shape small --device cpu --prompts 8 \
        --tokens 16 --epochs 1,2                             # a quick check

`--layers K` builds a model of K layers of the 7B shape instead of 32 (to
fit a short GPU lease): per layer-epoch times do not depend on the depth,
and the 32-layer total is then projected as 16 x 5 + 16 x 15 layer-epochs
at the measured median, and marked as projected.

Needs: qrealign-import and qrealign-opt (`--bin`), the engine library
(`$QREALIGN_ENGINE_LIBRARY` or beside the tools; a CUDA libtorch build for
`--device cuda`), and a python3 with torch and numpy. Nothing is
downloaded: the weights are drawn here (N(0, 0.02), bf16), the tokenizer
is byte-level BPE without merges (one token per byte), and the probes are
random unit directions.
"""
import argparse
import importlib
import json
import math
import os
import random
import re
import shutil
import statistics
import struct
import subprocess
import sys
import threading
import time

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHAPES = {
    "7b": dict(hidden=4096, heads=32, kv_heads=32, intermediate=11008,
               vocab=32000, layers=32),
    "small": dict(hidden=64, heads=4, kv_heads=4, intermediate=128,
                  vocab=512, layers=2),
}
PROJ = [("self_attn", ["q_proj", "k_proj", "v_proj", "o_proj"]),
        ("mlp", ["gate_proj", "up_proj", "down_proj"])]


def run(cmd, **kw):
    r = subprocess.run(cmd, text=True, capture_output=True, **kw)
    if r.returncode:
        sys.exit("bench: %s failed (%d):\n%s" %
                 (" ".join(cmd), r.returncode, r.stderr[-4000:]))
    return r


def shapes_of(s):
    H, D, I = s["hidden"], s["hidden"] // s["heads"], s["intermediate"]
    out = [("model.embed_tokens.weight", [s["vocab"], H])]
    for i in range(s["layers"]):
        p = "model.layers.%d." % i
        out += [(p + "input_layernorm.weight", [H]),
                (p + "post_attention_layernorm.weight", [H]),
                (p + "self_attn.q_proj.weight", [s["heads"] * D, H]),
                (p + "self_attn.k_proj.weight", [s["kv_heads"] * D, H]),
                (p + "self_attn.v_proj.weight", [s["kv_heads"] * D, H]),
                (p + "self_attn.o_proj.weight", [H, s["heads"] * D]),
                (p + "mlp.gate_proj.weight", [I, H]),
                (p + "mlp.up_proj.weight", [I, H]),
                (p + "mlp.down_proj.weight", [H, I])]
    out += [("model.norm.weight", [H]), ("lm_head.weight", [s["vocab"], H])]
    return out


def write_safetensors(path, tensors, make, dtype="BF16", meta=None):
    """Streams tensors [(name, shape)] to `path`; make(name, shape) gives
    each as a CPU tensor of `dtype`, one at a time (7B never sits in
    memory)."""
    size = {"BF16": 2, "F32": 4}[dtype]
    header, off = {}, 0
    for name, shape in tensors:
        n = math.prod(shape) * size
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [off, off + n]}
        off += n
    if meta:
        header["__metadata__"] = meta
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for name, shape in tensors:
            t = make(name, shape).contiguous()
            f.write(t.view(torch.uint8).numpy().tobytes())
    os.replace(path + ".tmp", path)


def make_model(d, s, device, seed):
    os.makedirs(d, exist_ok=True)
    json.dump({"architectures": ["LlamaForCausalLM"], "model_type": "llama",
               "hidden_size": s["hidden"], "intermediate_size":
               s["intermediate"], "num_hidden_layers": s["layers"],
               "num_attention_heads": s["heads"], "num_key_value_heads":
               s["kv_heads"], "vocab_size": s["vocab"], "rms_norm_eps": 1e-5,
               "rope_theta": 10000.0, "max_position_embeddings": 4096,
               "tie_word_embeddings": False, "bos_token_id": 1,
               "eos_token_id": 2, "torch_dtype": "bfloat16"},
              open(os.path.join(d, "config.json"), "w"), indent=1)
    gen = torch.Generator(device=device).manual_seed(seed)

    def make(name, shape):
        if name.endswith("layernorm.weight") or name == "model.norm.weight":
            return torch.ones(shape, dtype=torch.bfloat16)
        t = torch.randn(shape, generator=gen, device=device) * 0.02
        return t.to(torch.bfloat16).cpu()

    write_safetensors(os.path.join(d, "model.safetensors"), shapes_of(s),
                      make, meta={"format": "pt"})
    run([sys.executable, os.path.join(ROOT, "test", "lit-utils",
                                      "make-bpe-tokenizer.py"),
         os.path.join(d, "tokenizer.json"), "--pattern", "gpt2"])


def make_probes(path, s, seed):
    g = torch.Generator().manual_seed(seed + 1)
    H, L = s["hidden"], s["layers"]
    records, tensors = [], []
    dirs = {}
    for i in range(L):
        w = torch.randn(H, generator=g)
        dirs[i] = w / w.norm()
        records.append({"name": "layers.%d" % i, "tensor":
                        "output of qrealign.layer %d" % i, "position": -1,
                        "heldout_accuracy": 0.9})
        tensors += [("layers.%d.weight" % i, [H]), ("layers.%d.bias" % i, [1])]
    meta = {"format": "qrealign-probes",
            "probes": json.dumps({"hidden_size": H, "num_layers": L,
                                  "probes": records})}

    def make(name, shape):
        i = int(name.split(".")[1])
        return dirs[i].float() if name.endswith("weight") else \
            torch.zeros(1)

    write_safetensors(path, tensors, make, dtype="F32", meta=meta)
    return dirs


def make_data(path, n, tokens, seed):
    """n prompts of tokens + 8 letters (one token per byte), alternately
    malicious (1) and benign (0)."""
    rng = random.Random(seed)
    with open(path, "w") as f:
        for i in range(n):
            text = "".join(rng.choice("abcdefghij klmnopqrst uvwxyz")
                           for _ in range(tokens + 8))
            f.write(json.dumps({"prompt": text, "label": 1 - i % 2}) + "\n")


class GpuMemory:
    """Peak memory in use on the GPU (nvidia-smi, every 100 ms), for the
    engine, whose allocator we cannot ask from here."""

    def __init__(self):
        self.peak, self.stop = 0, threading.Event()
        self.ok = shutil.which("nvidia-smi") is not None

    def __enter__(self):
        if self.ok:
            self.t = threading.Thread(target=self.poll, daemon=True)
            self.t.start()
        return self

    def poll(self):
        while not self.stop.is_set():
            r = subprocess.run(["nvidia-smi", "--query-gpu=memory.used",
                                "--format=csv,noheader,nounits", "-i", "0"],
                               text=True, capture_output=True)
            try:
                self.peak = max(self.peak, int(r.stdout.split()[0]))
            except (ValueError, IndexError):
                pass
            self.stop.wait(0.1)

    def __exit__(self, *a):
        self.stop.set()
        if self.ok:
            self.t.join()


def ours(a, work, s):
    b = a.bin
    run([b + "/qrealign-import", work + "/model", "-o", work + "/ft.mlir"])
    run([b + "/qrealign-opt", work + "/ft.mlir",
         "--qrealign-assign-quant=w-bits=8 a-bits=8 skip=lm_head",
         "--qrealign-quantize-weights=form=fake lwc smooth "
         "file=init.safetensors scope=init",
         "--qrealign-attach-probes=file=" + work + "/probes.safetensors",
         "-o", work + "/fake.mlir"], cwd=work)
    base = run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,"
                "noheader,nounits", "-i", "0"]).stdout.split()[0] \
        if shutil.which("nvidia-smi") else "0"
    t0 = time.perf_counter()
    with GpuMemory() as mem:
        r = run([b + "/qrealign-opt", work + "/fake.mlir",
                 "--qrealign-calibrate=data=%s/data.jsonl objective=qrealign "
                 "chat-template=none max-tokens=%d batch-size=1 epochs=%s "
                 "device=%s threads=%d file=learned.safetensors" %
                 (work, a.tokens, a.epochs, a.device, a.threads),
                 "-o", work + "/cal.mlir"], cwd=work)
    wall = time.perf_counter() - t0
    layers = []
    for m in re.finditer(r"layer (\d+): loss \S+ -> \S+, (\d+) steps "
                         r"\(([0-9.]+) s\)", r.stderr):
        layers.append((int(m.group(1)), float(m.group(3))))
    if len(layers) != s["layers"]:
        sys.exit("bench: expected %d layer lines from qrealign-calibrate:\n%s"
                 % (s["layers"], r.stderr[-4000:]))
    peak = (mem.peak - int(base)) / 1024 if mem.ok else float("nan")
    return layers, wall, peak


# The baseline: plain PyTorch, the differential test's oracle's quantizer,
# norm, RoPE and SmoothQuant start, on the device.
sys.path.insert(0, os.path.join(ROOT, "test", "Calibration", "Inputs"))
oracle = importlib.import_module("reference-calibration")


def attention(q, k, v):
    """Causal attention: PyTorch's fused kernel where it has one (2.x)."""
    sdpa = getattr(torch.nn.functional, "scaled_dot_product_attention", None)
    if sdpa:
        return sdpa(q, k, v, is_causal=True)
    S = q.shape[-2]
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    causal = torch.ones(S, S, dtype=torch.bool, device=q.device).tril()
    return scores.masked_fill(~causal, float("-inf")).softmax(-1) @ v


class Layer:
    def __init__(self, W, s, quantized, dev):
        self.W, self.s, self.q = W, s, quantized
        if quantized:
            self.clip = {r: (torch.full((W[r].shape[0], 1), 4.0, device=dev,
                                        requires_grad=True),
                             torch.full((W[r].shape[0], 1), 4.0, device=dev,
                                        requires_grad=True))
                         for _, rs in PROJ for r in rs}
            self.s1 = torch.ones(s["hidden"], device=dev, requires_grad=True)
            self.s2 = torch.ones(s["hidden"], device=dev, requires_grad=True)

    def linear(self, x, r, smooth=None):
        w = self.W[r]
        if not self.q:
            return x @ w.t()
        if smooth is not None:
            w = w * smooth
        return oracle.quant_rows(x, 8) @ \
            oracle.quant_rows(w, 8, *self.clip[r]).t()

    def __call__(self, x, pos):
        s, W = self.s, self.W
        H, KV = s["heads"], s["kv_heads"]
        hd = s["hidden"] // H
        h = oracle.rms_norm(x, W["n1"], 1e-5)
        self.edges = [h]
        s1 = self.s1 if self.q else None
        if self.q:
            h = h / s1
        q = oracle.rope(self.linear(h, "q_proj", s1), pos, hd, 1e4)
        k = oracle.rope(self.linear(h, "k_proj", s1), pos, hd, 1e4)
        v = self.linear(h, "v_proj", s1)
        B, S, _ = x.shape
        a = attention(q.reshape(B, S, H, hd).transpose(1, 2),
                      k.reshape(B, S, KV, hd).transpose(1, 2)
                      .repeat_interleave(H // KV, 1),
                      v.reshape(B, S, KV, hd).transpose(1, 2)
                      .repeat_interleave(H // KV, 1))
        x = x + self.linear(a.transpose(1, 2).reshape(B, S, H * hd), "o_proj")
        h = oracle.rms_norm(x, W["n2"], 1e-5)
        self.edges.append(h)
        s2 = self.s2 if self.q else None
        if self.q:
            h = h / s2
        g, u = self.linear(h, "gate_proj", s2), self.linear(h, "up_proj", s2)
        return x + self.linear(torch.nn.functional.silu(g) * u, "down_proj")


def load_layer(path, i, dev):
    """One layer's weights from the safetensors file, as f32 on `dev`."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    mm = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + n)

    def get(name):
        e = header[name]
        lo, hi = e["data_offsets"]
        raw = torch.from_numpy(np.array(mm[lo:hi]).view(np.int16))
        return raw.view(torch.bfloat16).reshape(e["shape"]).to(dev).float()

    p = "model.layers.%d." % i
    W = {r: get(p + sub + "." + r + ".weight") for sub, rs in PROJ for r in rs}
    W["n1"] = get(p + "input_layernorm.weight")
    W["n2"] = get(p + "post_attention_layernorm.weight")
    return W, get


def pytorch(a, work, s, dirs):
    dev = torch.device(a.device)
    torch.manual_seed(0)
    path = work + "/model/model.safetensors"
    T, n = a.tokens, a.prompts
    lines = [json.loads(l) for l in open(work + "/data.jsonl")]
    ids = torch.tensor([list(l["prompt"].encode())[-T:] for l in lines],
                       device=dev)  # one token per byte, as the tokenizer
    labels = [l["label"] for l in lines]
    pos = torch.arange(T, device=dev).unsqueeze(0)
    epochs = [int(e) for e in a.epochs.split(",")]
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    _, get = load_layer(path, 0, dev)
    xfp = get("model.embed_tokens.weight")[ids]
    xq = xfp.clone()
    out = []
    for i in range(s["layers"]):
        W, _ = load_layer(path, i, dev)
        ep = epochs[0] if len(epochs) == 1 or i <= s["layers"] // 2 \
            else epochs[1]
        ref = Layer(W, s, False, dev)
        with torch.no_grad():
            target = torch.cat([ref(xfp[j:j + 1], pos) for j in range(n)])
            amax = [torch.zeros(s["hidden"], device=dev) for _ in range(2)]
            for j in range(n):
                ref(xfp[j:j + 1], pos)
                for k in range(2):
                    amax[k] = torch.maximum(amax[k], ref.edges[k].abs()
                                            .amax((0, 1)))
        L = Layer(W, s, True, dev)
        with torch.no_grad():
            for sc, x, rs in [(L.s1, amax[0], ["q_proj", "k_proj", "v_proj"]),
                              (L.s2, amax[1], ["gate_proj", "up_proj"])]:
                sc.copy_(oracle.smoothquant(x.unsqueeze(0),
                                            torch.ones(1, dtype=torch.bool,
                                                       device=dev),
                                            [W[r] for r in rs]))
        opt = torch.optim.AdamW(
            [{"params": [c for p in L.clip.values() for c in p], "lr": 1e-2},
             {"params": [L.s1, L.s2], "lr": 1e-3}], weight_decay=0.0)
        w, b = dirs[i].to(dev), torch.zeros((), device=dev)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t1 = time.perf_counter()
        for e in range(ep):
            for j in torch.randperm(n).tolist():
                y = L(xq[j:j + 1], pos)
                if labels[j]:
                    loss = torch.nn.functional.softplus(-(y[0, -1] @ w + b))
                else:
                    loss = (y - target[j:j + 1]).pow(2).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        steps = time.perf_counter() - t1
        with torch.no_grad():
            xq = torch.cat([L(xq[j:j + 1], pos) for j in range(n)])
        xfp = target
        out.append((i, steps, ep))
        print("pytorch: layer %d: %.1f s for %d epochs" % (i, steps, ep),
              file=sys.stderr, flush=True)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    wall = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated() / 2**30 \
        if dev.type == "cuda" else float("nan")
    return out, wall, peak


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", choices=SHAPES, default="7b")
    ap.add_argument("--layers", type=int)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--prompts", type=int, default=200)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--epochs", default="5,15")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "bin"))
    ap.add_argument("--work", default=os.path.join(ROOT, "build",
                                                   "bench-calibration"))
    ap.add_argument("--skip-pytorch", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    s = dict(SHAPES[a.shape])
    if a.layers:
        s["layers"] = a.layers
    epochs = [int(e) for e in a.epochs.split(",")]
    os.makedirs(a.work, exist_ok=True)
    t = time.perf_counter()
    make_model(a.work + "/model", s, a.device, a.seed)
    dirs = make_probes(a.work + "/probes.safetensors", s, a.seed)
    make_data(a.work + "/data.jsonl", a.prompts, a.tokens, a.seed)
    print("bench: model written in %.0f s" % (time.perf_counter() - t),
          file=sys.stderr)

    mine, wall, peak = ours(a, a.work, s)
    theirs, twall, tpeak = ([], float("nan"), float("nan")) \
        if a.skip_pytorch else pytorch(a, a.work, s, dirs)

    def ep(i):
        return epochs[0] if len(epochs) == 1 or i <= s["layers"] // 2 \
            else epochs[-1]

    per = [t / ep(i) for i, t in mine]
    tper = [t / e for _, t, e in theirs]
    name = "%s shape, %d layers, hidden %d" % (a.shape, s["layers"],
                                               s["hidden"])
    print("calibration on %s (%s): W8A8 LWC+LET, qrealign, %d prompts x %d "
          "tokens, batch 1, epochs %s" % (a.device, name, a.prompts,
                                          a.tokens, a.epochs))
    print()
    print("| layer | epochs | ours s/layer-epoch | PyTorch s/layer-epoch | "
          "ours / PyTorch |")
    print("|---:|---:|---:|---:|---:|")
    for k, (i, _) in enumerate(mine):
        y = tper[k] if k < len(tper) else float("nan")
        print("| %d | %d | %.2f | %.2f | %.2f |" % (i, ep(i), per[k], y,
                                                   per[k] / y))
    mp = statistics.median(per)
    tp = statistics.median(tper) if tper else float("nan")
    print("| median | | %.2f | %.2f | %.2f |" % (mp, tp, mp / tp))
    print()
    full = 16 * epochs[0] + 16 * epochs[-1]
    proj = "" if s["layers"] == 32 and a.shape == "7b" else \
        " (projected to 32 layers: %d layer-epochs x the median: ours %.1f " \
        "min, PyTorch %.1f min)" % (full, full * mp / 60, full * tp / 60)
    print("wall time, whole calibration: ours %.1f min, PyTorch %.1f min%s"
          % (wall / 60, twall / 60, proj))
    print("peak GPU memory: ours %.1f GiB (nvidia-smi, above the idle "
          "baseline), PyTorch %.1f GiB (max_memory_allocated)" % (peak, tpeak))


main()
