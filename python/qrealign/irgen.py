#!/usr/bin/env python3
"""Generate qrealign IR for a Llama-family model shape.

Writes a module with one `qrealign.param` per weight (Hugging Face tensor
names as symbols), a `func.func @forward(ids, positions, mask) -> logits`
made of `qrealign.layer` blocks, and either inline weights (deterministic
pseudo-random `dense_resource` blobs, for small test models) or external
references into a checkpoint (for real-sized shapes; nothing is read).

Stdlib only, so it runs under any python3:

    python3 python/qrealign/irgen.py --preset tiny -o examples/tiny-llama.mlir
    python3 python/qrealign/irgen.py --preset llama-2-7b -o /tmp/l7b.mlir
"""

import argparse
import math
import os
import random
import struct
import sys
import tempfile

PRESETS = {
    # The embedded example: 2 layers, GQA, untied LM head, inline weights.
    "tiny": dict(layers=2, hidden=16, heads=4, kv_heads=2, head_dim=4,
                 intermediate=32, vocab=32, tied=False, qkv_bias=False,
                 rope="rotate_half", theta=10000.0, eps=1e-5,
                 weights="inline"),
    # Real shapes, external weights (only the shapes matter).
    "llama-2-7b": dict(layers=32, hidden=4096, heads=32, kv_heads=32,
                       head_dim=128, intermediate=11008, vocab=32000,
                       tied=False, qkv_bias=False, rope="rotate_half",
                       theta=10000.0, eps=1e-5, weights="external"),
    "llama-3-8b": dict(layers=32, hidden=4096, heads=32, kv_heads=8,
                       head_dim=128, intermediate=14336, vocab=128256,
                       tied=False, qkv_bias=False, rope="rotate_half",
                       theta=500000.0, eps=1e-5, weights="external"),
    "qwen2-0.5b": dict(layers=24, hidden=896, heads=14, kv_heads=2,
                       head_dim=64, intermediate=4864, vocab=151936,
                       tied=True, qkv_bias=True, rope="rotate_half",
                       theta=1000000.0, eps=1e-6, weights="external"),
}


def flt(v):
    """An MLIR float literal (always with a decimal point)."""
    s = repr(float(v))
    return s if "." in s else s.replace("e", ".0e")


def tensor_type(shape, elt):
    return "tensor<" + "x".join(str(d) for d in shape) + "x" + elt + ">"


class Module:
    def __init__(self, cfg, seed):
        self.cfg = cfg
        self.rng = random.Random(seed)
        self.params = []      # (symbol, shape)
        self.resources = []   # (key, hex)

    def param(self, name, shape, kind, elt=None, scope="model"):
        """Declares a parameter; kind picks the init of inline weights;
        elt and scope, when given, are an external parameter's storage type
        and scope (packed weights)."""
        self.params.append((name, shape, kind, elt, scope))
        return name

    def elt(self):
        return "f32" if self.cfg["weights"] == "inline" else self.cfg["dtype"]

    def inline_blob(self, shape, kind):
        n = 1
        for d in shape:
            n *= d
        rng = self.rng
        if kind == "norm":
            vals = [1.0 + 0.1 * rng.gauss(0.0, 1.0) for _ in range(n)]
        elif kind == "bias":
            vals = [0.02 * rng.gauss(0.0, 1.0) for _ in range(n)]
        else:
            std = 1.0 / math.sqrt(shape[-1])
            vals = [std * rng.gauss(0.0, 1.0) for _ in range(n)]
        data = struct.pack("<I", 4) + struct.pack("<%df" % n, *vals)
        return "0x" + data.hex().upper()

    def render_params(self):
        out = []
        for name, shape, kind, elt, scope in self.params:
            ty = tensor_type(shape, elt or self.elt())
            if elt is not None:
                init = '#qrealign.external<"%s"::"%s">' % (scope, name)
            elif self.cfg["weights"] == "inline":
                key = name.replace(".", "_")
                self.resources.append((key, self.inline_blob(shape, kind)))
                init = "dense_resource<%s>" % key
            else:
                init = '#qrealign.external<"model"::"%s">' % name
            out.append("  qrealign.param @%s : %s = %s" % (name, ty, init))
        return out


