#!/usr/bin/python3
"""Lists the tensors that differ between two safetensors files (read with
the format's own layout: 8-byte header length, JSON header, data)."""
import json
import struct
import sys


def read(path):
    with open(path, "rb") as f:
        blob = f.read()
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    data = blob[8 + n:]
    return {k: data[v["data_offsets"][0]:v["data_offsets"][1]]
            for k, v in header.items() if k != "__metadata__"}


a, b = read(sys.argv[1]), read(sys.argv[2])
assert a.keys() == b.keys()
changed = sorted(k for k in a if a[k] != b[k])
for k in changed:
    print(k)
print(f"{len(changed)} of {len(a)} tensors changed")
