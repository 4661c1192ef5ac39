#!/usr/bin/python3
"""Checks a directory written by `qrealign-data splits`: every set is
disjoint from every other (prompts compared after the same normalisation as
the C++ side: lower case, runs of non-alphanumerics as one space), the
held-out sources never occur in a training set, labels are where they should
be, and manifest.json counts the files' lines. Prints one line per set.

  check-splits.py DIR [--held-out-source SOURCE]...
"""
import argparse
import json
import os
import re
import sys

TRAIN = {"base-train", "attack-harmful", "task-train", "task-base", "probe",
         "calibration"}


def norm(text):
    return re.sub(r"[^0-9a-z\x80-\U0010ffff]+", " ",
                  text.lower()).strip()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--held-out-source", action="append", default=[])
    ap.add_argument("--keywords", help="refusal_keywords.json: every refusal "
                    "in base-train must count as one under every list")
    args = ap.parse_args()
    manifest = json.load(open(os.path.join(args.dir, "manifest.json")))
    judges = []
    if args.keywords:
        for name, spec in json.load(open(args.keywords)).items():
            if name.startswith("_"):
                continue
            kws = spec["keywords"]
            if name.startswith("jailbreakbench"):
                judges.append((name, lambda c, k=kws: any(
                    x.lower() in c.lower() for x in k)))
            elif name.startswith("xstest"):
                judges.append((name, lambda c, k=kws: c.lower().strip()
                               .startswith(tuple(x.lower() for x in k))))
            else:
                judges.append((name, lambda c, k=kws: any(x in c for x in k)))
    owner = {}
    bad = 0
    for name in sorted(manifest["sets"]):
        rows = [json.loads(l) for l in
                open(os.path.join(args.dir, name + ".jsonl"), encoding="utf-8")]
        if len(rows) != manifest["sets"][name]["total"]:
            print(f"{name}: manifest says {manifest['sets'][name]['total']}, "
                  f"file has {len(rows)}")
            bad += 1
        for r in rows:
            key = norm(r["prompt"])
            # The task sets may repeat a sentence (SST-2 has duplicates);
            # only a prompt in two different sets is a leak.
            if key in owner and owner[key] != name:
                print(f"{name}: prompt also in {owner[key]}: {r['prompt']!r}")
                bad += 1
            owner.setdefault(key, name)
            if name in TRAIN and r["source"] in args.held_out_source:
                print(f"{name}: held-out source {r['source']} in training")
                bad += 1
            if name == "base-train" and r["label"] == 1 and \
                    "sorry" not in r["response"].lower() and \
                    "cannot" not in r["response"].lower() and \
                    "won't" not in r["response"].lower():
                print(f"{name}: harmful prompt without a refusal: {r}")
                bad += 1
            if name == "base-train" and r["label"] == 1:
                for jname, refused in judges:
                    if not refused(r["response"]):
                        print(f"{jname} does not see a refusal in "
                              f"{r['response']!r}")
                        bad += 1
        print(f"{name}: {len(rows)}")
    print(f"{len(owner)} distinct prompts, {bad} problems")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
