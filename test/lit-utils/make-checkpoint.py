#!/usr/bin/env python3
"""Writes small checkpoints, valid and deliberately broken, for the tests.

Stdlib only. Subcommands:

  hf DIR [--arch llama|qwen2] [--shards N] [--drop NAME] [--reshape NAME]
         [--dtype F32|F16|BF16] [--config-set KEY=JSON]... [--vocab V]
      A tiny Hugging Face model directory (config.json + model.safetensors or
      N shards with model.safetensors.index.json) with random weights.
      llama: GQA (4 heads, 2 kv heads), untied; qwen2: q/k/v bias, tied.

  safetensors FILE --corrupt KIND
      A small safetensors file broken in one way (KIND below), or valid
      (KIND = none).

  llama2c FILE --corrupt KIND
      A tiny llama2.c checkpoint, valid (none) or broken.
"""

import argparse
import json
import os
import random
import struct
import sys

CORRUPTIONS = ["none", "truncated", "short", "header-too-long", "bad-json",
               "not-object", "bad-dtype", "offsets-out-of-range", "overlap",
               "hole", "size-mismatch", "reversed-offsets", "negative-shape",
               "huge-header", "trailing-bytes", "bad-metadata"]


def st_bytes(tensors, header_patch=None, raw_header=None, meta=None):
    """tensors: list of (name, dtype, shape, bytes). Returns file bytes."""
    header = {}
    data = b""
    for name, dtype, shape, payload in tensors:
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(data), len(data) + len(payload)]}
        data += payload
    if meta is not None:
        header["__metadata__"] = meta
    if header_patch:
        header_patch(header)
    text = raw_header if raw_header is not None else json.dumps(header)
    text = text.encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def floats(rng, n, scale):
    return struct.pack("<%df" % n, *[rng.gauss(0.0, scale) for _ in range(n)])


