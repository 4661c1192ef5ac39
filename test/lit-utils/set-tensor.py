#!/usr/bin/env python3
"""Overwrites F32 tensors of a safetensors file in place: with values drawn
uniformly from [LO, HI) (seeded; standing in for learned parameters), or
with one value (--fill), the whole tensor or one row of it (--row, the
first axis). Every tensor whose name ends with one of the given suffixes is
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
    how = ap.add_mutually_exclusive_group(required=True)
    how.add_argument("--uniform", nargs=2, type=float, metavar=("LO", "HI"))
    how.add_argument("--fill", type=float)
    ap.add_argument("--row", type=int)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    data = bytearray(open(args.file, "rb").read())
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    rng = random.Random(args.seed)
    rewritten = 0
    for name in sorted(k for k in header if k != "__metadata__"):
        if not any(name.endswith(s) for s in args.suffix):
            continue
        t = header[name]
        if t["dtype"] != "F32":
            sys.exit("%s is %s, not F32" % (name, t["dtype"]))
        a, b = t["data_offsets"]
        if args.row is not None:
            width = (b - a) // 4 // t["shape"][0]
            if not 0 <= args.row < t["shape"][0]:
                sys.exit("%s has no row %d" % (name, args.row))
            a, b = a + args.row * width * 4, a + (args.row + 1) * width * 4
        count = (b - a) // 4
        values = ([args.fill] * count if args.fill is not None else
                  [rng.uniform(*args.uniform) for _ in range(count)])
        data[8 + n + a:8 + n + b] = struct.pack("<%df" % len(values), *values)
        rewritten += 1
    if not rewritten:
        sys.exit("no tensor ends with %s" % " or ".join(args.suffix))
    open(args.file, "wb").write(bytes(data))
    print("rewrote %d tensors" % rewritten)


if __name__ == "__main__":
    main()
