#!/bin/sh
# Build the libFuzzer harnesses of tests/fuzz (clang, AddressSanitizer, UndefinedBehaviorSanitizer
# with float-cast-overflow, every report fatal) into build-fuzz and run each for SECONDS from its
# seed corpus (tests/fuzz/corpus/NAME, never written to) with its dictionary. A crash, a
# sanitizer report, a leak, an allocation over 1 GiB, more than 2 GiB of memory or an input
# slower than 10 s fails, leaving the input in OUT/NAME/ (reproduce: build-fuzz/tests/fuzz/fuzz_NAME
# FILE). Prints one line per harness: executions, coverage (edges) and features.
#
# usage: tests/fuzz/run.sh [SECONDS [OUT [HARNESS...]]]   (default 30 s, OUT a temporary folder)
set -eu
cd "$(dirname "$0")/../.."
seconds=${1:-30}
out=${2:-$(mktemp -d /tmp/vkclr-fuzz-XXXXXX)}
[ $# -ge 2 ] && shift 2 || shift $#
harnesses=${*:-idx cifar png jpeg checkpoint config aug}
command -v clang >/dev/null || { echo "fuzz: needs clang (apt-get install clang)" >&2; exit 1; }
san="-fsanitize=float-cast-overflow -fno-sanitize-recover=all"
if [ ! -f build-fuzz/build.ninja ]; then
  CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false --buildtype=debug \
    -Dtests=disabled -Dmpi=disabled -Dc_args="$san" -Dc_link_args="-fsanitize=float-cast-overflow" >/dev/null
fi
targets=""
for h in $harnesses; do targets="$targets tests/fuzz/fuzz_$h"; done
ninja -C build-fuzz $targets >/dev/null
status=0
for h in $harnesses; do
  dict=tests/fuzz/$h.dict
  [ -f "$dict" ] || dict=tests/fuzz/idx.dict
  max_len=4096 # larger inputs for the formats whose seeds are larger (a CIFAR record is 3 KB)
  [ "$h" = cifar ] && max_len=40000
  [ "$h" = jpeg ] && max_len=16384
  [ "$h" = checkpoint ] && max_len=16384
  mkdir -p "$out/$h/corpus"
  if UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 build-fuzz/tests/fuzz/fuzz_$h "$out/$h/corpus" \
       "tests/fuzz/corpus/$h" -dict="$dict" -max_len=$max_len -max_total_time="$seconds" -timeout=10 \
       -rss_limit_mb=2048 -malloc_limit_mb=1024 -print_final_stats=1 -artifact_prefix="$out/$h/" \
       >"$out/$h/log" 2>&1; then
    result=ok
  else
    result="FAILED (see $out/$h/log)"
    status=1
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$h/log")
  last=$(grep -E '^#[0-9]+' "$out/$h/log" | tail -1)
  cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
  ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
  corpus=$(ls "$out/$h/corpus" | wc -l)
  printf 'fuzz_%-10s %4ss %10s executions  cov %5s  ft %6s  new corpus %5s  %s\n' "$h" "$seconds" "${execs:-?}" \
    "${cov:-?}" "${ft:-?}" "$corpus" "$result"
done
exit $status
