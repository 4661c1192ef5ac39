#!/usr/bin/env python3
"""Run a tool on every truncation of an input and check each run.

    check-truncations.py --input FILE [--from-text TEXT] [--length N]
        [--every K] [--valgrind] --work-dir DIR -- TOOL ARGS... {}

Writes FILE cut after each byte (every K-th byte) from the first occurrence
of TEXT (or from the start) to the end (or N bytes further), runs TOOL with {} replaced by the cut file, and
requires exit code 0 or 1 with no crash; with --valgrind the tool runs
under valgrind's memcheck and any invalid read or write fails the check
(it sees reads past the end of a buffer in uninstrumented libraries such as
libMLIR.so, which AddressSanitizer does not). Prints "N inputs, K failures"
and the failing cases.
"""
import argparse
import os
import shutil
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--input", required=True)
    ap.add_argument("--from-text", default="")
    ap.add_argument("--valgrind", action="store_true")
    ap.add_argument("--every", type=int, default=1,
                    help="test every K-th cut only")
    ap.add_argument("--length", type=int, default=-1,
                    help="cut at most LENGTH bytes after the start")
    ap.add_argument("--work-dir", required=True)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = args.cmd[1:] if args.cmd and args.cmd[0] == "--" else args.cmd
    data = open(args.input, "rb").read()
    start = data.find(args.from_text.encode()) if args.from_text else 0
    if start < 0:
        print("check-truncations.py: '%s' not in %s"
              % (args.from_text, args.input))
        return 1
    os.makedirs(args.work_dir, exist_ok=True)
    prefix = []
    if args.valgrind:
        if not shutil.which("valgrind"):
            print("check-truncations.py: valgrind not found")
            return 1
        prefix = ["valgrind", "-q", "--error-exitcode=99",
                  "--exit-on-first-error=yes"]
    failures = []
    end = len(data) if args.length < 0 else min(len(data),
                                                 start + args.length)
    cases = range(start, end + 1, args.every)
    for n in cases:
        path = os.path.join(args.work_dir, "cut-%d.mlir" % n)
        with open(path, "wb") as f:
            f.write(data[:n])
        argv = prefix + [a.replace("{}", path) for a in cmd]
        proc = subprocess.run(argv, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
        if proc.returncode not in (0, 1):
            err = proc.stderr.decode(errors="replace")
            lines = [l for l in err.splitlines() if "Invalid" in l or
                     "ERROR" in l or "error" in l][:2]
            failures.append("%s: exit %d %s" % (path, proc.returncode,
                                                 " | ".join(lines)))
    print("%d inputs, %d failures" % (len(cases), len(failures)))
    for f in failures:
        print("FAIL " + f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
