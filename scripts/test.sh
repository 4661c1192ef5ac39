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
# unit test of both runs and each fuzz harness; exits non-zero if anything
# failed.
#
# Then builds the libFuzzer harnesses (build-fuzz/, clang-22) and runs each
# for QREALIGN_FUZZ_SECONDS (default 20) with scripts/fuzz.sh.
#
# QREALIGN_SKIP_SANITIZERS=1 skips the sanitizer build, QREALIGN_SKIP_FUZZ=1
# the fuzzers (quicker local runs).
#
#===----------------------------------------------------------------------===#
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
case $BUILD_DIR in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac
ASAN_DIR=${ASAN_BUILD_DIR:-$ROOT/build-asan}
JOBS=$(nproc)
status=0
# A sanitizer report aborts (SIGABRT), so that no test can take it for an
# expected exit code 1 (lit sets the same in test/lit.cfg.py).
# allow_user_poisoning=0: see test/lit.cfg.py (LLVM's header-only
# BumpPtrAllocator, instrumented in our code, poisons slabs libMLIR fills).
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=0:allow_user_poisoning=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}

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

# libFuzzer: every parser's harness, briefly (scripts/fuzz.sh runs them for
# longer; docs/robustness.md gives the numbers of a long run).
if [ "${QREALIGN_SKIP_FUZZ:-0}" != 1 ]; then
  FUZZ_DIR=${FUZZ_BUILD_DIR:-$ROOT/build-fuzz}
  rm -f "$FUZZ_DIR/fuzz-work/fuzz-results.xml"
  echo "[test] fuzzing: scripts/fuzz.sh ${QREALIGN_FUZZ_SECONDS:-20}"
  FUZZ_BUILD_DIR=$FUZZ_DIR "$ROOT/scripts/fuzz.sh" "${QREALIGN_FUZZ_SECONDS:-20}" || status=1
  if [ -f "$FUZZ_DIR/fuzz-work/fuzz-results.xml" ]; then
    summaries+=(--xml "fuzz/" "$FUZZ_DIR/fuzz-work/fuzz-results.xml")
  else
    summaries+=(--failed-step "fuzzer build")
  fi
fi

/usr/bin/python3 "$ROOT/scripts/summarize-tests.py" "${summaries[@]}" || status=1
exit $status
