#!/bin/sh
# compare-object.sh DIR ARCH NAME "ASSIGN-QUANT OPTIONS" PYTHON OPT COMPILE RUN
#   ["COMPILE FLAGS"]:
# with the tools as lit substitutes them, quantize DIR/ARCH.mlir (nothing
# for NAME "float"), compile it ahead of time into DIR/obj/ARCH-NAME.o (a
# directory of its own: the manifest's paths must lead back to the
# parameters), and require of the object the engine's greedy text and
# logits within 1e-3 (test/lit-utils/compare-logits.py), and the JIT's text.
set -e
dir=$1 arch=$2 name=$3 opts=$4 python=$5 opt=$6 compile=$7 run=$8
flags_compile=${9:-}
compare=$(dirname "$0")/../../../lit-utils/compare-logits.py
model=$dir/$arch.mlir
if [ -n "$opts" ]; then
  model=$dir/$arch-$name.mlir
  "$opt" "$dir/$arch.mlir" --qrealign-assign-quant="$opts" \
    --qrealign-quantize-weights="file=$dir/$arch-$name.safetensors" -o "$model"
fi
mkdir -p "$dir/obj"
object=$dir/obj/$arch-$name.o
"$compile" "$model" -o "$object" $flags_compile 2>/dev/null
test -s "$dir/obj/$arch-$name.manifest.json"
for backend in engine jit object; do
  case $backend in
    engine) flags="--backend engine" ;;
    jit) flags="--backend compiled" ;;
    object) flags="--backend compiled --object $object" ;;
  esac
  "$run" "$model" --prompt-ids --prompt "3 14 15" --prompt "9 2 7 7 1" \
    --max-new-tokens 12 --ignore-eos --format jsonl $flags \
    --logits "$dir/$arch-$name-$backend.npy" \
    -o "$dir/$arch-$name-$backend.jsonl" 2>/dev/null
done
diff "$dir/$arch-$name-engine.jsonl" "$dir/$arch-$name-object.jsonl"
diff "$dir/$arch-$name-jit.jsonl" "$dir/$arch-$name-object.jsonl"
"$python" "$compare" "$dir/$arch-$name-engine.npy" \
  "$dir/$arch-$name-object.npy" --rtol 1e-3 --same-argmax
