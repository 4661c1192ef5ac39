"""A plain PyTorch implementation of qrealign-calibrate's algorithm, the
oracle of the differential test (written from docs/calibration.md and
../shared/notes/method.md, not from the C++ code).

Llama layers at W8A8 (per-channel asymmetric weights with OmniQuant's
sigmoid clipping, LWC, initialised at 4.0; per-token dynamic asymmetric
activations on every linear input; smoothing scales on the two norm
edges, LET, initialised SmoothQuant's way: s_k = c max|x_k|^0.5 /
max|W[:, k]|^0.5, x the full-precision edge over every real token, W the
edge's consumers' weights stacked, c making the geometric mean 1), chained layer by layer (full-precision targets
from the full-precision stream, the quantized stream into the next layer),
each layer trained with AdamW (clipping logits lr 1e-2, smoothing scales
lr 1e-3) on the whole calibration set as one batch, `steps` times, against
the objective:

  recon:    mean over prompts of the mean squared error over real tokens
  qrealign: the same over benign prompts only, plus, over malicious prompts,
            softplus(margin - (w.h + b)) at the last prompt token,
  each prompt weighted 1 / batch.

Prints one line per layer: `layer L initial I final F seconds T` (T: the
layer's optimizer steps, on one thread).

usage: reference-calibration.py MODEL_DIR PROBES IDS LABELS OBJECTIVE STEPS
  IDS: the JSONL of qrealign-tokenize (its "ids", one prompt per line)
  LABELS: the calibration JSONL (its "label" fields, in order)
"""
import json
import math
import sys
import time

import torch

from calibration_files import read_safetensors


def tensors(path):
    return {k: torch.tensor(v).reshape(shape)
            for k, (shape, v) in read_safetensors(path).items()}


def round_ste(x):
    return x + (x.round() - x).detach()


