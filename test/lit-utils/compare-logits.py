#!/usr/bin/env python3
"""Compares two logits files written by `qrealign-run --logits` (.npy, f32
[prompts, vocab]): fails unless max |a - b| / max |a| <= --rtol, and, with
--same-argmax, unless every row has the same argmax. Prints the figures."""
import argparse
import sys

import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--rtol", type=float, required=True)
    ap.add_argument("--min-rtol", type=float, default=0.0,
                    help="fail if the difference is below this (the two "
                         "files must differ)")
    ap.add_argument("--same-argmax", action="store_true")
    args = ap.parse_args()
    a, b = np.load(args.a), np.load(args.b)
    if a.shape != b.shape:
        sys.exit("shapes differ: %s vs %s" % (a.shape, b.shape))
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        sys.exit("non-finite logits")
    rel = float(np.abs(a - b).max() / max(np.abs(a).max(), 1e-30))
    print("shape %s max relative difference %.3g" % (a.shape, rel))
    if rel > args.rtol:
        sys.exit("relative difference %.3g > %g" % (rel, args.rtol))
    if rel < args.min_rtol:
        sys.exit("relative difference %.3g < %g: the files should differ" %
                 (rel, args.min_rtol))
    if args.same_argmax and (a.argmax(-1) != b.argmax(-1)).any():
        sys.exit("argmax differs")


if __name__ == "__main__":
    main()
