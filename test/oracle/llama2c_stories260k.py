#!/usr/bin/env python3
"""Oracle: llama2.c's reference output for stories260K.

Greedy decoding from BOS for 200 steps must reproduce, exactly, the text that
llama2.c's own run.c prints (its test_all.py `expected_stdout`, quoted with
the first ids in ../shared/models/stories260K/README.md). Checked three ways:

 1. the llama2.c checkpoint imported as is (interleaved RoPE);
 2. the same weights converted to a Hugging Face directory the way
    transformers' convert_llama_weights_to_hf.py does (q/k rows permuted for
    rotate_half RoPE, tied embeddings, safetensors), so the HF import path,
    rotate_half and the safetensors reader must agree with llama2.c too;
 3. both tokenizers (llama2.c tok512.bin and SentencePiece tok512.model)
    encode the reference text to the generated ids;
 4. 1 and 2 again with `--backend compiled`: the model lowered by
    qrealign-lower-to-cpu and JIT-compiled, not the libtorch engine.

Exits 77 (a ctest skip) with a message when ../shared or the engine is
missing.

    llama2c_stories260k.py BIN_DIR SHARED_DIR WORK_DIR
"""
import json
import os
import re
import struct
import subprocess
import sys

SKIP = 77


def run(cmd):
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write("command failed (%d): %s\n%s%s" % (
            proc.returncode, " ".join(cmd), proc.stdout, proc.stderr))
        sys.exit(1)
    return proc.stdout


def reference(readme):
    text = open(readme, encoding="utf-8").read()
    m = re.search(r"reference output[^\n]*\n(?:[^\n]+\n)*\n((?:    [^\n]*\n)+)",
                  text)
    ids = re.search(r"First generated ids: ([0-9 ]+)", text)
    if not m or not ids:
        sys.exit("cannot find the reference text in " + readme)
    lines = [l[4:] for l in m.group(1).rstrip("\n").split("\n")]
    return "\n".join(lines), [int(x) for x in ids.group(1).split()]


def write_hf(bin_path, out_dir):
    """llama2.c -> Hugging Face, as convert_llama_weights_to_hf.py permutes."""
    data = open(bin_path, "rb").read()
    dim, hidden, layers, heads, kv, vocab, seq = struct.unpack("<7i",
                                                               data[:28])
    shared = vocab > 0
    vocab = abs(vocab)
    hd = dim // heads
    off = [28]

    def take(*shape):
        n = 1
        for d in shape:
            n *= d
        chunk = data[off[0]:off[0] + 4 * n]
        off[0] += 4 * n
        return list(struct.unpack("<%df" % n, chunk))

    def permute(w, n_heads, rows, cols):
        # w.view(n_heads, rows // n_heads // 2, 2, cols).transpose(1, 2)
        out = [0.0] * (rows * cols)
        half = rows // n_heads // 2
        r = 0
        for h in range(n_heads):
            for j in range(2):
                for i in range(half):
                    src = (h * half * 2 + i * 2 + j) * cols
                    out[r * cols:(r + 1) * cols] = w[src:src + cols]
                    r += 1
        return out

    t = {}
    t["model.embed_tokens.weight"] = ([vocab, dim], take(vocab, dim))
    per = {}
    for name, shape in (("att", [dim]), ("wq", [dim, dim]),
                        ("wk", [kv * hd, dim]), ("wv", [kv * hd, dim]),
                        ("wo", [dim, dim]), ("ffn", [dim]),
                        ("w1", [hidden, dim]), ("w2", [dim, hidden]),
                        ("w3", [hidden, dim])):
        per[name] = [take(*shape) for _ in range(layers)]
        per[name + "_shape"] = shape
    for i in range(layers):
        p = "model.layers.%d." % i
        t[p + "input_layernorm.weight"] = ([dim], per["att"][i])
        t[p + "self_attn.q_proj.weight"] = (
            [dim, dim], permute(per["wq"][i], heads, dim, dim))
        t[p + "self_attn.k_proj.weight"] = (
            [kv * hd, dim], permute(per["wk"][i], kv, kv * hd, dim))
        t[p + "self_attn.v_proj.weight"] = ([kv * hd, dim], per["wv"][i])
        t[p + "self_attn.o_proj.weight"] = ([dim, dim], per["wo"][i])
        t[p + "post_attention_layernorm.weight"] = ([dim], per["ffn"][i])
        t[p + "mlp.gate_proj.weight"] = ([hidden, dim], per["w1"][i])
        t[p + "mlp.down_proj.weight"] = ([dim, hidden], per["w2"][i])
        t[p + "mlp.up_proj.weight"] = ([hidden, dim], per["w3"][i])
    t["model.norm.weight"] = ([dim], take(dim))
    header, blob = {}, b""
    for name, (shape, vals) in t.items():
        payload = struct.pack("<%df" % len(vals), *vals)
        header[name] = {"dtype": "F32", "shape": shape,
                        "data_offsets": [len(blob), len(blob) + len(payload)]}
        blob += payload
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + blob)
    config = {"model_type": "llama", "hidden_size": dim,
              "intermediate_size": hidden, "num_hidden_layers": layers,
              "num_attention_heads": heads, "num_key_value_heads": kv,
              "vocab_size": vocab, "max_position_embeddings": seq,
              "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
              "tie_word_embeddings": shared, "hidden_act": "silu",
              "bos_token_id": 1, "eos_token_id": 2}
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)


