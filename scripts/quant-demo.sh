#!/usr/bin/env bash
#===- scripts/quant-demo.sh - a tour of the quantization-scheme passes ---===#
#
# Sets up and builds qrealign (scripts/setup.sh),
# then runs the quantization-scheme pipeline on the embedded example model,
# examples/tiny-llama.mlir, and on the shape of Llama-2-7B, and explains what
# came out. Outputs go to build/demo/.
#
#===----------------------------------------------------------------------===#
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
case $BUILD_DIR in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac
export BUILD_DIR

"$ROOT/scripts/setup.sh"

OPT=$BUILD_DIR/bin/qrealign-opt
OUT=$BUILD_DIR/demo
mkdir -p "$OUT"
MODEL=$ROOT/examples/tiny-llama.mlir
OPTIONS="w-bits=4 group-size=8 skip=lm_head overrides=L1.down_proj:w-bits=8"

cat <<TXT

qrealign demo: quantization schemes on the embedded example model
==================================================================
Model:    examples/tiny-llama.mlir, a 2-layer Llama-style decoder (hidden 16,
          4 query heads, 2 KV heads, vocabulary 32) with its weights inline.
Pipeline: qrealign-opt --qrealign-assign-quant="$OPTIONS" \\
            --qrealign-quant-report
          4-bit weights in groups of 8 input channels, the LM head kept in
          FP16, layer 1's down_proj at 8 bits. q/k/v and gate/up of a layer
          always share a scheme (they run as one fused GEMM).

TXT
"$OPT" "$MODEL" --qrealign-assign-quant="$OPTIONS" \
  --qrealign-quant-report="file=$OUT/tiny-llama.report.md" \
  -o "$OUT/tiny-llama.w4.mlir"
cat "$OUT/tiny-llama.report.md"

echo
echo "The quantized IR (verified) is in ${OUT#$ROOT/}/tiny-llama.w4.mlir. Layer 1's linears:"
echo
awk '/qrealign.layer 1/{on=1} on && /qrealign.linear/{sub(/^ +/, "  "); print} /qrealign.yield/{if(on) exit}' \
  "$OUT/tiny-llama.w4.mlir" | cut -c1-150

echo
echo "The same pass on the shape of Llama-2-7B (32 layers; external weights, so"
echo "nothing is downloaded or read), W4 g128, LM head in FP16:"
echo
/usr/bin/python3 "$ROOT/python/qrealign/irgen.py" --preset llama-2-7b -o "$OUT/llama-2-7b.mlir"
start=$(date +%s%N)
"$OPT" "$OUT/llama-2-7b.mlir" \
  --qrealign-assign-quant="w-bits=4 group-size=128 skip=lm_head" \
  --qrealign-quant-report="file=$OUT/llama-2-7b.report.md" \
  -o "$OUT/llama-2-7b.w4.mlir"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
head -n 2 "$OUT/llama-2-7b.report.md"
grep -E '^\| (0|31) \| (q_proj|down_proj) ' "$OUT/llama-2-7b.report.md"
grep -E '^\| (- \| lm_head|total) ' "$OUT/llama-2-7b.report.md"
echo
tail -n 1 "$OUT/llama-2-7b.report.md"
echo "(225 linears assigned and verified in $ms ms; full table: ${OUT#$ROOT/}/llama-2-7b.report.md)"
# A real checkpoint through import and the libtorch engine, when present.
RUN="$ROOT/build/bin/qrealign-run"
IMPORT="$ROOT/build/bin/qrealign-import"
STORIES="$ROOT/../shared/models/stories260K"
if [ -x "$RUN" ] && [ -f "$ROOT/build/lib/libQRealignEngine.so" ] && [ -d "$STORIES" ]; then
  echo
  echo "A real checkpoint: llama2.c's stories260K, imported (headers only) and run"
  echo "on the libtorch engine, greedy from BOS (llama2.c's reference output):"
  echo
  "$IMPORT" "$STORIES/stories260K.bin" -o "$OUT/stories260K.mlir"
  "$RUN" "$OUT/stories260K.mlir" --prompt '' --max-new-tokens 60
  echo
  echo "The same model with W4 per-channel weights (fake-quantized by the"
  echo "engine; its MLP width, 172, has no power-of-two group size):"
  echo
  "$OPT" "$OUT/stories260K.mlir" --qrealign-assign-quant="w-bits=4" \
    -o "$OUT/stories260K.w4.mlir"
  "$RUN" "$OUT/stories260K.w4.mlir" --prompt '' --max-new-tokens 60
else
  echo
  echo "(Skipping the stories260K run: it needs ../shared/models/stories260K and"
  echo " the libtorch engine, build/lib/libQRealignEngine.so.)"
fi
# The paper's first baseline: what plain round-to-nearest quantization does
# to the attacked lab model (scripts/demo.sh writes it to build/lab).
LAB=${QREALIGN_LAB_DIR:-$BUILD_DIR/lab}
SHARED=${QREALIGN_SHARED_DATA:-$ROOT/../shared/data}
if [ -f "$LAB/finetuned-p0.1/model.safetensors" ] && [ -d "$LAB/splits" ] &&
   [ -f "$BUILD_DIR/lib/libQRealignEngine.so" ]; then
  echo
  echo "The baseline: the attacked lab model (fine-tuned p = 0.1, from"
  echo "scripts/demo.sh) quantized round-to-nearest, weights materialized into"
  echo "packed storage (qrealign-quantize-weights), evaluated as IR:"
  echo
  Q=$OUT/baseline
  mkdir -p "$Q"
  "$IMPORT" "$LAB/finetuned-p0.1" -o "$Q/fine-tuned.mlir"
  MODELS=(--model "fine-tuned p=0.1=$Q/fine-tuned.mlir")
  for spec in "W8A8:w-bits=8 a-bits=8" "W8A16:w-bits=8" \
              "W4A16 g128:w-bits=4 group-size=128" "W4A4:w-bits=4 a-bits=4"; do
    name=${spec%%:*}
    file=$(echo "$name" | tr -d ' ' | tr 'A-Z' 'a-z')
    "$OPT" "$Q/fine-tuned.mlir" --qrealign-assign-quant="${spec#*:} skip=lm_head" \
      --qrealign-check-fusion \
      --qrealign-quantize-weights="file=$Q/$file.safetensors" -o "$Q/$file.mlir"
    MODELS+=(--model "RTN $name=$Q/$file.mlir")
  done
  KEYWORDS=()
  [ -f "$SHARED/refusal_keywords/refusal_keywords.json" ] &&
    KEYWORDS=(--keywords "$SHARED/refusal_keywords/refusal_keywords.json")
  "$BUILD_DIR/bin/qrealign-eval" --splits "$LAB/splits" "${KEYWORDS[@]}" \
    "${MODELS[@]}" -o "$Q/eval" --force > /dev/null
  cat "$Q/eval/results.md"
  echo
  echo "W4A16 g128 weights on disk: $(stat -c %s "$Q/w4a16g128.safetensors") bytes"
  echo "(levels, f32 scales, i8 zero points) for the linears the LM head aside."
else
  echo
  echo "(Skipping the quantization baseline: run scripts/demo.sh first; it"
  echo " writes the attacked lab model to ${LAB#$ROOT/}.)"
fi

cat <<TXT

Next: docs/architecture.md (the plan: probes, calibration, lowering) and
docs/generated/ (the dialect and its passes).
TXT
