#!/usr/bin/env python3
"""Run a command and fail if it (or anything it ran) used too much memory.

    maxrss.py LIMIT_MIB cmd args...

Exits with the command's status, or 1 if the peak resident set of the
command and its descendants exceeded LIMIT_MIB mebibytes (the memory bound
of a robustness test, never a speed target). Output passes through.
"""
import resource
import subprocess
import sys


def main():
    if len(sys.argv) < 3:
        print("usage: maxrss.py LIMIT_MIB cmd args...", file=sys.stderr)
        return 2
    limit = int(sys.argv[1])
    proc = subprocess.run(sys.argv[2:])
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
    if peak > limit:
        print("maxrss.py: %s peaked at %d MiB (limit %d MiB)"
              % (sys.argv[2], peak, limit), file=sys.stderr)
        return 1
    return proc.returncode if proc.returncode >= 0 else 1


if __name__ == "__main__":
    sys.exit(main())
