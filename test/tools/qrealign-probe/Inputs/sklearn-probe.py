#!/usr/bin/env python3
"""scikit-learn as the oracle of qrealign-probe solve.

  make FILE [--n N --d D --seed S] [--activations]
      a CSV: features, then the label, drawn from a sparse logistic model
      (a clear problem: 5 strong features of D); with --activations,
      separable classes on low-rank, correlated, badly scaled features,
      the hard case of activation probes
  check FILE PROBE.json [--penalty l1|l2] [--standardize]
      fits scikit-learn's LogisticRegression on FILE (l1: solver='saga', the
      paper's probe; l2: 'lbfgs'), solved far tighter than its defaults, and
      fails unless qrealign's objective is within 1e-4 (relative) of
      scikit-learn's and, for l1, both have the same sign pattern. Prints
      both objectives.
"""
import argparse
import json
import sys

import numpy as np


def objective(X, y, w, b, C, penalty):
    s = 2 * y - 1
    z = X @ w + b
    loss = np.logaddexp(0, -s * z).sum()
    reg = np.abs(w).sum() if penalty == "l1" else 0.5 * (w @ w)
    return C * loss + reg


def make(args):
    rng = np.random.default_rng(args.seed)
    w = np.zeros(args.d)
    w[:5] = [2.0, -1.5, 1.0, -2.5, 1.2]
    if args.activations:
        # Like residual-stream activations: low-rank, strongly correlated
        # features on different scales, classes linearly separable.
        basis = rng.normal(size=(8, args.d)) * rng.uniform(0.1, 5, args.d)
        X = rng.normal(size=(args.n, 8)) @ basis
        X += 0.05 * rng.normal(size=X.shape)
        y = (X @ w + 0.3 > 0).astype(int)
    else:
        X = rng.normal(size=(args.n, args.d))
        X[:, 1] += 0.5 * X[:, 0]  # some correlation
        p = 1 / (1 + np.exp(-(X @ w + 0.3)))
        y = (rng.random(args.n) < p).astype(int)
    with open(args.file, "w") as f:
        f.write("# features..., label\n")
        for row, label in zip(X, y):
            f.write(",".join("%.6g" % v for v in row) + ",%d\n" % label)


def check(args):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    data = np.loadtxt(args.file, delimiter=",", comments="#")
    X, y = data[:, :-1].astype(np.float32).astype(np.float64), data[:, -1]
    probe = json.load(open(args.probe))
    if args.standardize:
        X = StandardScaler().fit_transform(X)
        w, b = np.array(probe["fitted_weights"]), probe["fitted_bias"]
    else:
        w, b = np.array(probe["weights"]), probe["bias"]
    solver = "saga" if args.penalty == "l1" else "lbfgs"
    ref = LogisticRegression(penalty=args.penalty, C=1.0, solver=solver,
                             tol=1e-12, max_iter=1000000).fit(X, y)
    wr, br = ref.coef_[0], ref.intercept_[0]
    ours = objective(X, y, w, b, 1.0, args.penalty)
    theirs = objective(X, y, wr, br, 1.0, args.penalty)
    rel = (ours - theirs) / abs(theirs)
    print("objective qrealign %.9g scikit-learn %.9g relative %.2g"
          % (ours, theirs, rel))
    print("reported objective %.9g" % probe["objective"])
    if abs(probe["objective"] - ours) > 1e-6 * abs(ours):
        sys.exit("the probe's reported objective is not its objective")
    if abs(rel) > 1e-4:
        sys.exit("objectives differ by %.2g relative" % rel)
    if args.penalty == "l1":
        clear = (np.abs(w) > 1e-3) | (np.abs(wr) > 1e-3)
        print("non-zero: qrealign %d scikit-learn %d"
              % ((w != 0).sum(), (np.abs(wr) > 1e-8).sum()))
        if (np.sign(w[clear]) != np.sign(wr[clear])).any():
            sys.exit("sign patterns differ: %s vs %s"
                     % (np.sign(w).astype(int), np.sign(wr).astype(int)))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("file")
    m.add_argument("--n", type=int, default=400)
    m.add_argument("--d", type=int, default=30)
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--activations", action="store_true",
                   help="separable, low-rank, badly scaled features")
    c = sub.add_parser("check")
    c.add_argument("file")
    c.add_argument("probe")
    c.add_argument("--penalty", default="l1", choices=["l1", "l2"])
    c.add_argument("--standardize", action="store_true")
    args = ap.parse_args()
    make(args) if args.cmd == "make" else check(args)


if __name__ == "__main__":
    main()
