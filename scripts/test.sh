#!/usr/bin/env bash
#===- scripts/test.sh - set up, build and run every test ------------------===#
#
# Runs scripts/setup.sh, then every test through ctest: the lit suite
# (parsing, verifiers, passes, tools, examples, fuzzing), the GoogleTest unit
# tests, the format check and the generated-docs check. Ends with one line
# `N passed, N failed` counting each lit test and each unit test; exits
# non-zero if anything failed.
#
#===----------------------------------------------------------------------===#
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
case $BUILD_DIR in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac
export BUILD_DIR

"$ROOT/scripts/setup.sh" || { echo "0 passed, 1 failed"; exit 1; }

echo "[test] running the tests (ctest -j $(nproc))"
rm -f "$BUILD_DIR/test/lit-results.xml" "$BUILD_DIR/ctest-results.xml"
ctest --test-dir "$BUILD_DIR" -j "$(nproc)" --output-on-failure \
  --output-junit "$BUILD_DIR/ctest-results.xml"
status=$?

/usr/bin/python3 "$ROOT/scripts/summarize-tests.py" \
  --ctest "$BUILD_DIR/ctest-results.xml" \
  --lit "$BUILD_DIR/test/lit-results.xml"
summary=$?
[ $status -eq 0 ] && [ $summary -eq 0 ]
