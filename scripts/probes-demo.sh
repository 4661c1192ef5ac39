#!/usr/bin/env bash
#===- scripts/probes-demo.sh - the safety boundaries on the lab models ---===#
#
# Runs the lab (scripts/demo.sh) unless its models are already in
# build/lab, then, on its aligned base and its two fine-tuned models:
#
#   1. fits L1, L2 and difference-of-means probes on the base
#      (qrealign-probe fit, the lab's probe.jsonl; JailbreakBench held out);
#   2. the separability report of base, p = 0 and p = 0.1 with the L1
#      probes on JailbreakBench's harmful prompts against Alpaca's
#      (qrealign-probe report), and its plots (python/qrealign/plot_probes.py);
#   3. the causal check on the p = 0.1 model, every layer, all three probe
#      types (qrealign-probe patch).
#
# Everything goes to build/lab/probes/ (QREALIGN_LAB_DIR/probes). Knobs:
# QREALIGN_LAB_DIR, QREALIGN_LAB_THREADS (all cores), QREALIGN_SHARED_DATA.
#
#===----------------------------------------------------------------------===#
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
case $BUILD_DIR in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac
export BUILD_DIR
LAB=${QREALIGN_LAB_DIR:-$BUILD_DIR/lab}
SHARED=${QREALIGN_SHARED_DATA:-$ROOT/../shared/data}
THREADS=${QREALIGN_LAB_THREADS:-$(nproc)}
START=$(date +%s)
elapsed() { local s=$(( $(date +%s) - START )); printf '%d:%02d' $((s / 60)) $((s % 60)); }
stage() { echo; echo "== [$1/4] $2   (elapsed $(elapsed))"; }

stage 1 "the lab's models"
if [ -f "$LAB/finetuned-p0.1/model.safetensors" ] &&
   [ -f "$LAB/finetuned-p0/model.safetensors" ] && [ -d "$LAB/splits" ]; then
  echo "using the models in ${LAB#$ROOT/} (rm -rf it to run scripts/demo.sh again)"
  "$ROOT/scripts/setup.sh" > /dev/null
else
  QREALIGN_LAB_DIR=$LAB "$ROOT/scripts/demo.sh"
fi
BASE=$ROOT/examples/lab/base
[ -f "$LAB/base/model.safetensors" ] && BASE=$LAB/base
BIN=$BUILD_DIR/bin
S=$LAB/splits
OUT=$LAB/probes
mkdir -p "$OUT"
TESTS=(--test "jbb-vs-alpaca=$S/eval-harmful-unseen.jsonl,$S/eval-benign.jsonl")
JUDGE=()
if [ -d "$SHARED" ]; then
  TESTS+=(--test "jbb-vs-twins=$S/eval-harmful-unseen.jsonl,benign:jailbreakbench-benign:$SHARED/jailbreakbench/benign-behaviors.csv")
  JUDGE=(--keywords "$SHARED/refusal_keywords/refusal_keywords.json")
fi

stage 2 "probes on the aligned base (${BASE#$ROOT/})"
for P in l1 l2 mean-diff; do
  echo "-- $P"
  "$BIN/qrealign-probe" fit "$BASE" --data "$S/probe.jsonl" --penalty "$P" \
    --num-threads "$THREADS" "${TESTS[@]}" -o "$OUT/$P.safetensors" \
    > "$OUT/fit-$P.md"
  cat "$OUT/fit-$P.md"
done

stage 3 "separability report and plots"
"$BIN/qrealign-probe" report --probes "$OUT/l1.safetensors" \
  --model "base=$BASE" --model "p=0=$LAB/finetuned-p0" \
  --model "p=0.1=$LAB/finetuned-p0.1" \
  --data "jbb-vs-alpaca=$S/eval-harmful-unseen.jsonl,$S/eval-benign.jsonl" \
  --num-threads "$THREADS" -o "$OUT/report" > /dev/null
cat "$OUT/report/report.md"
/usr/bin/python3 "$ROOT/python/qrealign/plot_probes.py" "$OUT/report"

stage 4 "causal check on the p = 0.1 model"
"$BIN/qrealign-probe" patch --base "$BASE" --model "$LAB/finetuned-p0.1" \
  --probes "l1=$OUT/l1.safetensors" --probes "l2=$OUT/l2.safetensors" \
  --probes "mean-diff=$OUT/mean-diff.safetensors" \
  --data "jbb=$S/eval-harmful-unseen.jsonl" "${JUDGE[@]}" \
  --num-threads "$THREADS" -o "$OUT/patch" 2> "$OUT/patch.log"
echo
echo "Done in $(elapsed). Outputs in ${OUT#$ROOT/}: fit-*.md, report/ (report.md,"
echo "report.json, separability.png, pca.png), patch/ (patch.md, patch.json)."
