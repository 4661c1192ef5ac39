#!/usr/bin/env bash
#===- scripts/fuzz.sh - run every libFuzzer harness ---------------------===#
#
#   scripts/fuzz.sh [SECONDS]      # each harness for SECONDS (default 60)
#
# Builds the harnesses of test/fuzz with clang-22, libFuzzer, ASan and UBSan
# in build-fuzz/ (scripts/setup.sh installs clang-22 and its fuzzer runtime),
# then runs each one for SECONDS, as many at once as there are cores. Every
# harness starts from its seed corpus (test/fuzz/corpus/NAME, and for the IR
# harness every .mlir file of examples/ and test/, split on `// -----`) and
# keeps what it finds in build-fuzz/fuzz-work/corpus/NAME for the next run.
#
# Prints a table (executions, executions per second, corpus size, result)
# and a total; exits non-zero if any harness found a crash, a hang (an input
# taking more than 10 s), a leak or an out-of-memory (2 GiB RSS or one
# allocation over 2 GiB). Reproducers land in build-fuzz/fuzz-work/artifacts:
# rerun one with `build-fuzz/bin/fuzz-NAME FILE`.
#
# Environment: FUZZ_BUILD_DIR (default build-fuzz), FUZZ_JOBS (harnesses at
# once, default: cores), FUZZ_ONLY (space-separated harness names).
#
#===----------------------------------------------------------------------===#
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${FUZZ_BUILD_DIR:-$ROOT/build-fuzz}
case $BUILD_DIR in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac
SECONDS_EACH=${1:-60}
JOBS=${FUZZ_JOBS:-$(nproc)}
WORK=$BUILD_DIR/fuzz-work
HARNESSES=(safetensors-header shard-index hf-config llama2c-header
           tokenizer-json prompt-encoding prompt-sets probes manifest mlir-ir)
[ -n "${FUZZ_ONLY:-}" ] && read -r -a HARNESSES <<< "$FUZZ_ONLY"

say() { printf '[fuzz] %s\n' "$*"; }
case $SECONDS_EACH in
  ''|*[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS]" >&2; exit 2 ;;
esac

#--- 1. Build -----------------------------------------------------------------
if ! BUILD_DIR=$BUILD_DIR CMAKE_BUILD_TYPE=RelWithDebInfo \
     SETUP_TARGETS=qrealign-fuzzers \
     QREALIGN_CMAKE_ARGS="-DQREALIGN_ENABLE_FUZZERS=ON -DQREALIGN_BUILD_TESTS=OFF \
-DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22" \
     "$ROOT/scripts/setup.sh"; then
  echo "[fuzz] error: building the harnesses failed" >&2
  exit 1
fi

