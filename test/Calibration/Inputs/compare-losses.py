"""Compares the per-layer losses a calibrated module records
(qrealign.calibration) with reference-calibration.py's output.

usage: compare-losses.py CALIBRATED.mlir REFERENCE.txt RTOL FIRST_RTOL
Prints `layer L initial ok final ok (rel ...)` per layer; exits 1 when a
loss differs by more than RTOL relative, or the first layer's initial loss
(a pure forward pass: nothing learned yet) by more than FIRST_RTOL.
"""
import re
import sys

from calibration_files import layer_records

ir, ref, rtol, first = sys.argv[1], sys.argv[2], float(sys.argv[3]), \
    float(sys.argv[4])
ours = {l: (i, f) for l, i, f, _ in layer_records(ir)}
theirs = {}
for line in open(ref):
    m = re.match(r"layer (\d+) initial (\S+) final (\S+)", line)
    if m:
        theirs[int(m.group(1))] = (float(m.group(2)), float(m.group(3)))
if not ours or sorted(ours) != sorted(theirs):
    sys.exit("layers differ: %s vs %s" % (sorted(ours), sorted(theirs)))
bad = False
for l in sorted(ours):
    rel = [abs(a - b) / max(abs(b), 1e-30) for a, b in zip(ours[l], theirs[l])]
    tol = [first if l == min(ours) else rtol, rtol]
    ok = ["ok" if r <= t else "DIFFERS" for r, t in zip(rel, tol)]
    bad |= any(r > t for r, t in zip(rel, tol))
    print("layer %d initial %s final %s (rel %.1e, %.1e; ours %.6g -> %.6g)" %
          (l, ok[0], ok[1], rel[0], rel[1], ours[l][0], ours[l][1]))
sys.exit(1 if bad else 0)