def main():
    bin_dir, shared, work = sys.argv[1:4]
    model_dir = os.path.join(shared, "models", "stories260K")
    if not os.path.isdir(model_dir):
        print("SKIPPED: %s not found (the llama2.c oracle needs ../shared)"
              % model_dir)
        return SKIP
    engine = os.path.join(os.path.dirname(bin_dir.rstrip("/")), "lib",
                          "libQRealignEngine.so")
    if not os.path.exists(engine) and not os.environ.get(
            "QREALIGN_ENGINE_LIBRARY"):
        print("SKIPPED: %s not built (install libtorch-dev)" % engine)
        return SKIP
    os.makedirs(work, exist_ok=True)
    text, first_ids = reference(os.path.join(model_dir, "README.md"))
    tok_bin = os.path.join(model_dir, "tok512.bin")
    tok_model = os.path.join(model_dir, "tok512.model")
    imp = os.path.join(bin_dir, "qrealign-import")
    qrun = os.path.join(bin_dir, "qrealign-run")

    mlir = os.path.join(work, "stories260K.mlir")
    run([imp, os.path.join(model_dir, "stories260K.bin"), "-o", mlir])
    hf_dir = os.path.join(work, "stories260K-hf")
    write_hf(os.path.join(model_dir, "stories260K.bin"), hf_dir)

    failures = 0
    hf_extra = ["--tokenizer", tok_bin, "--chat-template", "none"]
    compiled = ["--backend", "compiled"]
    for label, model, extra in (
            ("llama2.c import", mlir, []),
            ("Hugging Face conversion", hf_dir, hf_extra),
            ("llama2.c, compiled", mlir, compiled),
            ("Hugging Face, compiled", hf_dir, hf_extra + compiled)):
        out = run([qrun, model, "--prompt", "", "--max-new-tokens", "200",
                   "--format", "jsonl"] + extra)
        got = json.loads(out.splitlines()[0])
        ok = got["completion"] == text and \
            got["ids"][:len(first_ids)] == first_ids and \
            len(got["ids"]) == 200
        print("%-24s %s: %d tokens, text %s" % (
            label, "PASS" if ok else "FAIL", len(got["ids"]),
            "identical" if got["completion"] == text else "DIFFERS"))
        if not ok:
            failures += 1
            print("expected:\n%s\ngot:\n%s" % (text, got["completion"]))
        if "--backend" not in extra:
            ids = got["ids"]

    for tok in (tok_bin, tok_model):
        enc = run([qrun, mlir, "--tokenizer", tok, "--tokenize-only",
                   "--prompt", text])
        enc_ids = [int(x) for x in enc.split()]
        # The rendered prompt starts with BOS; the reference ids do not.
        ok = enc_ids[1:] == ids
        print("%-24s %s" % ("encode " + os.path.basename(tok),
                            "PASS" if ok else "FAIL"))
        failures += not ok
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
