#!/usr/bin/env python3
"""check-compressed-tensors.py DIR QUANT.safetensors

Decodes the compressed-tensors directory DIR that qrealign-export wrote the
way compressed-tensors does (its unpack_from_int32: element i of a word at
bits * i, offset-binary, zero points packed along dim 0; int-quantized
levels as int8), independently of qrealign's code, and compares every
quantized linear with what qrealign-quantize-weights stored in
QUANT.safetensors (4-bit levels as nibbles, low nibble first, q + 8; 8-bit
levels and zero points as int8; int-quantized 4-bit levels, one per byte,
against the nibbles). Prints one summary line per format and
exits 1 on any difference.
"""
import json
import struct
import sys

import numpy as np

DTYPES = {"F32": np.float32, "F16": np.float16, "I8": np.int8, "U8": np.uint8,
          "I32": np.int32, "I64": np.int64, "BF16": np.uint16}


def load(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    data = raw[8 + n:]
    out = {}
    for name, t in header.items():
        a, b = t["data_offsets"]
        out[name] = (t["dtype"],
                     np.frombuffer(data[a:b], dtype=DTYPES[t["dtype"]])
                     .reshape(t["shape"]))
    return out


def unpack_words(words, bits, rows, cols, packed_dim):
    """compressed-tensors' unpack_from_int32, in NumPy."""
    f = 32 // bits
    mask = (1 << bits) - 1
    w = words.astype(np.int64) & 0xFFFFFFFF
    if packed_dim == 1:
        out = np.zeros((w.shape[0], w.shape[1] * f), dtype=np.int64)
        for i in range(f):
            out[:, i::f] = (w >> (bits * i)) & mask
        out = out[:, :cols]
    else:
        out = np.zeros((w.shape[0] * f, w.shape[1]), dtype=np.int64)
        for i in range(f):
            out[i::f, :] = (w >> (bits * i)) & mask
        out = out[:rows, :]
    return (out - (1 << (bits - 1))).astype(np.int8)


def qrealign_levels(dtype, a, n, k):
    if dtype == "U8":  # nibbles, element 2j in the low nibble of byte j
        out = np.empty((n, k), dtype=np.int16)
        out[:, 0::2] = (a & 0xF).astype(np.int16) - 8
        out[:, 1::2] = (a >> 4).astype(np.int16) - 8
        return out.astype(np.int8)
    return a


def main():
    ct = load(sys.argv[1] + "/model.safetensors")
    q = load(sys.argv[2])
    config = json.load(open(sys.argv[1] + "/config.json"))
    qc = config["quantization_config"]
    (group,) = qc["config_groups"].values()
    bits = group["weights"]["num_bits"]
    fmt = qc["format"]
    modules = sorted({name.rsplit(".", 1)[0] for name in ct
                      if name.endswith(("weight_packed", "weight_scale"))})
    diffs = 0
    zero_points = 0
    for m in modules:
        scale_dtype, scale = ct[m + ".weight_scale"]
        n, groups = scale.shape
        qd, qa = q[m + ".weight_packed"]
        if fmt == "pack-quantized":
            _, shape = ct[m + ".weight_shape"]
            n, k = (int(v) for v in shape)
            _, words = ct[m + ".weight_packed"]
            levels = unpack_words(words, bits, n, k, 1)
        else:
            dtype, levels = ct[m + ".weight"]
            diffs += dtype != "I8"
            k = levels.shape[1]
        diffs += int(np.count_nonzero(levels != qrealign_levels(qd, qa, n, k)))
        sd, sa = q[m + ".weight_scale"]
        diffs += int(sd != scale_dtype or not np.array_equal(sa, scale))
        if m + ".weight_zero_point" in ct:
            zero_points += 1
            zd, za = ct[m + ".weight_zero_point"]
            if fmt == "pack-quantized":
                za = unpack_words(za, bits, n, groups, 0)
            diffs += int(np.count_nonzero(za != q[m + ".weight_zero_point"][1]))
    print(f"{fmt} {bits}-bit: {len(modules)} linears, {zero_points} with "
          f"zero points, {diffs} differences")
    print("ignore:", qc["ignore"], "targets:", group["targets"],
          "input_activations:",
          None if group["input_activations"] is None else
          group["input_activations"]["strategy"] +
          (" symmetric" if group["input_activations"]["symmetric"] else
           " asymmetric") +
          f", {group['input_activations']['num_bits']} bits")
    sys.exit(1 if diffs else 0)


if __name__ == "__main__":
    main()
