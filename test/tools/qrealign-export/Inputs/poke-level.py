#!/usr/bin/env python3
"""poke-level.py FILE.safetensors TENSOR ROW COL VALUE

Writes VALUE into element [ROW, COL] of the 2-D int8 tensor TENSOR of FILE,
in place: a checkpoint whose bytes hold a level its config's width cannot.
"""
import json
import struct
import sys

path, name, row, col, value = sys.argv[1:6]
with open(path, "r+b") as f:
    (n,) = struct.unpack("<Q", f.read(8))
    header = json.loads(f.read(n))
    t = header[name]
    assert t["dtype"] == "I8" and len(t["shape"]) == 2, t
    offset = 8 + n + t["data_offsets"][0] + int(row) * t["shape"][1] + int(col)
    f.seek(offset)
    f.write(struct.pack("<b", int(value)))
