"""Prints each tensor of a safetensors file: name, dtype, shape, and its
values (u8 bytes in hex, other integers in decimal, floats with 6
significant digits), sorted by name. Stdlib only."""
import json
import struct
import sys

data = open(sys.argv[1], "rb").read()
(n,) = struct.unpack("<Q", data[:8])
header = json.loads(data[8:8 + n])
body = data[8 + n:]
fmt = {"U8": "B", "I8": "b", "F32": "f", "I32": "i"}
for name in sorted(k for k in header if k != "__metadata__"):
    t = header[name]
    a, b = t["data_offsets"]
    raw = body[a:b]
    code = fmt[t["dtype"]]
    values = struct.unpack("<%d%s" % (len(raw) // struct.calcsize(code), code), raw)
    if t["dtype"] == "U8":
        text = " ".join("%02x" % v for v in values)
    elif t["dtype"] == "F32":
        text = " ".join("%g" % v for v in values)
    else:
        text = " ".join(str(v) for v in values)
    print(name, t["dtype"], "[%s]" % ", ".join(map(str, t["shape"])), text)
