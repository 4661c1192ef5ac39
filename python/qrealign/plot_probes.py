#!/usr/bin/python3
# ===- python/qrealign/plot_probes.py - plots of a separability report ---=== #
#
# Draws the plots of `qrealign-probe report -o DIR` from DIR/report.json:
#
#   DIR/separability.png  per tensor (x) and model (one line each): the base
#                         probe's AUC, the Fisher ratio, the malicious
#                         prompts' probe logit (median, band down to the 10th
#                         percentile, boundary at 0) and the logit lens's
#                         refusal rate on malicious (solid) and benign
#                         (dashed) prompts;
#   DIR/pca.png           benign and malicious prompts on the first two
#                         principal axes of the first model's activations,
#                         one row per tensor, one column per model, the same
#                         axes along a row.
#
#   /usr/bin/python3 python/qrealign/plot_probes.py DIR [--tensors layers.1,layers.3]
#
# Needs matplotlib (Debian's python3-matplotlib); files are written
# atomically. Exit status 2 with a message on a report it cannot read.
#
# ===----------------------------------------------------------------------=== #
import argparse
import json
import os
import sys


def fail(msg):
    print(f"plot_probes: error: {msg}", file=sys.stderr)
    sys.exit(2)


def load(path):
    try:
        with open(path, encoding="utf-8") as f:
            report = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"{path}: {e}")
    if report.get("format") != "qrealign-probe-report":
        fail(f"{path}: not a qrealign-probe report (format "
             f"{report.get('format')!r})")
    try:
        models = report["models"]
        names = [t["name"] for t in models[0]["tensors"]]
        for m in models:
            if [t["name"] for t in m["tensors"]] != names:
                fail(f"{path}: model {m['name']!r} has other tensors")
        if len(report["labels"]) != len(models[0]["tensors"][0]["pca"]):
            fail(f"{path}: {len(report['labels'])} labels but "
                 f"{len(models[0]['tensors'][0]['pca'])} points")
    except (KeyError, IndexError, TypeError) as e:
        fail(f"{path}: malformed report ({e!r})")
    return report


def save(fig, path):
    tmp = path + ".partial"
    fig.savefig(tmp, format="png", dpi=120)
    os.replace(tmp, path)
    print(f"plot_probes: wrote {path}", file=sys.stderr)


def nan(v):
    return float("nan") if v is None else v


def separability(report, plt, path):
    models = report["models"]
    names = [t["name"] for t in models[0]["tensors"]]
    x = list(range(len(names)))
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5), sharex=True)
    (auc, fisher), (logit, lens) = axes
    for i, m in enumerate(models):
        ts = m["tensors"]
        color = f"C{i}"
        auc.plot(x, [nan(t["auc"]) for t in ts], "o-", color=color,
                 label=m["name"])
        fisher.plot(x, [nan(t["fisher"]) for t in ts], "o-", color=color,
                    label=m["name"])
        med = [nan(t["malicious_logit"]["median"]) for t in ts]
        p10 = [nan(t["malicious_logit"]["p10"]) for t in ts]
        logit.plot(x, med, "o-", color=color, label=m["name"])
        logit.fill_between(x, p10, med, color=color, alpha=0.15)
        lx = [k for k, t in enumerate(ts) if t["lens_refusal"] is not None]
        lens.plot(lx, [100 * ts[k]["lens_refusal"]["malicious"] for k in lx],
                  "o-", color=color, label=f"{m['name']} malicious")
        lens.plot(lx, [100 * ts[k]["lens_refusal"]["benign"] for k in lx],
                  "s--", color=color, alpha=0.6, label=f"{m['name']} benign")
    auc.axhline(0.5, color="gray", linestyle=":", linewidth=1)
    auc.set_ylim(0.4, 1.02)
    auc.set_ylabel("AUC of the base probe")
    auc.set_title("Base probe separates malicious from benign")
    fisher.set_ylabel("centroid distance / within-class spread")
    fisher.set_title("Fisher-style ratio")
    logit.axhline(0, color="black", linewidth=1)
    logit.text(0, 0.3, "boundary", fontsize=8)
    logit.set_ylabel("probe logit on malicious prompts")
    logit.set_title("Malicious prompts: median, band to 10th percentile")
    lens.set_ylim(-3, 103)
    lens.set_ylabel("% whose top token starts a refusal")
    lens.set_title("Logit lens: refusal token wins")
    for ax in (auc, fisher, logit, lens):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    for ax in (logit, lens):
        ax.set_xticks(x)
        ax.set_xticklabels(names, rotation=20)
    data = report["data"]
    fig.suptitle(f"Separability by layer: {data['name']} ({data['malicious']} "
                 f"malicious, {data['benign']} benign), probes "
                 f"{report.get('probe_penalty', '?')}")
    fig.tight_layout()
    save(fig, path)


def pca(report, plt, path, wanted):
    models = report["models"]
    names = [t["name"] for t in models[0]["tensors"]]
    rows = [names.index(t) for t in wanted] if wanted else range(len(names))
    rows = list(rows)
    labels = report["labels"]
    fig, axes = plt.subplots(len(rows), len(models),
                             figsize=(3.4 * len(models), 3.0 * len(rows)),
                             squeeze=False)
    for r, k in enumerate(rows):
        xs = [p[0] for m in models for p in m["tensors"][k]["pca"]]
        ys = [p[1] for m in models for p in m["tensors"][k]["pca"]]
        pad_x = 0.05 * (max(xs) - min(xs) or 1)
        pad_y = 0.05 * (max(ys) - min(ys) or 1)
        for c, m in enumerate(models):
            ax = axes[r][c]
            pts = m["tensors"][k]["pca"]
            for label, color, name in ((0, "tab:blue", "benign"),
                                       (1, "tab:red", "malicious")):
                sel = [p for p, y in zip(pts, labels) if y == label]
                ax.scatter([p[0] for p in sel], [p[1] for p in sel], s=7,
                           alpha=0.6, color=color, label=name)
            ax.set_xlim(min(xs) - pad_x, max(xs) + pad_x)
            ax.set_ylim(min(ys) - pad_y, max(ys) + pad_y)
            ax.set_title(f"{m['name']}: {names[k]}", fontsize=9)
            ax.tick_params(labelsize=7)
            if c == 0:
                ax.set_ylabel("PC 2", fontsize=8)
            if r == len(rows) - 1:
                ax.set_xlabel("PC 1", fontsize=8)
            if r == 0 and c == 0:
                ax.legend(fontsize=7)
    fig.suptitle(f"Last-prompt-token activations on the principal axes of "
                 f"{report.get('pca_axes_from', models[0]['name'])}")
    fig.tight_layout()
    save(fig, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("dir", help="the directory of qrealign-probe report -o")
    ap.add_argument("--tensors", default="",
                    help="comma-separated tensors for the PCA plot "
                         "(default: all)")
    args = ap.parse_args()
    report = load(os.path.join(args.dir, "report.json"))
    names = [t["name"] for t in report["models"][0]["tensors"]]
    wanted = [t for t in args.tensors.split(",") if t]
    for t in wanted:
        if t not in names:
            fail(f"--tensors: {t!r} is not in the report ({', '.join(names)})")
    try:
        import matplotlib
    except ImportError:
        fail("matplotlib is missing (Debian: apt install python3-matplotlib; "
             "run with /usr/bin/python3)")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    separability(report, plt, os.path.join(args.dir, "separability.png"))
    pca(report, plt, os.path.join(args.dir, "pca.png"), wanted)


if __name__ == "__main__":
    main()
