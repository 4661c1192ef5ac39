#!/usr/bin/env bash
# Calibration on the lab: the fine-tuned p = 0.1 model quantized at each
# scheme with each objective (rtn, recon, qrealign, qrealign-plus), every
# result evaluated by qrealign-eval on its IR next to the FP models, and the
# boundary report of the calibrated W8A8 models.
#
#   scripts/calibrate-demo.sh                 # all schemes (about 35 min)
#   QREALIGN_CAL_SCHEMES="w8a8" scripts/calibrate-demo.sh
#
# Outputs under build/lab/calibration/: <scheme>-<objective>.mlir (+ its
# learned tensors), eval/results.md, report/report.md, times.md.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
case $BUILD_DIR in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac
export BUILD_DIR
LAB=${QREALIGN_LAB_DIR:-$BUILD_DIR/lab}
SHARED=${QREALIGN_SHARED_DATA:-$ROOT/../shared/data}
THREADS=${QREALIGN_LAB_THREADS:-$(nproc)}
SCHEMES=${QREALIGN_CAL_SCHEMES:-w8a8 w4a16 w4a8 w4a4}
OBJECTIVES=${QREALIGN_CAL_OBJECTIVES:-rtn recon qrealign qrealign-plus}
# The schedule: 10 epochs of the 192 prompts one at a time (1,920 steps per
# layer); schemes, Q/K and the anchor's coefficients: scripts/lab-calibrate.sh.
CAL_OPTS=${QREALIGN_CAL_OPTIONS:-epochs=10 batch-size=1}
START=$(date +%s)
elapsed() { local s=$(( $(date +%s) - START )); printf '%d:%02d' $((s / 60)) $((s % 60)); }
stage() { echo; echo "== [$1/4] $2   (elapsed $(elapsed))"; }

stage 1 "the lab's models"
if [ -f "$LAB/finetuned-p0.1/model.safetensors" ] && [ -d "$LAB/splits" ]; then
  echo "using the models in ${LAB#$ROOT/} (rm -rf it to run scripts/demo.sh again)"
  "$ROOT/scripts/setup.sh" > /dev/null
else
  QREALIGN_LAB_DIR=$LAB "$ROOT/scripts/demo.sh"
fi
BASE=$ROOT/examples/lab/base
[ -f "$LAB/base/model.safetensors" ] && BASE=$LAB/base
BIN=$BUILD_DIR/bin
S=$LAB/splits
OUT=$LAB/calibration
mkdir -p "$OUT"
KEYWORDS=()
[ -d "$SHARED" ] && KEYWORDS=(--keywords "$SHARED/refusal_keywords/refusal_keywords.json")

stage 2 "probes on the aligned base, calibration prompts"
"$ROOT/scripts/lab-calibrate.sh" inputs "$LAB" "$BASE" "$OUT" "$THREADS"
cat "$OUT/probes.md"
echo "calibration prompts: $(grep -c '"label":1' "$OUT/calib.jsonl") malicious," \
  "$(grep -c '"label":0' "$OUT/calib.jsonl") benign"
cd "$OUT"

stage 3 "calibration: $SCHEMES x $OBJECTIVES ($CAL_OPTS)"
MODELS=(--model "aligned base=$BASE" --model "fine-tuned p=0.1=$LAB/finetuned-p0.1")
{ echo "| scheme | objective | seconds | per layer: initial -> final loss |"
  echo "|---|---|---:|---|"; } > times.md
for SCHEME in $SCHEMES; do
  for OBJ in $OBJECTIVES; do
    echo "-- $SCHEME $OBJ"
    T0=$(date +%s)
    "$ROOT/scripts/lab-calibrate.sh" run "$OUT" "$SCHEME" "$OBJ" "$BASE" "$CAL_OPTS quiet"
    LOSSES=$(/usr/bin/python3 - "$SCHEME-$OBJ.mlir" <<'EOF'
import re, sys
t = open(sys.argv[1]).read()
print(", ".join("%s: %.3g -> %.3g" % (l, float(i), float(f)) for f, i, l in
                re.findall(r"final_loss = ([^ ]+) : f64, initial_loss = ([^ ]+) : f64, layer = (\d+)", t)))
EOF
)
    echo "| $SCHEME | $OBJ | $(( $(date +%s) - T0 )) | $LOSSES |" >> times.md
    MODELS+=(--model "$SCHEME $OBJ=$OUT/$SCHEME-$OBJ.mlir")
  done
done
cat times.md

stage 4 "evaluation of every calibrated IR"
"$BIN/qrealign-eval" --splits "$S" "${KEYWORDS[@]}" "${MODELS[@]}" \
  --num-threads "$THREADS" -o "$OUT/eval" > /dev/null
REPORT=(--model "base=$BASE" --model "p=0.1=$LAB/finetuned-p0.1")
for OBJ in $OBJECTIVES; do
  [ -f w8a8-$OBJ.mlir ] && REPORT+=(--model "w8a8 $OBJ=$OUT/w8a8-$OBJ.mlir")
done
"$BIN/qrealign-probe" report --probes probes.safetensors "${REPORT[@]}" \
  --data "seen=$S/eval-harmful-seen.jsonl,$S/eval-benign.jsonl" \
  --num-threads "$THREADS" -o "$OUT/report" > /dev/null
echo
echo "Calibration on the lab ($(elapsed) in all):"
echo
cat "$OUT/eval/results.md"
echo
echo "Boundary report: ${OUT#$ROOT/}/report/report.md; times: ${OUT#$ROOT/}/times.md."
