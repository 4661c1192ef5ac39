#!/usr/bin/env python3
"""Print `N passed, N failed` over every individual test of one or more
ctest runs.

    summarize-tests.py --run PREFIX CTEST_XML LIT_XML [--run ...]
                       [--xml PREFIX JUNIT_XML ...] [--failed-step NAME ...]

ctest runs the whole lit suite as one test named `lit`; its per-test results
come from lit's xunit XML. Each other ctest test (unit tests, repository
checks) counts once. --xml counts each test case of a JUnit file (the fuzz harnesses). A step
that failed before any test ran (a build) counts as one failure. Skipped and unsupported tests are counted apart.
"""
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


def main(argv):
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    failed = []
    i = 0
    while i < len(argv):
        if argv[i] == "--failed-step":
            counts["failed"] += 1
            failed.append(argv[i + 1])
            i += 2
            continue
        if argv[i] == "--xml" and i + 2 < len(argv):
            prefix, path = argv[i + 1:i + 3]
            i += 3
            for case, status in cases(path):
                counts[status] += 1
                if status == "failed":
                    failed.append(prefix + case.get("name", ""))
            continue
        if argv[i] != "--run" or i + 3 >= len(argv):
            print("usage: %s --run PREFIX CTEST_XML LIT_XML ..." % sys.argv[0])
            return 2
        prefix, ctest_xml, lit_xml = argv[i + 1:i + 4]
        i += 4
        if not os.path.exists(ctest_xml):
            counts["failed"] += 1
            failed.append(prefix + "ctest (no results)")
            continue
        for case, status in cases(ctest_xml):
            name = case.get("name")
            if name == "lit":
                if os.path.exists(lit_xml):
                    for lcase, lstatus in cases(lit_xml):
                        counts[lstatus] += 1
                        if lstatus == "failed":
                            failed.append("%slit: %s/%s" % (
                                prefix, lcase.get("classname", ""),
                                lcase.get("name", "")))
                elif status == "failed":
                    counts["failed"] += 1
                    failed.append(prefix + "lit (no results)")
                continue
            counts[status] += 1
            if status == "failed":
                failed.append(prefix + name)
    for name in failed:
        print("FAILED: %s" % name)
    if counts["skipped"]:
        print("%d skipped (unsupported here, e.g. no ../shared data or no GPU)"
              % counts["skipped"])
    print("%d passed, %d failed" % (counts["passed"], counts["failed"]))
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
