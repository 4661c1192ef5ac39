#!/usr/bin/env bash
#===- scripts/test.sh - set up, build and run every test ------------------===#
#
# Runs scripts/setup.sh, then every test through ctest: the lit suite
# (parsing, verifiers, passes, tools, examples, fuzzing), the GoogleTest unit
# tests, the format check and the generated-docs check. Then builds again with
# AddressSanitizer and UndefinedBehaviorSanitizer (build-asan/) and reruns the
# lit suite (fuzzer included) and the unit tests there.
#
# Ends with one line `N passed, N failed` counting each lit test and each
# unit test of both runs; exits non-zero if anything failed.
#
# QREALIGN_SKIP_SANITIZERS=1 skips the sanitizer build (quicker local runs).
#
#===----------------------------------------------------------------------===#
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
case $BUILD_DIR in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac
ASAN_DIR=${ASAN_BUILD_DIR:-$ROOT/build-asan}
JOBS=$(nproc)
status=0

run_ctest() { # build-dir label [ctest args...]
  local dir=$1 label=$2
  shift 2
  echo "[test] $label: ctest -j $JOBS $*"
  rm -f "$dir/test/lit-results.xml" "$dir/ctest-results.xml"
  ctest --test-dir "$dir" -j "$JOBS" --output-on-failure \
    --output-junit "$dir/ctest-results.xml" "$@" || status=1
}

summaries=()
if BUILD_DIR=$BUILD_DIR "$ROOT/scripts/setup.sh"; then
  run_ctest "$BUILD_DIR" "tests"
  summaries+=(--run "" "$BUILD_DIR/ctest-results.xml" "$BUILD_DIR/test/lit-results.xml")
else
  status=1
  summaries+=(--failed-step "build")
fi

if [ "${QREALIGN_SKIP_SANITIZERS:-0}" != 1 ]; then
  if BUILD_DIR=$ASAN_DIR CMAKE_BUILD_TYPE=RelWithDebInfo \
     QREALIGN_CMAKE_ARGS="-DQREALIGN_ENABLE_SANITIZERS=ON" \
     "$ROOT/scripts/setup.sh"; then
    run_ctest "$ASAN_DIR" "tests under ASan+UBSan" -R '^(lit|unit/)'
    summaries+=(--run "asan/" "$ASAN_DIR/ctest-results.xml" "$ASAN_DIR/test/lit-results.xml")
  else
    status=1
    summaries+=(--failed-step "sanitizer build")
  fi
fi

/usr/bin/python3 "$ROOT/scripts/summarize-tests.py" "${summaries[@]}" || status=1
exit $status
