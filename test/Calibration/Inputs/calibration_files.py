"""Readers shared by the calibration tests' scripts: safetensors (f32
tensors) and the qrealign.calibration record of a calibrated module."""
import json
import re
import struct


def read_safetensors(path):
    """{name: (shape, [floats])} of an all-f32 safetensors file."""
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        if t["dtype"] != "F32":
            raise ValueError("%s: %s is %s, not F32" % (path, name, t["dtype"]))
        a, b = t["data_offsets"]
        raw = data[8 + n + a:8 + n + b]
        out[name] = (t["shape"], struct.unpack("<%df" % (len(raw) // 4), raw))
    return out


def number(text):
    """An MLIR f64 literal: decimal, or hex bits (inf, nan)."""
    if text.startswith("0x"):
        return struct.unpack("<d", struct.pack("<Q", int(text, 16)))[0]
    return float(text)


def layer_records(ir_path):
    """[(layer, initial, final, rolled_back)] of the module's
    qrealign.calibration record, in order."""
    text = open(ir_path).read()
    return [(int(l), number(i), number(f), r == "true") for f, i, l, r in
            re.findall(r"\{final_loss = ([^ ]+) : f64, initial_loss = "
                       r"([^ ]+) : f64, layer = (\d+) : i64, rolled_back = "
                       r"(true|false)", text)]
