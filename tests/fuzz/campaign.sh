#!/bin/sh
# A longer fuzzing campaign than CI's: every harness for SECONDS (default 600), one after the
# other (a 2-core machine shared with others: one core), corpora and logs kept in OUT (default
# fuzz-campaign/), then a table for BENCHMARKS.md ## Robustness. Inputs worth keeping (crashes
# once fixed, new coverage) can be copied into tests/fuzz/corpus/NAME/ (libFuzzer's -merge=1
# keeps the smallest set: build-fuzz/tests/fuzz/fuzz_NAME -merge=1 tests/fuzz/corpus/NAME OUT/NAME/corpus).
#
# usage: tests/fuzz/campaign.sh [SECONDS [OUT]]
set -u
cd "$(dirname "$0")/../.."
seconds=${1:-600}
out=${2:-fuzz-campaign}
mkdir -p "$out"
start=$(date +%s)
nice -n 10 tests/fuzz/run.sh "$seconds" "$out" >"$out/summary.txt"
status=$?
cat "$out/summary.txt"
echo "campaign: $(( $(date +%s) - start )) s on $(nproc) cores ($(uname -m)), clang $(clang --version | sed -n 's/.*version \([0-9.]*\).*/\1/p;q')"
for h in idx cifar png jpeg checkpoint config aug; do
  ls "$out/$h"/crash-* "$out/$h"/leak-* "$out/$h"/oom-* "$out/$h"/timeout-* 2>/dev/null
done
exit $status
