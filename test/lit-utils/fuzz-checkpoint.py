#!/usr/bin/env python3
"""Mutation fuzzer for the checkpoint readers.

Mutates valid seed files (safetensors headers and data, sharded indexes'
shards, llama2.c headers, tokenizer.json files) and runs `qrealign-import
--list-tensors` (and a full import for llama2.c files) on each, or for
`.json` seeds `qrealign-tokenize` (--tokenize-tool) encoding a mixed prompt. Acceptable: exit 0, or exit 1 with
exactly one line on stderr containing "error:". Anything else (a signal,
another exit code, a multi-line or unlabelled error, a timeout) is a crash:
the input is kept in --work-dir and the script exits 1.

    fuzz-checkpoint.py --tool qrealign-import --iterations N --seed S
                       [--tokenize-tool qrealign-tokenize]
                       --work-dir DIR SEED_FILE...
"""
import argparse
import os
import random
import re
import shutil
import struct
import subprocess
import sys

NUMBERS = [b"0", b"-1", b"1", b"7", b"4294967296", b"18446744073709551615",
           b"9223372036854775807", b"-9223372036854775808", b"1e308", b"2.5"]
TOKENS = [b'"F32"', b'"BF16"', b'"F64"', b'"I4"', b"[]", b"{}", b"null",
          b'"__metadata__"', b'"data_offsets"', b'"shape"', b"[0, 0]", b","]


def mutate(data, rng, whole=False):
    data = bytearray(data)
    kind = rng.randrange(6)
    if kind == 0 and len(data) > 1:  # truncate
        return bytes(data[:rng.randrange(len(data))])
    hdr_end = 8 + struct.unpack("<Q", bytes(data[:8]))[0] \
        if len(data) >= 8 and data[8:9] == b"{" else min(len(data), 64)
    hdr_end = len(data) if whole else min(hdr_end, len(data))
    if kind == 1:  # replace a number in the header
        text = bytes(data[:hdr_end])
        nums = list(re.finditer(rb"-?\d+", text))
        if nums:
            m = rng.choice(nums)
            data[m.start():m.end()] = rng.choice(NUMBERS)
            if data[8:9] == b"{":  # keep the header length consistent
                pass
        return bytes(data)
    if kind == 2:  # insert a token into the header
        pos = rng.randrange(max(1, hdr_end))
        data[pos:pos] = rng.choice(TOKENS)
        return bytes(data)
    if kind == 3 and len(data) >= 8:  # rewrite the 8-byte length / int header
        pos = rng.randrange(0, min(len(data) - 3, 28), 4) if len(data) > 4 else 0
        data[pos:pos + 4] = struct.pack("<i", rng.choice(
            [0, -1, 1, 2, 3, 7, 1 << 20, 1 << 30, -(1 << 31)]))
        return bytes(data)
    if kind == 4 and data:  # byte noise
        for _ in range(rng.randrange(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return bytes(data)
    data += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
    return bytes(data)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", required=True)
    ap.add_argument("--tokenize-tool")
    ap.add_argument("--data-tool", help="qrealign-data: seeds named "
                    "KIND.ext are checked as dataset KIND")
    ap.add_argument("--iterations", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work-dir", required=True)
    ap.add_argument("seeds", nargs="+")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    tool = shutil.which(args.tool) or args.tool
    seeds = [(p, open(p, "rb").read()) for p in args.seeds]
    crashes = 0
    os.makedirs(args.work_dir, exist_ok=True)
    for i in range(args.iterations):
        path, data = rng.choice(seeds)
        ext = os.path.splitext(path)[1]
        kind = os.path.basename(path).split(".")[0]
        case = os.path.join(args.work_dir, "case-%d%s" % (i, ext))
        with open(case, "wb") as f:
            f.write(mutate(data, rng, whole=ext in (".json", ".jsonl", ".csv",
                                                    ".tsv", ".txt")))
        cmds = [[tool, "--list-tensors", case, "-o", os.devnull]]
        if args.data_tool:
            dt = shutil.which(args.data_tool) or args.data_tool
            cmds = [[dt, "check", kind, case]]
        elif ext == ".json":
            tok = shutil.which(args.tokenize_tool) or args.tokenize_tool
            cmds = [[tok, case, "--prompt", "Héllo <|eot_id|> 123 \u4e2d's",
                     "--chat-template", "llama-3", "-o", os.devnull]]
        elif ext == ".bin":
            cmds.append([tool, case, "-o", os.devnull])
        for cmd in cmds:
            try:
                proc = subprocess.run(cmd, capture_output=True, timeout=20)
            except subprocess.TimeoutExpired:
                ok, why = False, "timeout"
            else:
                err = proc.stderr.decode(errors="replace").strip()
                ok = proc.returncode == 0 or (
                    proc.returncode == 1 and "error:" in err and
                    "\n" not in err)
                why = "exit %d: %s" % (proc.returncode, err[:300])
            if not ok:
                crashes += 1
                print("CRASH %s (%s): %s" % (case, " ".join(cmd[1:-2]), why))
                break
        else:
            os.remove(case)
    print("%d inputs, %d crashes" % (args.iterations, crashes))
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
