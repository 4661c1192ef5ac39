#!/usr/bin/env python3
"""Print `N passed, N failed` over every individual test of a ctest run.

ctest runs the whole lit suite as one test; its per-test results come from
lit's xunit XML. Each other ctest test (unit tests, repository checks)
counts once. Skipped and unsupported tests are counted apart.
"""
import argparse
import os
import sys
import xml.etree.ElementTree as ET


def cases(path):
    root = ET.parse(path).getroot()
    for case in root.iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            yield case, "failed"
        elif case.find("skipped") is not None:
            yield case, "skipped"
        else:
            status = case.get("status", "run")
            yield case, "skipped" if status in ("notrun", "disabled") else "passed"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ctest", required=True)
    ap.add_argument("--lit", required=True)
    args = ap.parse_args()
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    failed_names = []
    if not os.path.exists(args.ctest):
        print("no ctest results at %s" % args.ctest)
        print("0 passed, 1 failed")
        return 1
    lit_ran = False
    for case, status in cases(args.ctest):
        if case.get("name") == "lit":
            lit_ran = True
            if status == "failed" and not os.path.exists(args.lit):
                counts["failed"] += 1
                failed_names.append("lit (no results)")
            continue
        counts[status] += 1
        if status == "failed":
            failed_names.append(case.get("name"))
    if lit_ran and os.path.exists(args.lit):
        for case, status in cases(args.lit):
            counts[status] += 1
            if status == "failed":
                failed_names.append("lit: " + case.get("classname", "") +
                                    "/" + case.get("name", ""))
    for name in failed_names:
        print("FAILED: %s" % name)
    if counts["skipped"]:
        print("%d skipped (unsupported here, e.g. no ../shared data or GPU)"
              % counts["skipped"])
    print("%d passed, %d failed" % (counts["passed"], counts["failed"]))
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
