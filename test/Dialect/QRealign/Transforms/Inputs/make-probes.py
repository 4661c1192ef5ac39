#!/usr/bin/env python3
"""Writes a tiny probes file as qrealign-probe fit does (safetensors with
`format: qrealign-probes` and `probes` metadata), valid or broken in one
way, for the qrealign-attach-probes tests. Stdlib only.

  make-probes.py FILE --layers N --hidden D
      [--tensor NAME=TEXT]   record probe NAME as fitted on tensor TEXT
      [--drop NAME]          leave probe NAME's tensors out
      [--no-format]          no format metadata (not a probes file)
      [--accuracy A]         held-out accuracy of every probe (0.9)
Weights of probe layers.i are (i + 1) / 10 for every feature, bias -i.
"""
import argparse
import json
import struct


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--layers", type=int, required=True)
    ap.add_argument("--hidden", type=int, required=True)
    ap.add_argument("--tensor", action="append", default=[])
    ap.add_argument("--drop")
    ap.add_argument("--no-format", action="store_true")
    ap.add_argument("--accuracy", type=float, default=0.9)
    args = ap.parse_args()
    tensors, records = [], []
    names = ["layers.%d" % i for i in range(args.layers)] + ["final_norm"]
    fitted_on = dict(t.split("=", 1) for t in args.tensor)
    for i, name in enumerate(names):
        tensor = ("output of qrealign.layer %d" % i if name != "final_norm"
                  else "the final norm's output (the LM head's input)")
        records.append({"name": name, "tensor": fitted_on.get(name, tensor),
                        "position": -1, "heldout_accuracy": args.accuracy})
        if name == args.drop:
            continue
        tensors.append((name + ".weight", [args.hidden],
                        struct.pack("<%df" % args.hidden,
                                    *([(i + 1) / 10] * args.hidden))))
        tensors.append((name + ".bias", [1], struct.pack("<f", -float(i))))
    meta = {"probes": json.dumps({"hidden_size": args.hidden,
                                  "num_layers": args.layers,
                                  "probes": records})}
    if not args.no_format:
        meta["format"] = "qrealign-probes"
    header, data = {"__metadata__": meta}, b""
    for name, shape, payload in tensors:
        header[name] = {"dtype": "F32", "shape": shape,
                        "data_offsets": [len(data), len(data) + len(payload)]}
        data += payload
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with open(args.file, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw + data)


if __name__ == "__main__":
    main()
