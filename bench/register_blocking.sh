#!/bin/sh
# Register blocking over tokens (qrealign-cpu-vectorize's tile-rows and lanes,
# 0: chosen for the host) against one token per tile with 8 lanes (the
# schedule before it), in one build, alternated: three rounds of
# qrealign-bench-linear --runs 5 per form, the median of the three medians.
# With a second argument, the qrealign-bench-linear of another build (an older
# commit) runs in the same rounds, with its defaults.
#   sh bench/register_blocking.sh [build-dir] [other-qrealign-bench-linear]
set -eu
bench="${1:-build}/bin/qrealign-bench-linear"
other="${2:-}"
[ -x "$bench" ] || { echo "register_blocking.sh: $bench not found: run scripts/setup.sh" >&2; exit 1; }
[ -z "$other" ] || [ -x "$other" ] || { echo "register_blocking.sh: $other not found" >&2; exit 1; }
median() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
ms() { sed -n 's/.*"median_ms": \([0-9.]*\).*/\1/p' | tail -1; }
run() { "$bench" --scheme "$1" --m "$2" --n "$3" --k "$4" --runs 5 --tile-rows "$5" --lanes "$6" 2>&1 | ms; }
old() { [ -z "$other" ] && echo - || "$other" --scheme "$1" --m "$2" --n "$3" --k "$4" --runs 5 2>&1 | ms; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
printf '| scheme | M | N x K | other build ms | 1 x 8 ms | host tiles ms | host / 1 x 8 |\n|---|---:|---|---:|---:|---:|---:|\n'
for cfg in "float 16 4096 4096" "float 128 4096 4096" "float 128 11008 4096" \
           "w8a8 16 4096 4096" "w8a8 128 4096 4096" "w8a8 128 11008 4096" \
           "w4a16 16 4096 4096" "w4a16 128 4096 4096" "w4a16 128 11008 4096" \
           "w4a8 16 4096 4096" "w4a8 128 4096 4096" \
           "float 1 4096 4096" "w8a8 1 4096 4096" "w4a16 1 4096 4096"; do
  set -- $cfg
  a1=$(run "$@" 1 8); h1=$(run "$@" 0 0); o1=$(old "$@")
  a2=$(run "$@" 1 8); h2=$(run "$@" 0 0); o2=$(old "$@")
  a3=$(run "$@" 1 8); h3=$(run "$@" 0 0); o3=$(old "$@")
  a=$(median "$a1" "$a2" "$a3"); h=$(median "$h1" "$h2" "$h3")
  o=$( [ -z "$other" ] && echo - || median "$o1" "$o2" "$o3")
  printf '| %s | %s | %s x %s | %s | %s | %s | %s |\n' "$1" "$2" "$3" "$4" "$o" "$a" "$h" "$(ratio "$h" "$a")"
done