def quant_rows(x, bits, clip_max=None, clip_min=None):
    """Asymmetric min-max quantize-dequantize of each row (last axis)."""
    levels = 2.0 ** bits
    mx = x.amax(-1, keepdim=True).clamp_min(0)
    mn = x.amin(-1, keepdim=True).clamp_max(0)
    if clip_max is not None:
        mx = mx * torch.sigmoid(clip_max.reshape(-1, 1))
        mn = mn * torch.sigmoid(clip_min.reshape(-1, 1))
    scale = ((mx - mn) / (levels - 1)).clamp_min(1e-8)
    zp = round_ste(-mn / scale)
    return (round_ste(x / scale) + zp).clamp(0, levels - 1).sub(zp) * scale


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope(x, pos, hd, theta):
    B, S, F = x.shape
    half = hd // 2
    inv = 1.0 / theta ** (torch.arange(half, dtype=torch.float32,
                                       device=x.device) * 2 / hd)
    ang = pos.float().unsqueeze(-1) * inv
    cos, sin = ang.cos().unsqueeze(2), ang.sin().unsqueeze(2)
    h = x.reshape(B, S, F // hd, hd)
    a, b = h[..., :half], h[..., half:]
    return torch.cat([a * cos - b * sin, b * cos + a * sin], -1).reshape(B, S, F)


class Layer:
    def __init__(self, W, i, cfg, quantized):
        p = "model.layers.%d." % i
        self.cfg = cfg
        self.q = quantized
        self.norm1 = W[p + "input_layernorm.weight"]
        self.norm2 = W[p + "post_attention_layernorm.weight"]
        self.w = {r: W[p + s + "." + r + ".weight"] for s, rs in
                  [("self_attn", ["q_proj", "k_proj", "v_proj", "o_proj"]),
                   ("mlp", ["gate_proj", "up_proj", "down_proj"])] for r in rs}
        self.clip = {r: (torch.full((w.shape[0], 1), 4.0, requires_grad=True),
                         torch.full((w.shape[0], 1), 4.0, requires_grad=True))
                     for r, w in self.w.items()}
        d = self.norm1.shape[0]
        self.s1 = torch.ones(d, requires_grad=True)
        self.s2 = torch.ones(d, requires_grad=True)

    def clips(self):
        return [c for pair in self.clip.values() for c in pair]

    def linear(self, x, role, smooth=None):
        w = self.w[role]
        if not self.q:
            return x @ w.t()
        if smooth is not None:
            w = w * smooth
        w = quant_rows(w, 8, *self.clip[role])
        return quant_rows(x, 8) @ w.t()

    def __call__(self, x, pos, mask):
        c = self.cfg
        H, KV = c["num_attention_heads"], c["num_key_value_heads"]
        hd = c["hidden_size"] // H
        h = rms_norm(x, self.norm1, c["rms_norm_eps"])
        self.edges = [h]
        s1 = self.s1 if self.q else None
        if self.q:
            h = h / self.s1
        q = rope(self.linear(h, "q_proj", s1), pos, hd, c["rope_theta"])
        k = rope(self.linear(h, "k_proj", s1), pos, hd, c["rope_theta"])
        v = self.linear(h, "v_proj", s1)
        B, S, _ = x.shape
        qh = q.reshape(B, S, H, hd).transpose(1, 2)
        kh = k.reshape(B, S, KV, hd).transpose(1, 2).repeat_interleave(H // KV, 1)
        vh = v.reshape(B, S, KV, hd).transpose(1, 2).repeat_interleave(H // KV, 1)
        scores = qh @ kh.transpose(-1, -2) / math.sqrt(hd)
        causal = torch.ones(S, S, dtype=torch.bool).tril()
        allowed = causal.view(1, 1, S, S) & mask.view(B, 1, 1, S)
        scores = scores.masked_fill(~allowed, torch.finfo(torch.float32).min)
        a = (scores.softmax(-1) @ vh).transpose(1, 2).reshape(B, S, H * hd)
        x = x + self.linear(a, "o_proj")
        h = rms_norm(x, self.norm2, c["rms_norm_eps"])
        self.edges.append(h)
        s2 = self.s2 if self.q else None
        if self.q:
            h = h / self.s2
        g = self.linear(h, "gate_proj", s2)
        u = self.linear(h, "up_proj", s2)
        return x + self.linear(torch.nn.functional.silu(g) * u, "down_proj")


def smoothquant(edge, mask, weights, alpha=0.5):
    xmax = edge[mask].abs().amax(0)
    wmax = torch.cat(weights).abs().amax(0)
    s = (xmax.pow(alpha) / wmax.pow(1 - alpha)).clamp_min(1e-5)
    return s / s.log().mean().exp()  # geometric mean 1


def main():
    model, probes_path, ids_path, labels_path, objective, steps = sys.argv[1:]
    steps = int(steps)
    cfg = json.load(open(model + "/config.json"))
    W = tensors(model + "/model.safetensors")
    P = tensors(probes_path)
    prompts = [json.loads(l)["ids"] for l in open(ids_path) if l.strip()]
    labels = [json.loads(l)["label"] for l in open(labels_path) if l.strip()]
    assert len(prompts) == len(labels)
    B, S = len(prompts), max(map(len, prompts))
    ids = torch.zeros(B, S, dtype=torch.long)
    pos = torch.zeros(B, S, dtype=torch.long)
    mask = torch.zeros(B, S, dtype=torch.bool)
    tw = torch.zeros(B, S)
    pw = torch.zeros(B)
    for b, p in enumerate(prompts):
        pad = S - len(p)
        ids[b, pad:] = torch.tensor(p)
        pos[b, pad:] = torch.arange(len(p))
        mask[b, pad:] = True
        if objective == "recon" or labels[b] == 0:
            tw[b, pad:] = 1.0 / (B * len(p))
        if objective == "qrealign" and labels[b] == 1:
            pw[b] = 1.0 / B
    x_fp = W["model.embed_tokens.weight"][ids]
    x_q = x_fp.clone()
    for i in range(cfg["num_hidden_layers"]):
        reference = Layer(W, i, cfg, False)
        with torch.no_grad():
            target = reference(x_fp, pos, mask)
        layer = Layer(W, i, cfg, True)
        with torch.no_grad():
            e1, e2 = reference.edges
            layer.s1.copy_(smoothquant(e1, mask, [layer.w[r] for r in
                                                  ("q_proj", "k_proj", "v_proj")]))
            layer.s2.copy_(smoothquant(e2, mask, [layer.w[r] for r in
                                                  ("gate_proj", "up_proj")]))
        pw_ = P["layers.%d.weight" % i]
        pb_ = P["layers.%d.bias" % i]

        def loss_fn():
            y = layer(x_q, pos, mask)
            loss = (tw * (y - target).pow(2).mean(-1)).sum()
            if objective == "qrealign":
                logit = y[:, -1, :] @ pw_ + pb_.reshape(())
                loss = loss + (pw * torch.nn.functional.softplus(-logit)).sum()
            return loss, y

        opt = torch.optim.AdamW([{"params": layer.clips(), "lr": 1e-2},
                                 {"params": [layer.s1, layer.s2], "lr": 1e-3}],
                                betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
        with torch.no_grad():
            initial = loss_fn()[0].item()
        t0 = time.perf_counter()
        for _ in range(steps):
            opt.zero_grad()
            loss, _ = loss_fn()
            loss.backward()
            opt.step()
        seconds = time.perf_counter() - t0
        with torch.no_grad():
            final, y = loss_fn()
        print("layer %d initial %.6g final %.6g seconds %.3f" %
              (i, initial, final.item(), seconds))
        x_q, x_fp = y.detach(), target


if __name__ == "__main__":
    torch.manual_seed(0)
    torch.set_num_threads(1)
    main()
