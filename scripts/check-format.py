#!/usr/bin/env python3
"""Fail if clang-format (LLVM style, .clang-format) would change any tracked
C++ file. Usage: check-format.py --clang-format PATH SOURCE_ROOT [--fix]"""
import argparse
import subprocess
import sys


def tracked_sources(root):
    try:
        out = subprocess.run(["git", "-C", root, "ls-files", "--cached",
                              "--others", "--exclude-standard",
                              "*.cpp", "*.h", "*.cu", "*.cuh", "*.c"],
                             check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return [line for line in out.stdout.splitlines() if line]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clang-format", required=True)
    ap.add_argument("--fix", action="store_true")
    ap.add_argument("root")
    args = ap.parse_args()
    files = tracked_sources(args.root)
    if files is None:
        print("check-format: not a git checkout; skipped")
        return 0
    bad = []
    for f in files:
        cmd = [args.clang_format, "--style=file"]
        cmd += ["-i", f] if args.fix else ["--dry-run", "-Werror", f]
        if subprocess.run(cmd, cwd=args.root, capture_output=True).returncode:
            bad.append(f)
    if bad:
        print("check-format: clang-format would change %d file(s):" % len(bad))
        for f in bad:
            print("  " + f)
        print("fix with: python3 scripts/check-format.py --fix "
              "--clang-format %s ." % args.clang_format)
        return 1
    print("check-format: %d files clean" % len(files))
    return 0


if __name__ == "__main__":
    sys.exit(main())
