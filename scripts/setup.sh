#!/usr/bin/env bash
#===- scripts/setup.sh - install, configure and build qrealign ------------===#
#
# Sets up a fresh Debian 12 machine and builds qrealign. Idempotent: apt runs
# only for missing packages, CMake configures only once, ninja rebuilds only
# what changed.
#
#   scripts/setup.sh               # build/ with the default (dylib) tools
#   BUILD_DIR=build-static QREALIGN_LINK_MODE=static scripts/setup.sh
#
# Environment: BUILD_DIR (default build), QREALIGN_LINK_MODE (dylib|static),
# CMAKE_BUILD_TYPE (default Release), JOBS (default: number of cores),
# QREALIGN_CMAKE_ARGS (extra configure arguments), SETUP_TARGETS (ninja
# targets to build; default: all).
#
#===----------------------------------------------------------------------===#
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
case $BUILD_DIR in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac
LINK_MODE=${QREALIGN_LINK_MODE:-dylib}
BUILD_TYPE=${CMAKE_BUILD_TYPE:-Release}
JOBS=${JOBS:-$(nproc)}

say() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

#--- 1. Packages --------------------------------------------------------------
if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  die "this script installs Debian packages; it needs Debian 12 (bookworm) with apt"
fi
missing=()
while read -r spec; do
  spec=${spec%%#*}
  spec=$(echo "$spec" | xargs)
  [ -z "$spec" ] && continue
  name=${spec%%=*}
  want=""
  [ "$spec" != "$name" ] && want=${spec#*=}
  have=$(dpkg-query -W -f='${db:Status-Status} ${Version}' "$name" 2>/dev/null || true)
  if [[ $have != installed* ]] || { [ -n "$want" ] && [ "${have#installed }" != "$want" ]; }; then
    missing+=("$spec")
  fi
done < "$ROOT/scripts/packages.txt"

if [ ${#missing[@]} -gt 0 ]; then
  as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -E "$@"; fi; }
  if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
    die "need root (or sudo) to install: ${missing[*]}"
  fi
  say "installing ${#missing[@]} package(s): ${missing[*]}"
  mkdir -p "$BUILD_DIR"
  log=$BUILD_DIR/setup-apt.log
  export DEBIAN_FRONTEND=noninteractive
  if ! { as_root apt-get update -qq && \
         as_root apt-get install -y -qq --no-install-recommends \
           -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
           "${missing[@]}"; } > "$log" 2>&1; then
    tail -n 30 "$log" >&2
    die "apt-get failed (full log: $log)"
  fi
  say "packages installed (log: $log)"
else
  say "all packages present"
fi

#--- 2. Configure -------------------------------------------------------------
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  say "configuring $BUILD_DIR ($LINK_MODE link mode, $BUILD_TYPE)"
  # shellcheck disable=SC2086
  cmake -G Ninja -S "$ROOT" -B "$BUILD_DIR" \
    -DCMAKE_BUILD_TYPE="$BUILD_TYPE" \
    -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir \
    -DLLVM_EXTERNAL_LIT=/usr/lib/llvm-22/bin/lit \
    -DQREALIGN_LINK_MODE="$LINK_MODE" \
    ${QREALIGN_CMAKE_ARGS:-} > "$BUILD_DIR.configure.log" 2>&1 || {
      tail -n 30 "$BUILD_DIR.configure.log" >&2
      die "cmake configure failed (log: $BUILD_DIR.configure.log)"
    }
  mv "$BUILD_DIR.configure.log" "$BUILD_DIR/configure.log"
fi

#--- 3. Build -----------------------------------------------------------------
say "building ${SETUP_TARGETS:-everything} in $BUILD_DIR with $JOBS job(s)"
start=$(date +%s)
# shellcheck disable=SC2086
if ! ninja -C "$BUILD_DIR" -j "$JOBS" ${SETUP_TARGETS:-} > "$BUILD_DIR/build.log" 2>&1; then
  grep -E "error|FAILED" "$BUILD_DIR/build.log" | head -n 30 >&2 || true
  die "build failed (log: $BUILD_DIR/build.log)"
fi
say "built in $(( $(date +%s) - start )) s: $BUILD_DIR/bin"
