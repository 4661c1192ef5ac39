#!/usr/bin/env python3
"""Run a command and check its exit status exactly.

    exitcode.py EXPECTED cmd args...

Exits 0 if the command exited with status EXPECTED, 1 otherwise (including
when it was killed by a signal, i.e. crashed). The command's output passes
through, so the RUN line can pipe it into FileCheck.
"""
import subprocess
import sys


def main():
    if len(sys.argv) < 3:
        print("usage: exitcode.py EXPECTED cmd args...", file=sys.stderr)
        return 2
    expected = int(sys.argv[1])
    proc = subprocess.run(sys.argv[2:])
    if proc.returncode == expected:
        return 0
    if proc.returncode < 0:
        print("exitcode.py: %s was killed by signal %d (expected exit %d)"
              % (sys.argv[2], -proc.returncode, expected), file=sys.stderr)
    else:
        print("exitcode.py: %s exited with %d (expected %d)"
              % (sys.argv[2], proc.returncode, expected), file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
