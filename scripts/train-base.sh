#!/usr/bin/env bash
#===- scripts/train-base.sh - train the lab's aligned base model ----------===#
#
# scripts/train-base.sh SPLITS_DIR OUT_DIR [extra qrealign-train options]
#
# The exact recipe of the aligned base model: a new 4-layer Llama-family chat
# model (hidden 128, 4 heads, MLP 384, SentencePiece BPE vocabulary of 2048
# trained on the lab's training text) trained on SPLITS_DIR/base-train.jsonl
# (benign instructions answered, harmful ones refused; the harmful ones three
# times over) and SPLITS_DIR/task-base.jsonl (the task as one of the base's
# skills, disjoint from the attack's task-train). Deterministic for a seed (QREALIGN_LAB_SEED, default 1) and a
# thread count (QREALIGN_LAB_THREADS, default: all cores).
#
# examples/lab/base/ was made with:
#   build/bin/qrealign-data splits --data-dir ../shared/data -o /tmp/splits
#   scripts/train-base.sh /tmp/splits examples/lab/base --save-bf16
#
#===----------------------------------------------------------------------===#
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BUILD_DIR:-$ROOT/build}/bin
SPLITS=$1
OUT=$2
shift 2
SEED=${QREALIGN_LAB_SEED:-1}
THREADS=${QREALIGN_LAB_THREADS:-$(nproc)}
EPOCHS=${QREALIGN_BASE_EPOCHS:-6}

# The harmful examples (label 1) again, twice: refusals are the rarer
# behaviour.
/usr/bin/python3 - "$SPLITS/base-train.jsonl" "$SPLITS/base-harmful.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], encoding="utf-8") as f, \
        open(sys.argv[2], "w", encoding="utf-8") as out:
    for line in f:
        if json.loads(line)["label"] == 1:
            out.write(line)
PY
[ -d "$OUT.ckpt" ] || rm -rf "$OUT.init" # a checkpoint resumes instead
"$BIN/qrealign-train" --init "$OUT.init" \
  --data "$SPLITS/base-train.jsonl" --data "$SPLITS/base-harmful.jsonl@2" \
  --data "$SPLITS/task-base.jsonl" \
  --tokenizer-data "$SPLITS/task-train.jsonl" \
  --tokenizer-data "$SPLITS/attack-harmful.jsonl" \
  --layers 4 --hidden 128 --heads 4 --kv-heads 4 --intermediate 384 \
  --vocab 2048 --epochs "$EPOCHS" --batch-size 16 --lr 2e-3 --warmup 50 \
  --seed "$SEED" --num-threads "$THREADS" --checkpoint-every 250 --resume \
  -o "$OUT" "$@"
rm -rf "$OUT.init"
