#!/usr/bin/env python3
"""Writes hostile inputs for the robustness tests (docs/robustness.md).

Stdlib only; every input is built here from first principles, none is
copied from ../shared. Subcommands:

  deep-json FILE --depth N [--prefix TEXT] [--suffix TEXT]
      PREFIX + N opening brackets + N closing ones + SUFFIX (a JSON text
      nested N levels deep; the prefix/suffix embed it in a document and
      may hold backslash escapes such as \n).

  dup-key FILE --json TEXT --key KEY --value JSON
      The JSON object TEXT with KEY added a second time (first position).

  safetensors FILE (--header JSON | --header-file F) [--data-bytes N]
      A safetensors file with the given header text and N zero data bytes.

  safetensors-many FILE --count N
      A safetensors file with N zero-size F32 tensors (a header of about
      58 N bytes and no data).

  llama2c-wrap FILE
      A 36-byte llama2.c checkpoint whose header implies 2^64 + 36 bytes:
      the size check wrapped and accepted it as 9.4 M tensors.

  fifo PATH
      A named pipe (nothing ever writes to it).

  text FILE --repeat N --unit TEXT [--prefix TEXT]
      PREFIX + TEXT repeated N times (large prompts, data rows).
"""

import argparse
import json
import os
import struct


def write(path, data):
    if isinstance(data, str):
        data = data.encode()
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def st_file(header_text, data_bytes=0):
    text = header_text.encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"\0" * data_bytes


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("deep-json")
    d.add_argument("path")
    d.add_argument("--depth", type=int, required=True)
    d.add_argument("--open", default="[")
    d.add_argument("--prefix", default="")
    d.add_argument("--suffix", default="")
    k = sub.add_parser("dup-key")
    k.add_argument("path")
    k.add_argument("--json", required=True)
    k.add_argument("--key", required=True)
    k.add_argument("--value", required=True)
    s = sub.add_parser("safetensors")
    s.add_argument("path")
    g = s.add_mutually_exclusive_group(required=True)
    g.add_argument("--header")
    g.add_argument("--header-file")
    s.add_argument("--data-bytes", type=int, default=0)
    m = sub.add_parser("safetensors-many")
    m.add_argument("path")
    m.add_argument("--count", type=int, required=True)
    w = sub.add_parser("llama2c-wrap")
    w.add_argument("path")
    f = sub.add_parser("fifo")
    f.add_argument("path")
    t = sub.add_parser("text")
    t.add_argument("path")
    t.add_argument("--repeat", type=int, required=True)
    t.add_argument("--unit", required=True)
    t.add_argument("--prefix", default="")
    args = ap.parse_args()

    if args.cmd == "deep-json":
        close = {"[": "]", '{"a":': "}"}[args.open]
        prefix = args.prefix.encode().decode("unicode_escape")
        suffix = args.suffix.encode().decode("unicode_escape")
        write(args.path, prefix + args.open * args.depth +
              ("0" if args.open != "[" else "") + close * args.depth + suffix)
    elif args.cmd == "dup-key":
        text = args.json.strip()
        assert text.startswith("{")
        write(args.path, "{%s: %s, %s" % (json.dumps(args.key), args.value,
                                          text[1:]))
    elif args.cmd == "safetensors":
        header = args.header
        if args.header_file:
            with open(args.header_file) as f:
                header = f.read()
        write(args.path, st_file(header, args.data_bytes))
    elif args.cmd == "safetensors-many":
        entry = '"t%07d":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}'
        parts = ",".join(entry % i for i in range(args.count))
        write(args.path, st_file("{" + parts + "}"))
    elif args.cmd == "llama2c-wrap":
        # dim 2^20, n_heads 2^19 (head size 2), 2 kv heads, 2^20 layers,
        # hidden 699047, vocab 2^20 - 1 (shared classifier), seq_len 1: the
        # float count is 2^62 + 2, so 28 + 4 * floats wraps to 36.
        header = [1 << 20, 699047, 1 << 20, 1 << 19, 2, (1 << 20) - 1, 1]
        write(args.path, struct.pack("<7i", *header) + b"\0" * 8)
    elif args.cmd == "fifo":
        if os.path.exists(args.path):
            os.remove(args.path)
        os.mkfifo(args.path)
    elif args.cmd == "text":
        write(args.path, args.prefix + args.unit * args.repeat)


if __name__ == "__main__":
    main()
