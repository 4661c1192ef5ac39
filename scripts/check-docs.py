#!/usr/bin/env python3
"""Fail if the build regenerated docs/generated/ differently from what is
committed, i.e. the ODS changed and the regenerated docs were not committed.
Usage: check-docs.py SOURCE_ROOT"""
import subprocess
import sys


def main():
    root = sys.argv[1]
    try:
        subprocess.run(["git", "-C", root, "rev-parse", "HEAD"], check=True,
                       capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        print("check-docs: not a git checkout with commits; skipped")
        return 0
    status = subprocess.run(["git", "-C", root, "status", "--porcelain",
                             "--", "docs/generated"],
                            capture_output=True, text=True).stdout
    if status.strip():
        print("check-docs: docs/generated differs from the committed copy "
              "(the build regenerates it from ODS); commit it:")
        print(status)
        return 1
    print("check-docs: docs/generated matches the ODS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
