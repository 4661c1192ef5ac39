#!/usr/bin/env bash
# The lab's calibration recipe, one definition for scripts/demo.sh and
# scripts/calibrate-demo.sh (docs/calibration.md).
#
#   lab-calibrate.sh inputs LAB BASE OUT THREADS
#       probes fitted on the aligned base (L1), the calibration prompts (the
#       calibration split plus the probe split's malicious prompts; none is
#       in an evaluation set) and the fine-tuned p = 0.1 model's IR, in OUT;
#   lab-calibrate.sh run OUT SCHEME OBJECTIVE BASE [OPTIONS]
#       SCHEME's calibration form (written once) and OUT/SCHEME-OBJECTIVE.mlir
#       calibrated with OPTIONS (default: 10 epochs of batch 1); prints
#       nothing on success but the pass's progress.
#
# Paths in IR are relative to it: everything lives in OUT.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
BIN=$BUILD_DIR/bin

case ${1:-} in
  inputs)
    LAB=$2 BASE=$3 OUT=$4 THREADS=$5
    mkdir -p "$OUT"
    rm -f "$OUT"/*-fake.mlir # forms of an earlier model
    "$BIN/qrealign-probe" fit "$BASE" --data "$LAB/splits/probe.jsonl" --penalty l1 \
      --num-threads "$THREADS" -o "$OUT/probes.safetensors" > "$OUT/probes.md"
    { cat "$LAB/splits/calibration.jsonl"
      grep '"label":1' "$LAB/splits/probe.jsonl"; } > "$OUT/calib.jsonl"
    "$BIN/qrealign-import" "$LAB/finetuned-p0.1" -o "$OUT/ft.mlir"
    ;;
  run)
    OUT=$2 SCHEME=$3 OBJ=$4 BASE=$5
    OPTS=${6:-epochs=10 batch-size=1}
    # Scheme, Q/K quantization, and the anchor's coefficient (0.5 at 8-bit
    # weights, 3 at 4-bit: how they were chosen is in docs/calibration.md).
    case $SCHEME in
      w8a8) ASSIGN="w-bits=8 a-bits=8 skip=lm_head" QK=qk ANCHOR=0.5 ;;
      w4a16) ASSIGN="w-bits=4 group-size=128 skip=lm_head" QK= ANCHOR=3 ;;
      w4a8) ASSIGN="w-bits=4 a-bits=8 group-size=128 skip=lm_head" QK=qk ANCHOR=3 ;;
      w4a4) ASSIGN="w-bits=4 a-bits=4 group-size=128 skip=lm_head" QK=qk ANCHOR=3 ;;
      *) echo "lab-calibrate: unknown scheme $SCHEME" >&2; exit 1 ;;
    esac
    cd "$OUT"
    if [ ! -f "$SCHEME-fake.mlir" ]; then
      rm -f "$SCHEME-init.safetensors"
      "$BIN/qrealign-opt" ft.mlir --qrealign-assign-quant="$ASSIGN" \
        --qrealign-quantize-weights="form=fake lwc smooth $QK file=$SCHEME-init.safetensors scope=init" \
        --qrealign-attach-probes="file=probes.safetensors" -o "$SCHEME-fake.mlir"
    fi
    "$BIN/qrealign-opt" "$SCHEME-fake.mlir" \
      --qrealign-calibrate="data=calib.jsonl objective=$OBJ anchor=$ANCHOR base=$BASE file=$SCHEME-$OBJ.safetensors $OPTS" \
      -o "$SCHEME-$OBJ.mlir"
    ;;
  *)
    echo "usage: lab-calibrate.sh inputs LAB BASE OUT THREADS | run OUT SCHEME OBJECTIVE BASE [OPTIONS]" >&2
    exit 2
    ;;
esac
