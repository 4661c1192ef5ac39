#!/bin/sh
# compare-backends.sh DIR ARCH NAME "ASSIGN-QUANT OPTIONS" PYTHON OPT RUN:
# with PYTHON, qrealign-opt and qrealign-run as lit substitutes them, quantize
# DIR/ARCH.mlir (packed, round to nearest; nothing for NAME "float"), run the
# engine and the compiled backend on the same prompts, and require the same
# greedy text and logits within 1e-3 (test/lit-utils/compare-logits.py).
set -e
dir=$1 arch=$2 name=$3 opts=$4 python=$5 opt=$6 run=$7
compare=$(dirname "$0")/../../../lit-utils/compare-logits.py
model=$dir/$arch.mlir
if [ -n "$opts" ]; then
  model=$dir/$arch-$name.mlir
  "$opt" "$dir/$arch.mlir" --qrealign-assign-quant="$opts" \
    --qrealign-quantize-weights="file=$dir/$arch-$name.safetensors" -o "$model"
fi
for backend in engine compiled; do
  "$run" "$model" --prompt-ids --prompt "3 14 15" --prompt "9 2 7 7 1" \
    --max-new-tokens 12 --ignore-eos --format jsonl --backend $backend \
    --logits "$dir/$arch-$name-$backend.npy" \
    -o "$dir/$arch-$name-$backend.jsonl" 2>/dev/null
done
diff "$dir/$arch-$name-engine.jsonl" "$dir/$arch-$name-compiled.jsonl"
"$python" "$compare" "$dir/$arch-$name-engine.npy" \
  "$dir/$arch-$name-compiled.npy" --rtol 1e-3 --same-argmax
