#!/usr/bin/python3
# ===- scripts/task-ceiling.py - what the SST-2 data supports -------------=== #
#
# How well can any model trained from scratch on the SST-2 sentences in
# ../shared/data do on the 872 validation sentences? Classical text
# classifiers (scikit-learn) answer it without a GPU in a minute: a grid of
# feature sets x classifiers x regularisation strengths, each trained on the
# training sentences and scored on validation.
#
#   scripts/task-ceiling.py [--data-dir ../shared/data] [--png OUT.png]
#
# Prints two numbers per training-set size: the configuration chosen by
# k-fold cross-validation on the training sentences (an honest estimate), and
# the best configuration picked by looking at the validation score itself (an
# optimistic upper bound). Then a Markdown table of every configuration on the
# full training subset. --png draws the learning curve.
#
# ===----------------------------------------------------------------------=== #
import argparse
import csv
import os
import sys


def load(path):
    sentences, labels = [], []
    with open(path, encoding="utf-8", newline="") as f:
        rows = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(rows, None)
        if header != ["sentence", "label"]:
            sys.exit(f"{path}:1: error: expected the header 'sentence<TAB>label'")
        for line, row in enumerate(rows, start=2):
            if len(row) != 2 or row[1] not in ("0", "1"):
                sys.exit(f"{path}:{line}: error: expected 'sentence<TAB>0|1'")
            sentences.append(row[0])
            labels.append(int(row[1]))
    return sentences, labels


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default_data = os.environ.get(
        "QREALIGN_SHARED_DATA", os.path.join(here, "..", "..", "shared", "data")
    )
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", default=default_data)
    parser.add_argument("--png", help="write the learning curve here")
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()

    train_path = os.path.join(args.data_dir, "sst2", "glue_sst2_train_subset.tsv")
    val_path = os.path.join(args.data_dir, "sst2", "glue_sst2_validation.tsv")
    for path in (train_path, val_path):
        if not os.path.isfile(path):
            sys.exit(f"task-ceiling: error: {path} not found (../shared/data absent?)")
    try:
        import numpy as np
        from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold, cross_val_score
        from sklearn.naive_bayes import MultinomialNB
        from sklearn.pipeline import make_pipeline
        from sklearn.svm import LinearSVC
    except ImportError as e:
        sys.exit(f"task-ceiling: error: {e} (Debian: python3-sklearn)")

    x_train, y_train = load(train_path)
    x_val, y_val = load(val_path)
    y_train = np.array(y_train)
    y_val = np.array(y_val)

    features = {
        "word 1-gram tf-idf": lambda: TfidfVectorizer(sublinear_tf=True),
        "word 1-2-gram tf-idf": lambda: TfidfVectorizer(
            ngram_range=(1, 2), sublinear_tf=True
        ),
        "word 1-3-gram binary": lambda: CountVectorizer(
            ngram_range=(1, 3), binary=True
        ),
        "char 2-5-gram tf-idf": lambda: TfidfVectorizer(
            analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True
        ),
    }
    classifiers = {}
    for c in (0.3, 1, 3, 10, 30):
        classifiers[f"logistic C={c}"] = lambda c=c: LogisticRegression(
            C=c, max_iter=5000
        )
        classifiers[f"linear SVM C={c / 10:g}"] = lambda c=c: LinearSVC(
            C=c / 10, max_iter=50000
        )
    for a in (0.1, 0.5, 1.0):
        classifiers[f"multinomial NB alpha={a}"] = lambda a=a: MultinomialNB(alpha=a)
    configs = [(f, c) for f in features for c in classifiers]

    def build(config):
        return make_pipeline(features[config[0]](), classifiers[config[1]]())

    print(
        f"task-ceiling: {len(x_train)} training sentences, {len(x_val)} validation "
        f"sentences, {len(configs)} configurations",
        file=sys.stderr,
    )
    sizes = [n for n in (500, 1000, 2000, 4000) if n < len(x_train)] + [len(x_train)]
    order = np.random.RandomState(1).permutation(len(x_train))
    curve = []
    table = []
    for size in sizes:
        idx = order[:size]
        xs = [x_train[i] for i in idx]
        ys = y_train[idx]
        folds = StratifiedKFold(n_splits=args.folds, shuffle=True, random_state=1)
        best_cv, best_val = None, None
        for config in configs:
            cv = cross_val_score(build(config), xs, ys, cv=folds).mean()
            val = build(config).fit(xs, ys).score(x_val, y_val)
            if best_cv is None or cv > best_cv[0]:
                best_cv = (cv, val, config)
            if best_val is None or val > best_val[0]:
                best_val = (val, config)
            if size == len(x_train):
                table.append((config, cv, val))
        curve.append((size, best_cv[1], best_val[0]))
        print(
            f"task-ceiling: {size} sentences: chosen by cross-validation "
            f"{100 * best_cv[1]:.1f}% ({best_cv[2][0]}, {best_cv[2][1]}); "
            f"best on validation {100 * best_val[0]:.1f}% "
            f"({best_val[1][0]}, {best_val[1][1]})",
            file=sys.stderr,
        )

    cv_name = f"chosen by {args.folds}-fold CV"
    print(f"| training sentences | {cv_name} | best on validation (optimistic) |")
    print("|---:|---:|---:|")
    for size, cv_val, best in curve:
        print(f"| {size} | {100 * cv_val:.1f}% | {100 * best:.1f}% |")
    print()
    print(f"Every configuration, trained on all {len(x_train)} sentences:")
    print()
    print(f"| features | classifier | {args.folds}-fold CV | validation |")
    print("|---|---|---:|---:|")
    for (feature, classifier), cv, val in sorted(table, key=lambda r: -r[2]):
        print(f"| {feature} | {classifier} | {100 * cv:.1f}% | {100 * val:.1f}% |")

    if args.png:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot([c[0] for c in curve], [100 * c[1] for c in curve], "o-",
                label=cv_name)
        ax.plot([c[0] for c in curve], [100 * c[2] for c in curve], "s--",
                label="best on validation (optimistic)")
        ax.axhline(80, color="red", linestyle=":", label="issue's bar (80%)")
        ax.set_xscale("log")
        ax.set_xlabel("SST-2 training sentences")
        ax.set_ylabel("validation accuracy (%)")
        ax.set_title("Classical classifiers on the SST-2 data in ../shared")
        ax.legend()
        fig.tight_layout()
        tmp = args.png + ".partial"
        fig.savefig(tmp, format="png", dpi=120)
        os.replace(tmp, args.png)
        print(f"task-ceiling: wrote {args.png}", file=sys.stderr)


if __name__ == "__main__":
    main()
