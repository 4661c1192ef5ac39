#!/bin/sh
# 4-bit storage read as i4 levels (narrow-type emulation, qrealign-lower-to-cpu's
# default) against the same storage read as bytes (narrow-levels=false), in one
# build, alternated: three rounds of qrealign-bench-linear --runs 5 per form, the
# median of the three medians, and every round's median in brackets.
#   sh bench/narrow_levels.sh [build-dir]      (default: build)
set -eu
bench="${1:-build}/bin/qrealign-bench-linear"
[ -x "$bench" ] || { echo "narrow_levels.sh: $bench not found: run scripts/setup.sh" >&2; exit 1; }
median() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
run() { "$bench" --scheme "$1" --m "$2" --n "$3" --k "$4" --runs 5 --narrow-levels="$5" 2>&1 |
        sed -n 's/.*"median_ms": \([0-9.]*\).*/\1/p' | tail -1; }
printf '| scheme | M | N x K | bytes ms | levels ms | levels / bytes |\n|---|---:|---|---:|---:|---:|\n'
for cfg in "w4a16 1 4096 4096" "w4a16 4 4096 4096" "w4a16 16 4096 4096" \
           "w4a16 128 4096 4096" "w4a16 1 4096 11008" "w4a16 128 11008 4096" \
           "w4a8 1 4096 4096" "w4a8 2 4096 4096" "w4a8 16 4096 4096" \
           "w4a8 128 4096 4096" "w4a8 1 4096 11008" "w4a8 128 11008 4096"; do
  set -- $cfg
  l1=$(run "$@" true); b1=$(run "$@" false)
  l2=$(run "$@" true); b2=$(run "$@" false)
  l3=$(run "$@" true); b3=$(run "$@" false)
  l=$(median "$l1" "$l2" "$l3"); b=$(median "$b1" "$b2" "$b3")
  printf '| %s | %s | %s x %s | %s | %s | %.2f | [levels %s %s %s; bytes %s %s %s]\n' \
    "$1" "$2" "$3" "$4" "$b" "$l" "$(awk -v l="$l" -v b="$b" 'BEGIN { print l / b }')" "$l1" "$l2" "$l3" "$b1" "$b2" "$b3"
done