#--- 2. Corpora ---------------------------------------------------------------
mkdir -p "$WORK/corpus" "$WORK/artifacts" "$WORK/logs"
for h in "${HARNESSES[@]}"; do
  mkdir -p "$WORK/corpus/$h"
  if [ -d "$ROOT/test/fuzz/corpus/$h" ]; then
    cp -n "$ROOT/test/fuzz/corpus/$h"/* "$WORK/corpus/$h/" 2>/dev/null || true
  fi
done
# The IR harness starts from the project's own IR: examples and tests.
/usr/bin/python3 - "$ROOT" "$WORK/corpus/mlir-ir" <<'EOF'
import hashlib, os, sys
root, out = sys.argv[1], sys.argv[2]
for top in ("examples", "test"):
    for d, _, files in os.walk(os.path.join(root, top)):
        if "/fuzz" in d:
            continue
        for f in files:
            if not f.endswith(".mlir"):
                continue
            text = open(os.path.join(d, f), "rb").read()
            for chunk in text.split(b"\n// -----\n"):
                if chunk.strip() and len(chunk) <= 65536:
                    name = "seed-" + hashlib.sha1(chunk).hexdigest()[:16]
                    with open(os.path.join(out, name), "wb") as g:
                        g.write(chunk)
EOF

#--- 3. Run -------------------------------------------------------------------
max_len() {
  case $1 in
    mlir-ir|tokenizer-json) echo 65536 ;;
    *) echo 16384 ;;
  esac
}
run_one() {
  local h=$1
  rm -f "$WORK/artifacts/$h-"*
  # The harnesses' own bound on input-sized allocations sits below
  # libFuzzer's 2 GiB malloc limit, so that an allocation the code allows
  # is never reported as an out-of-memory of the fuzzer.
  # allow_user_poisoning=0: the harnesses' instrumented copies of LLVM's
  # header-only BumpPtrAllocator poison slabs that the uninstrumented
  # libMLIR.so then fills (ASan reports use-after-poison in MLIR's own
  # uniquer); ASan's own checks are unaffected.
  QREALIGN_MEMORY_LIMIT=1G \
  ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:allocator_may_return_null=0:allow_user_poisoning=0 \
  UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1 \
    "$BUILD_DIR/bin/fuzz-$h" -max_total_time="$SECONDS_EACH" -timeout=10 \
    -rss_limit_mb=2048 -malloc_limit_mb=2048 -max_len="$(max_len "$h")" \
    -print_final_stats=1 -artifact_prefix="$WORK/artifacts/$h-" \
    "$WORK/corpus/$h" > "$WORK/logs/$h.log" 2>&1
  echo $? > "$WORK/logs/$h.status"
}
say "running ${#HARNESSES[@]} harnesses for $SECONDS_EACH s each, $JOBS at a time"
running=0
for h in "${HARNESSES[@]}"; do
  run_one "$h" &
  running=$((running + 1))
  if [ "$running" -ge "$JOBS" ]; then
    wait -n
    running=$((running - 1))
  fi
done
wait

#--- 4. Report ----------------------------------------------------------------
/usr/bin/python3 - "$WORK" "$SECONDS_EACH" "${HARNESSES[@]}" <<'EOF'
import glob, os, re, sys
from xml.sax.saxutils import escape
work, seconds, harnesses = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
rows, total, failures, cases = [], 0, 0, []
for h in harnesses:
    log = open(os.path.join(work, "logs", h + ".log"), errors="replace").read()
    status = int(open(os.path.join(work, "logs", h + ".status")).read())
    stat = lambda k: int((re.findall(r"stat::%s:\s*(\d+)" % k, log) or [0])[-1])
    execs = stat("number_of_executed_units")
    corpus = len(os.listdir(os.path.join(work, "corpus", h)))
    artifacts = sorted(glob.glob(os.path.join(work, "artifacts", h + "-*")))
    kinds = sorted({os.path.basename(a)[len(h) + 1:].split("-")[0]
                    for a in artifacts})
    ok = status == 0 and not artifacts
    result = "ok" if ok else "FAILED (%s)" % ", ".join(
        kinds or ["exit %d" % status])
    failures += not ok
    total += execs
    rows.append((h, execs, execs / max(seconds, 1), corpus, result))
    message = "" if ok else escape(log[-3000:])
    cases.append('<testcase classname="fuzz" name="%s" time="%d">%s</testcase>'
                 % (h, seconds, '<failure message="%s">%s</failure>'
                    % (escape(result), message) if not ok else ""))
print("| harness | seconds | executions | exec/s | corpus | result |")
print("|---|---:|---:|---:|---:|---|")
for h, e, r, c, res in rows:
    print("| %s | %d | %d | %.0f | %d | %s |" % (h, seconds, e, r, c, res))
print("total: %d executions in %d harnesses, %d failed" % (total, len(rows),
                                                          failures))
with open(os.path.join(work, "fuzz-results.xml"), "w") as f:
    f.write('<testsuite name="fuzz" tests="%d" failures="%d">%s</testsuite>\n'
            % (len(cases), failures, "".join(cases)))
for h, _, _, _, res in rows:
    if res != "ok":
        print("[fuzz] %s: see %s and %s" % (
            h, os.path.join(work, "logs", h + ".log"),
            os.path.join(work, "artifacts", h + "-*")))
sys.exit(1 if failures else 0)
EOF