def to_dtype(payload, dtype):
    if dtype == "F32":
        return payload
    vals = struct.unpack("<%df" % (len(payload) // 4), payload)
    if dtype == "F16":
        return struct.pack("<%de" % len(vals), *vals)
    if dtype == "BF16":  # truncate the f32 bit pattern (round to nearest even)
        out = bytearray()
        for v in vals:
            bits = struct.unpack("<I", struct.pack("<f", v))[0]
            bits += 0x7FFF + ((bits >> 16) & 1)
            out += struct.pack("<H", (bits >> 16) & 0xFFFF)
        return bytes(out)
    raise ValueError(dtype)


def write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def hf(args):
    rng = random.Random(args.seed)
    qwen = args.arch == "qwen2"
    D, L, H, KV, HD, F, V = 16, 2, 4, 2, 4, 32, args.vocab
    config = {
        "architectures": ["Qwen2ForCausalLM" if qwen else "LlamaForCausalLM"],
        "model_type": args.arch, "hidden_size": D, "num_hidden_layers": L,
        "num_attention_heads": H, "num_key_value_heads": KV,
        "intermediate_size": F, "vocab_size": V, "rms_norm_eps": 1e-6,
        "rope_theta": 10000.0, "max_position_embeddings": 128,
        "hidden_act": "silu", "tie_word_embeddings": qwen,
        "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "float32"}
    for kv in args.config_set:
        key, value = kv.split("=", 1)
        config[key] = json.loads(value)
    tensors = []

    def add(name, shape, kind="w"):
        n = 1
        for d in shape:
            n *= d
        if kind == "norm":
            payload = struct.pack("<%df" % n,
                                  *[1.0 + 0.1 * rng.gauss(0, 1)
                                    for _ in range(n)])
        else:
            payload = floats(rng, n, 0.02 if kind == "b" else 0.3)
        tensors.append([name, args.dtype, list(shape),
                        to_dtype(payload, args.dtype)])

    add("model.embed_tokens.weight", [V, D])
    for i in range(L):
        p = "model.layers.%d." % i
        add(p + "input_layernorm.weight", [D], "norm")
        for proj, out in (("q", H * HD), ("k", KV * HD), ("v", KV * HD)):
            add(p + "self_attn.%s_proj.weight" % proj, [out, D])
            if qwen:
                add(p + "self_attn.%s_proj.bias" % proj, [out], "b")
        add(p + "self_attn.o_proj.weight", [D, H * HD])
        add(p + "post_attention_layernorm.weight", [D], "norm")
        add(p + "mlp.gate_proj.weight", [F, D])
        add(p + "mlp.up_proj.weight", [F, D])
        add(p + "mlp.down_proj.weight", [D, F])
    add("model.norm.weight", [D], "norm")
    if not qwen:
        add("lm_head.weight", [V, D])
    tensors = [t for t in tensors if t[0] != args.drop]
    for t in tensors:
        if t[0] == args.reshape:
            t[2] = list(reversed(t[2])) if len(t[2]) == 2 else [t[2][0] + 1]
            if len(t[2]) == 1:
                t[3] += t[3][:4 if t[1] == "F32" else 2]

    os.makedirs(args.path, exist_ok=True)
    with open(os.path.join(args.path, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    if args.shards <= 1:
        write_atomic(os.path.join(args.path, "model.safetensors"),
                     st_bytes(tensors, meta={"format": "pt"}))
        return
    per = (len(tensors) + args.shards - 1) // args.shards
    weight_map = {}
    for s in range(args.shards):
        name = "model-%05d-of-%05d.safetensors" % (s + 1, args.shards)
        part = tensors[s * per:(s + 1) * per]
        for t in part:
            weight_map[t[0]] = name
        write_atomic(os.path.join(args.path, name),
                     st_bytes(part, meta={"format": "pt"}))
    with open(os.path.join(args.path, "model.safetensors.index.json"),
              "w") as f:
        json.dump({"metadata": {"total_size": sum(len(t[3])
                                                  for t in tensors)},
                   "weight_map": weight_map}, f, indent=2)


def safetensors(args):
    a = ("a", "F32", [2, 3], struct.pack("<6f", *range(6)))
    b = ("b", "BF16", [4], b"\x80\x3f" * 4)
    kind = args.corrupt
    patch, raw, data = None, None, None
    if kind == "bad-json":
        raw = '{"a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]'
    elif kind == "not-object":
        raw = "[1, 2, 3]"
    elif kind == "bad-dtype":
        patch = lambda h: h["b"].update(dtype="F64")
    elif kind == "offsets-out-of-range":
        patch = lambda h: h["b"].update(data_offsets=[24, 4096])
    elif kind == "overlap":
        patch = lambda h: h["b"].update(data_offsets=[16, 24])
    elif kind == "hole":
        patch = lambda h: h["a"].update(data_offsets=[8, 32], shape=[2, 3])
    elif kind == "size-mismatch":
        patch = lambda h: h["a"].update(shape=[3, 3])
    elif kind == "reversed-offsets":
        patch = lambda h: h["b"].update(data_offsets=[32, 24])
    elif kind == "negative-shape":
        patch = lambda h: h["a"].update(shape=[-2, 3])
    elif kind == "bad-metadata":
        patch = lambda h: h.update(__metadata__={"format": 3})
    data = st_bytes([a, b], header_patch=patch, raw_header=raw)
    if kind == "truncated":
        data = data[:-5]
    elif kind == "trailing-bytes":
        data += b"\0" * 8
    elif kind == "short":
        data = data[:5]
    elif kind == "header-too-long":
        data = struct.pack("<Q", 1 << 20) + data[8:]
    elif kind == "huge-header":
        data = struct.pack("<Q", 1 << 62) + data[8:]
    write_atomic(args.path, data)


def llama2c(args):
    rng = random.Random(args.seed)
    dim, hidden, layers, heads, kv, vocab, seq = 8, 16, 2, 2, 1, 300, 16
    hd = dim // heads
    n = (vocab * dim + layers * dim + layers * dim * dim +
         2 * layers * kv * hd * dim + layers * dim * dim + layers * dim +
         3 * layers * hidden * dim + dim + seq * hd)
    header = [dim, hidden, layers, heads, kv, vocab, seq]
    if args.corrupt == "bad-header":
        header[3] = 3
    if args.corrupt == "negative":
        header[0] = -8
    data = struct.pack("<7i", *header) + floats(rng, n, 0.3)
    if args.corrupt == "truncated":
        data = data[:-4]
    write_atomic(args.path, data)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    h = sub.add_parser("hf")
    h.add_argument("path")
    h.add_argument("--arch", default="llama", choices=["llama", "qwen2"])
    h.add_argument("--shards", type=int, default=1)
    h.add_argument("--drop")
    h.add_argument("--reshape")
    h.add_argument("--dtype", default="F32", choices=["F32", "F16", "BF16"])
    h.add_argument("--config-set", action="append", default=[])
    h.add_argument("--seed", type=int, default=0)
    h.add_argument("--vocab", type=int, default=64)
    s = sub.add_parser("safetensors")
    s.add_argument("path")
    s.add_argument("--corrupt", default="none", choices=CORRUPTIONS)
    c = sub.add_parser("llama2c")
    c.add_argument("path")
    c.add_argument("--corrupt", default="none",
                   choices=["none", "truncated", "bad-header", "negative"])
    c.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    {"hf": hf, "safetensors": safetensors, "llama2c": llama2c}[args.cmd](args)


if __name__ == "__main__":
    main()
