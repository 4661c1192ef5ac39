#!/usr/bin/python3
# ===- check-report.py - cross-checks of a qrealign-probe report --------=== #
#
#   check-report.py REPORT_DIR PROBES.safetensors TEST_NAME
#
# fit scored its probes on the prompts of --test TEST_NAME; the report
# applies the same probes to the first model on the same prompts, so its
# accuracy and AUC per tensor must equal fit's.
# The PCA coordinates of the first model are centred, their variances are
# the recorded ones, and the first axis carries at least the second's.
# Prints what it checked; exits 1 on a mismatch.
#
# ===----------------------------------------------------------------------=== #
import json
import struct
import sys

rep_dir, probes_path, test = sys.argv[1:4]
report = json.load(open(rep_dir + "/report.json"))
raw = open(probes_path, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
meta = json.loads(json.loads(raw[8:8 + n])["__metadata__"]["probes"])
fitted = {p["name"]: p["tests"][test] for p in meta["probes"]}
bad = []
first = report["models"][0]
for t in first["tensors"]:
    f = fitted[t["name"]]
    if abs(t["accuracy"] - f["accuracy"]) > 1e-9 or abs(t["auc"] - f["auc"]) > 1e-9:
        bad.append((t["name"], t["accuracy"], f["accuracy"], t["auc"], f["auc"]))
print("accuracy and AUC equal fit's on", len(first["tensors"]), "tensors")
labels = report["labels"]
for k, t in enumerate(first["tensors"]):
    pts = t["pca"]
    if len(pts) != len(labels):
        bad.append((t["name"], "points", len(pts)))
        continue
    for axis in (0, 1):
        mean = sum(p[axis] for p in pts) / len(pts)
        var = sum((p[axis] - mean) ** 2 for p in pts) / len(pts)
        want = report["pca_axes"][k]["variances"][axis]
        if abs(mean) > 1e-4 * (1 + want) ** 0.5 or abs(var - want) > 1e-4 * (1 + want):
            bad.append((t["name"], "axis", axis, mean, var, want))
    if report["pca_axes"][k]["variances"][0] < report["pca_axes"][k]["variances"][1]:
        bad.append((t["name"], "axes out of order"))
print("PCA coordinates centred with the recorded variances")
for m in report["models"]:
    for t in m["tensors"]:
        lens = t["lens_refusal"]
        if (lens is None) != (t["name"] == "final_norm"):
            bad.append((m["name"], t["name"], "lens"))
        elif lens and not all(0 <= lens[k] <= 1 for k in ("malicious", "benign")):
            bad.append((m["name"], t["name"], "lens", lens))
print("logit lens on every layer, not on the final norm")
if bad:
    print("MISMATCH", bad)
    sys.exit(1)
