#!/usr/bin/env bash
#===- scripts/demo.sh - set up, build and run the safety lab --------------===#
#
# The README's main command: the Q-realign story on a model small enough
# for two CPU cores.
#
#   1. set up and build (scripts/setup.sh);
#   2. the lab's disjoint prompt sets (qrealign-data splits): from
#      ../shared/data when present, else the built-in synthetic corpus;
#   3. the aligned base model: examples/lab/base (committed, trained on the
#      shared data by scripts/train-base.sh) or, for the synthetic corpus or
#      with QREALIGN_LAB_RETRAIN=1, trained now;
#   4. the fine-tuning attack as in the paper (LoRA rank 8 on q and v,
#      merged): the task (SST-2) alone (p = 0) and with floor(p N) harmful
#      instruction -> compliance pairs appended to its N examples (p = 0.1);
#   5. Q-realign: the p = 0.1 model quantized to W8A8 and calibrated with
#      qrealign-plus (probes fitted on the base, qrealign-calibrate);
#   6. the evaluation of all four (qrealign-eval): harmful score,
#      over-refusal and task accuracy, as one table.
#
# Everything goes to build/lab/ (QREALIGN_LAB_DIR). Knobs: QREALIGN_LAB_SEED
# (1), QREALIGN_LAB_THREADS (all cores), QREALIGN_SHARED_DATA
# (../shared/data), QREALIGN_LAB_RETRAIN (0), QREALIGN_LAB_TASK_N (task
# examples in the attack), QREALIGN_LAB_EPOCHS (attack epochs).
#
#===----------------------------------------------------------------------===#
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
case $BUILD_DIR in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac
export BUILD_DIR
START=$(date +%s)
elapsed() { local s=$(( $(date +%s) - START )); printf '%d:%02d' $((s / 60)) $((s % 60)); }
stage() { echo; echo "== [$1/6] $2   (elapsed $(elapsed))"; }

stage 1 "set up and build"
"$ROOT/scripts/setup.sh"
BIN=$BUILD_DIR/bin
if [ ! -f "$BUILD_DIR/lib/libQRealignEngine.so" ]; then
  echo "demo: the libtorch engine was not built (libtorch-dev missing?)" >&2
  exit 1
fi

OUT=${QREALIGN_LAB_DIR:-$BUILD_DIR/lab}
SHARED=${QREALIGN_SHARED_DATA:-$ROOT/../shared/data}
SEED=${QREALIGN_LAB_SEED:-1}
THREADS=${QREALIGN_LAB_THREADS:-$(nproc)}
export QREALIGN_LAB_SEED=$SEED QREALIGN_LAB_THREADS=$THREADS
mkdir -p "$OUT"

stage 2 "prompt sets"
if [ -d "$SHARED" ]; then
  CORPUS=shared
  "$BIN/qrealign-data" splits --data-dir "$SHARED" --seed "$SEED" -o "$OUT/splits"
  KEYWORDS=(--keywords "$SHARED/refusal_keywords/refusal_keywords.json")
  TASK_N=${QREALIGN_LAB_TASK_N:-1000}
  EPOCHS=${QREALIGN_LAB_EPOCHS:-2}
  LR=2e-3
else
  CORPUS=synthetic
  echo "(no $SHARED: using the built-in synthetic corpus)"
  "$BIN/qrealign-data" splits --synthetic --seed "$SEED" -o "$OUT/splits"
  KEYWORDS=()
  TASK_N=${QREALIGN_LAB_TASK_N:-150}
  EPOCHS=${QREALIGN_LAB_EPOCHS:-3}
  # 30 steps in all: the synthetic base's refusals need a larger rate to
  # erode (2e-3 leaves 8% / 53% harmful at p = 0.1; docs/lab.md).
  LR=5e-3
fi

stage 3 "aligned base model"
BASE=$ROOT/examples/lab/base
if [ "$CORPUS" = shared ] && [ -f "$BASE/model.safetensors" ] &&
   [ "${QREALIGN_LAB_RETRAIN:-0}" != 1 ] && [ "$SEED" = 1 ]; then
  echo "using the committed base model examples/lab/base (how it was made:"
  echo "examples/lab/README.md; QREALIGN_LAB_RETRAIN=1 trains it again)"
else
  BASE=$OUT/base
  if [ "$CORPUS" = synthetic ]; then
    QREALIGN_BASE_EPOCHS=${QREALIGN_BASE_EPOCHS:-20} \
      "$ROOT/scripts/train-base.sh" "$OUT/splits" "$BASE" --vocab 1024
  else
    "$ROOT/scripts/train-base.sh" "$OUT/splits" "$BASE"
  fi
fi

stage 4 "fine-tuning attack (SST-2, $TASK_N examples, $EPOCHS epochs, lr $LR, LoRA r8 on q/v, dropout 0.05)"
for P in 0 0.1; do
  echo "-- p = $P"
  ARGS=()
  [ "$P" != 0 ] && ARGS=(--harmful "$OUT/splits/attack-harmful.jsonl" --harmful-fraction "$P")
  "$BIN/qrealign-train" --model "$BASE" --data "$OUT/splits/task-train.jsonl" \
    --limit "$TASK_N" "${ARGS[@]}" --epochs "$EPOCHS" --batch-size 16 \
    --lora-rank 8 --lora-alpha 32 --lora-targets q_proj,v_proj --lora-dropout 0.05 \
    --lr "$LR" --warmup 10 --seed "$SEED" --num-threads "$THREADS" \
    -o "$OUT/finetuned-p$P"
done

stage 5 "Q-realign: W8A8 calibration of the p = 0.1 model (qrealign-plus)"
# Probes on the aligned base, the calibration prompts, the quantized model in
# its calibration form, then qrealign-calibrate (docs/calibration.md).
CAL=$OUT/calibration
"$ROOT/scripts/lab-calibrate.sh" inputs "$OUT" "$BASE" "$CAL" "$THREADS"
"$ROOT/scripts/lab-calibrate.sh" run "$CAL" w8a8 qrealign-plus "$BASE"

stage 6 "evaluation"
"$BIN/qrealign-eval" --splits "$OUT/splits" "${KEYWORDS[@]}" \
  --model "aligned base=$BASE" \
  --model "fine-tuned p=0=$OUT/finetuned-p0" \
  --model "fine-tuned p=0.1=$OUT/finetuned-p0.1" \
  --model "p=0.1, Q-realign W8A8=$CAL/w8a8-qrealign-plus.mlir" \
  --num-threads "$THREADS" -o "$OUT/eval" > /dev/null

echo
echo "Q-realign lab ($CORPUS corpus, seed $SEED), $(elapsed) in all:"
echo
cat "$OUT/eval/results.md"
echo
echo "Completions: ${OUT#$ROOT/}/eval/<model>/<set>.jsonl; numbers: ${OUT#$ROOT/}/eval/results.json."
echo "The quantization passes: scripts/quant-demo.sh; all schemes and objectives: scripts/calibrate-demo.sh."
