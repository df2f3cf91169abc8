#!/bin/bash
# One prepared session on a machine with a real GPU: device listing, the test binaries under
# the validation layer, selftest, and the benchmarks. Usage: bench/gpu_session.sh BIN_DIR OUT_DIR [what...]
# BIN_DIR holds vkclr and the test_* binaries built elsewhere; OUT_DIR receives the logs.
# `what` picks parts: tests gemm layers head train (default: all but train).
set -u
bin=$1 out=$2
shift 2
parts=${*:-tests gemm layers head}
mkdir -p "$out"
run() { # name, command...
  local name=$1; shift
  echo "== $name: $*" | tee -a "$out/summary.txt"
  local t0=$(date +%s%N)
  "$@" >"$out/$name.log" 2>&1
  local rc=$?
  local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  echo "   rc=$rc  ${ms} ms" | tee -a "$out/summary.txt"
  tail -n 40 "$out/$name.log"
}
run devices "$bin/vkclr" devices
for p in $parts; do
  case $p in
  tests)
    for t in "$bin"/test_*; do
      [ "$(basename "$t")" = test_checks ] && continue
      VKCLR_VALIDATION=1 VKCLR_QUIET=1 run "$(basename "$t")" "$t"
    done
    VKCLR_VALIDATION=1 VKCLR_QUIET=1 run checks "$bin/test_checks" ""
    run selftest "$bin/vkclr" selftest ;;
  gemm)
    run gemm "$bin/vkclr" bench gemm --repeat 9
    for tile in 16,16,4,1 16,16,4,2 16,8,8,2 32,8,4,2; do
      VKCLR_GEMM_TILE=$tile run "gemm_$tile" "$bin/vkclr" bench gemm --repeat 9 --only NN
    done ;;
  layers) run layers "$bin/vkclr" bench layers ;;
  head) run head "$bin/vkclr" bench head ;;
  esac
done