def build(cfg, seed):
    m = Module(cfg, seed)
    L, D, H, KV, HD = (cfg[k] for k in
                       ("layers", "hidden", "heads", "kv_heads", "head_dim"))
    F, V = cfg["intermediate"], cfg["vocab"]
    qd, kvd = H * HD, KV * HD
    act = "f32"
    hid = "tensor<?x?x%dx%s>" % (D, act)
    idt, pos, mask = "tensor<?x?xi64>", "tensor<?x?xi64>", "tensor<?x?xi1>"
    wt = m.elt()
    scale = flt(1.0 / math.sqrt(HD))

    def T(shape):
        return tensor_type(shape, wt)

    def act_t(width):
        return "tensor<?x?x%dx%s>" % (width, act)

    body = []
    emb = m.param("model.embed_tokens.weight", [V, D], "weight")
    body.append("    %%embed = qrealign.get_param @%s : %s" % (emb, T([V, D])))
    body.append("    %%h0 = qrealign.embedding %%ids, %%embed : (%s, %s) -> %s"
                % (idt, T([V, D]), hid))
    for i in range(L):
        p = "model.layers.%d." % i
        names = {}
        for key, shape, kind in (
                ("ln1", [D], "norm"), ("q", [qd, D], "weight"),
                ("k", [kvd, D], "weight"), ("v", [kvd, D], "weight"),
                ("o", [D, qd], "weight"), ("ln2", [D], "norm"),
                ("gate", [F, D], "weight"), ("up", [F, D], "weight"),
                ("down", [D, F], "weight")):
            hf = {"ln1": "input_layernorm.weight",
                  "ln2": "post_attention_layernorm.weight",
                  "q": "self_attn.q_proj.weight",
                  "k": "self_attn.k_proj.weight",
                  "v": "self_attn.v_proj.weight",
                  "o": "self_attn.o_proj.weight",
                  "gate": "mlp.gate_proj.weight", "up": "mlp.up_proj.weight",
                  "down": "mlp.down_proj.weight"}[key]
            packed = cfg.get("packed")
            if packed and kind == "weight":
                # The deployment form: levels, scales and zero points in
                # scope "quant", dequantized in the layer.
                bits, group = packed
                N, K = shape
                pre = p + hf[:-len(".weight")]
                store = [N, K // 2] if bits <= 4 else [N, K]
                sshape = [N, K // group if group else 1]
                m.param(pre + ".weight_packed", store, kind,
                        "ui8" if bits <= 4 else "i8", "quant")
                m.param(pre + ".weight_scale", sshape, kind, "f32", "quant")
                m.param(pre + ".weight_zero_point", sshape, kind, "i8", "quant")
                names[key] = (pre, shape, ("packed", bits, store, sshape))
                continue
            names[key] = (m.param(p + hf, shape, kind), shape)
            if cfg["qkv_bias"] and key in ("q", "k", "v"):
                bname = p + hf.replace(".weight", ".bias")
                names[key + "_b"] = (m.param(bname, shape[:1], "bias"),
                                     shape[:1])
        b = []
        b.append("    %%h%d = qrealign.layer %d (%%h%d, %%positions, %%mask) "
                 ": (%s, %s, %s) -> %s {" % (i + 1, i, i, hid, pos, mask, hid))
        b.append("    ^bb0(%%x: %s, %%pos: %s, %%m: %s):" % (hid, pos, mask))
        for key, (sym, shape, *extra) in names.items():
            if extra:
                _, bits, store, sshape = extra[0]
                st = tensor_type(store, "ui8" if bits <= 4 else "i8")
                ft, zt = tensor_type(sshape, "f32"), tensor_type(sshape, "i8")
                b.append("      %%p_%s = qrealign.get_param @%s.weight_packed : %s"
                         % (key, sym, st))
                b.append("      %%s_%s = qrealign.get_param @%s.weight_scale : %s"
                         % (key, sym, ft))
                b.append("      %%z_%s = qrealign.get_param @%s.weight_zero_point : %s"
                         % (key, sym, zt))
                b.append("      %%w_%s = qrealign.dequantize %%p_%s, %%s_%s zero_point %%z_%s bits = %d : (%s, %s, %s) -> %s"
                         % (key, key, key, key, bits, st, ft, zt,
                            tensor_type(shape, "f32")))
                continue
            b.append("      %%w_%s = qrealign.get_param @%s : %s"
                     % (key, sym, T(shape)))

        def linear(res, name, inp, in_w, key, out_w):
            bias = ""
            packed = len(names[key]) > 2
            types = "%s, %s" % (act_t(in_w), tensor_type(names[key][1], "f32")
                                if packed else T(names[key][1]))
            if key + "_b" in names:
                bias = " bias %%w_%s_b" % key
                types += ", " + T(names[key + "_b"][1])
            fusion = {"q_proj": "qkv", "k_proj": "qkv", "v_proj": "qkv",
                      "gate_proj": "gate_up", "up_proj": "gate_up"}.get(name)
            fields = []
            if fusion:
                fields.append('fusion = "%s"' % fusion)
            if packed:
                bits, group = cfg["packed"]
                fields.append("quant = #qrealign.quant<w_bits = %d%s>" % (
                    bits, ", granularity = per_group, group_size = %d" % group
                    if group else ""))
            attrs = " {%s}" % ", ".join(fields) if fields else ""
            b.append('      %%%s = qrealign.linear "%s" %%%s, %%w_%s%s%s : (%s) -> %s'
                     % (res, name, inp, key, bias, attrs, types,
                        act_t(out_w)))

        b.append("      %%n1 = qrealign.rms_norm %%x, %%w_ln1 eps = %s : (%s, %s) -> %s"
                 % (flt(cfg["eps"]), hid, T([D]), hid))
        linear("q", "q_proj", "n1", D, "q", qd)
        linear("k", "k_proj", "n1", D, "k", kvd)
        linear("v", "v_proj", "n1", D, "v", kvd)
        for t, w in (("q", qd), ("k", kvd)):
            b.append("      %%%sr = qrealign.rope %s %%%s, %%pos head_dim = %d theta = %s : (%s, %s) -> %s"
                     % (t, cfg["rope"], t, HD, flt(cfg["theta"]), act_t(w), pos,
                        act_t(w)))
        b.append("      %%attn = qrealign.attention %%qr, %%kr, %%v mask %%m heads = %d kv_heads = %d head_dim = %d scale = %s causal : (%s, %s, %s, %s) -> %s"
                 % (H, KV, HD, scale, act_t(qd), act_t(kvd), act_t(kvd), mask,
                    act_t(qd)))
        linear("o", "o_proj", "attn", qd, "o", D)
        b.append("      %%r1 = qrealign.add %%x, %%o : %s" % hid)
        b.append("      %%n2 = qrealign.rms_norm %%r1, %%w_ln2 eps = %s : (%s, %s) -> %s"
                 % (flt(cfg["eps"]), hid, T([D]), hid))
        linear("gate", "gate_proj", "n2", D, "gate", F)
        linear("up", "up_proj", "n2", D, "up", F)
        b.append("      %%act = qrealign.swiglu %%gate, %%up : %s" % act_t(F))
        linear("down", "down_proj", "act", F, "down", D)
        b.append("      %%r2 = qrealign.add %%r1, %%down : %s" % hid)
        b.append("      qrealign.yield %%r2 : %s" % hid)
        b.append("    }")
        body.extend(b)
    norm = m.param("model.norm.weight", [D], "norm")
    body.append("    %%norm_w = qrealign.get_param @%s : %s" % (norm, T([D])))
    body.append("    %%hn = qrealign.rms_norm %%h%d, %%norm_w eps = %s : (%s, %s) -> %s"
                % (L, flt(cfg["eps"]), hid, T([D]), hid))
    if cfg["tied"]:
        head = "%embed"
    else:
        lm = m.param("lm_head.weight", [V, D], "weight")
        body.append("    %%lm_w = qrealign.get_param @%s : %s" % (lm, T([V, D])))
        head = "%lm_w"
    body.append('    %%logits = qrealign.linear "lm_head" %%hn, %s : (%s, %s) -> %s'
                % (head, hid, T([V, D]), act_t(V)))
    body.append("    return %%logits : %s" % act_t(V))

    lines = []
    attrs = ""
    if cfg["weights"] == "external":
        quant = (', quant = "%s"' % cfg["quant_params"]
                 if cfg.get("packed") else "")
        attrs = (' attributes {qrealign.params = {model = "%s"%s}}'
                 % (cfg["checkpoint"], quant))
    lines.append("module%s {" % attrs)
    lines.extend(m.render_params())
    lines.append("  func.func @forward(%%ids: %s, %%positions: %s, %%mask: %s) -> %s {"
                 % (idt, pos, mask, act_t(V)))
    lines.extend(body)
    lines.append("  }")
    lines.append("}")
    if m.resources:
        lines.append("")
        lines.append("{-#")
        lines.append("  dialect_resources: {")
        lines.append("    builtin: {")
        for j, (key, blob) in enumerate(m.resources):
            sep = "," if j + 1 < len(m.resources) else ""
            lines.append('      %s: "%s"%s' % (key, blob, sep))
        lines.append("    }")
        lines.append("  }")
        lines.append("#-}")
    return "\n".join(lines) + "\n"


def header(cfg, argv):
    # The command that reproduces the text: argv without the output path.
    shown, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a in ("-o", "--output"):
            skip = True
        elif not (a.startswith("--output=") or a.startswith("-o=")):
            shown.append(a)
    argv = shown
    keys = ("layers", "hidden", "heads", "kv_heads", "head_dim",
            "intermediate", "vocab", "tied", "qkv_bias", "rope", "weights")
    desc = ", ".join("%s=%s" % (k, cfg[k]) for k in keys)
    return ("// Generated by python/qrealign/irgen.py %s\n// %s\n"
            % (" ".join(argv), desc))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    for key in ("layers", "hidden", "heads", "kv_heads", "head_dim",
                "intermediate", "vocab"):
        ap.add_argument("--" + key.replace("_", "-"), type=int)
    ap.add_argument("--tied", action=argparse.BooleanOptionalAction)
    ap.add_argument("--qkv-bias", action=argparse.BooleanOptionalAction)
    ap.add_argument("--rope", choices=["rotate_half", "interleaved"])
    ap.add_argument("--theta", type=float)
    ap.add_argument("--eps", type=float)
    ap.add_argument("--weights", choices=["inline", "external"])
    ap.add_argument("--dtype", default="bf16", choices=["bf16", "f16", "f32"],
                    help="element type of external weights")
    ap.add_argument("--checkpoint", default="model.safetensors",
                    help="checkpoint named by external weights")
    ap.add_argument("--packed", metavar="BITS:GROUP",
                    help="linears in their deployment form: external packed "
                         "levels, f32 scales and i8 zero points in scope "
                         "'quant', read through qrealign.dequantize "
                         "(GROUP 0: per channel); external weights only")
    ap.add_argument("--quant-params", default="quant.safetensors",
                    help="file of scope 'quant' with --packed")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-o", "--output", default="-")
    args = ap.parse_args(argv)

    cfg = dict(PRESETS[args.preset])
    for key in list(cfg) + ["dtype", "checkpoint"]:
        val = getattr(args, key, None)
        if val is not None:
            cfg[key] = val
    for key in ("layers", "hidden", "heads", "kv_heads", "head_dim",
                "intermediate", "vocab"):
        if cfg[key] <= 0:
            ap.error("--%s must be positive" % key.replace("_", "-"))
    if cfg["heads"] % cfg["kv_heads"]:
        ap.error("--kv-heads must divide --heads")
    if cfg["head_dim"] % 2:
        ap.error("--head-dim must be even")
    if args.packed:
        try:
            bits, group = (int(x) for x in args.packed.split(":"))
        except ValueError:
            ap.error("--packed takes BITS:GROUP, e.g. 4:128")
        if cfg["weights"] != "external" or not 2 <= bits <= 8:
            ap.error("--packed needs external weights and BITS in 2..8")
        # Every linear's input width must split into whole groups (the
        # verifier refuses anything else; say so here, by width).
        widths = {"hidden": cfg["hidden"],
                  "heads x head_dim": cfg["heads"] * cfg["head_dim"],
                  "intermediate": cfg["intermediate"]}
        if group < 8 or group & (group - 1):
            ap.error("--packed: GROUP must be a power of two of at least 8")
        for name, width in widths.items():
            if width % group:
                ap.error("--packed: group %d does not divide the %s width %d"
                         % (group, name, width))
        cfg["packed"] = (bits, group)
        cfg["quant_params"] = args.quant_params

    text = header(cfg, argv) + build(cfg, args.seed)
    if args.output == "-":
        sys.stdout.write(text)
        return 0
    # Atomic write: temporary file in the target directory, then rename.
    directory = os.path.dirname(os.path.abspath(args.output))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".irgen-")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, args.output)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
