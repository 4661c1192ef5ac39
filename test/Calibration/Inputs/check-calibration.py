"""Reads the qrealign.calibration record of a calibrated module and the
learned tensors, and prints facts FileCheck can test:

  layers N: every final loss below its initial loss | loss rose at layer L
  rolled back: L1 L2 ...
  tensors N, clip min..max, smooth min..max
"""
import json
import re
import struct
import sys


def read_safetensors(path):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        raw = data[8 + n + a:8 + n + b]
        out[name] = struct.unpack("<%df" % (len(raw) // 4), raw)
    return out


def number(text):
    """An MLIR f64 literal: decimal, or hex bits (inf, nan)."""
    if text.startswith("0x"):
        return struct.unpack("<d", struct.pack("<Q", int(text, 16)))[0]
    return float(text)


def main():
    ir, tensors = sys.argv[1], sys.argv[2]
    text = open(ir).read()
    layers = re.findall(r"\{final_loss = ([^ ]+) : f64, initial_loss = "
                        r"([^ ]+) : f64, layer = (\d+) : i64, rolled_back = "
                        r"(true|false), steps = (\d+)", text)
    if not layers:
        sys.exit("no qrealign.calibration record in " + ir)
    rose = [l for f, i, l, _, _ in layers if not number(f) < number(i)]
    if rose:
        print("layers %d: loss did not fall at layer %s" %
              (len(layers), " ".join(rose)))
    else:
        print("layers %d: every final loss below its initial loss" %
              len(layers))
    print("rolled back:", " ".join(l for _, _, l, r, _ in layers
                                   if r == "true") or "none")
    t = read_safetensors(tensors)
    clip = [v for k, vs in t.items() if "clip" in k for v in vs]
    smooth = [v for k, vs in t.items() if "smooth" in k for v in vs]
    print("tensors %d, clip %g..%g, smooth %g..%g" %
          (len(t), min(clip), max(clip), min(smooth), max(smooth)))


main()
