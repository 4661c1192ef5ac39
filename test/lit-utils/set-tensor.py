#!/usr/bin/env python3
"""Overwrites F32 tensors of a safetensors file in place with values drawn
uniformly from [LO, HI) (seeded), standing in for learned parameters in
tests. Every tensor whose name ends with one of the given suffixes is
rewritten; it is an error if none is. Stdlib only."""
import argparse
import json
import random
import struct
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("file")
    ap.add_argument("suffix", nargs="+")
    ap.add_argument("--uniform", nargs=2, type=float, required=True,
                    metavar=("LO", "HI"))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    data = bytearray(open(args.file, "rb").read())
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    rng = random.Random(args.seed)
    count = 0
    for name in sorted(k for k in header if k != "__metadata__"):
        if not any(name.endswith(s) for s in args.suffix):
            continue
        t = header[name]
        if t["dtype"] != "F32":
            sys.exit("%s is %s, not F32" % (name, t["dtype"]))
        a, b = t["data_offsets"]
        values = [rng.uniform(*args.uniform) for _ in range((b - a) // 4)]
        data[8 + n + a:8 + n + b] = struct.pack("<%df" % len(values), *values)
        count += 1
    if not count:
        sys.exit("no tensor ends with %s" % " or ".join(args.suffix))
    open(args.file, "wb").write(bytes(data))
    print("rewrote %d tensors" % count)


if __name__ == "__main__":
    main()
