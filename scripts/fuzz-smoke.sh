#!/usr/bin/env bash
# fuzz-smoke.sh — `make fuzz-smoke` (mk/fuzz.mk): runs every libFuzzer target
# in build-fuzz/fuzz over a copy of its seed corpus tests/fuzz/corpus/<target>
# (crash-regression-* inputs included) for a bounded time, FUZZ_SMOKE_JOBS at
# a time. The per-target time is FUZZ_SMOKE_SECONDS, or FUZZ_SMOKE_BUDGET
# (seconds for all the runs, default 210) shared out by the target count, so
# the whole make target stays within 5 minutes on 2 cores. Prints one line per
# target with its executions and "ok"; a crash, leak, timeout or missing seed
# corpus fails the run, naming the target, the input's path and the stack.
# Never skips: a missing target binary is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN_DIR=build-fuzz/fuzz
WORK=build-fuzz/smoke
JOBS=${FUZZ_SMOKE_JOBS:-2}
BUDGET=${FUZZ_SMOKE_BUDGET:-210}

mapfile -t targets < <(for f in tests/fuzz/fuzz_*.c; do basename "$f" .c; done)
n=${#targets[@]}
if [ "$n" -eq 0 ]; then
  echo "fuzz-smoke: no targets in tests/fuzz" >&2
  exit 1
fi
secs=${FUZZ_SMOKE_SECONDS:-$((BUDGET * JOBS / n))}
[ "$secs" -ge 3 ] || secs=3

for t in "${targets[@]}"; do
  if [ ! -x "$BIN_DIR/$t" ]; then
    echo "FAIL: $t: $BIN_DIR/$t was not built" >&2
    exit 1
  fi
  if ! ls tests/fuzz/corpus/"$t"/* >/dev/null 2>&1; then
    echo "FAIL: $t: no seed corpus in tests/fuzz/corpus/$t/" >&2
    exit 1
  fi
done

rm -rf "$WORK"
mkdir -p "$WORK"
echo "fuzz-smoke: $n targets, ${secs} s each, $JOBS at a time"
start=$(date +%s)

# One target: its own corpus copy, artifacts and log under $WORK/<target>/.
run_one() {
  local t=$1 dir=$WORK/$1
  mkdir -p "$dir/corpus"
  cp tests/fuzz/corpus/"$t"/* "$dir/corpus/"
  local rc=0
  "$BIN_DIR/$t" -max_total_time="$secs" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$dir/" "$dir/corpus" >"$dir/log" 2>&1 || rc=$?
  echo "$rc" >"$dir/rc"
}
export -f run_one
export WORK BIN_DIR secs
printf '%s\n' "${targets[@]}" | xargs -P "$JOBS" -I{} bash -c 'run_one "$@"' _ {}

total=0
failed=()
for t in "${targets[@]}"; do
  dir=$WORK/$t
  rc=$(cat "$dir/rc" 2>/dev/null || echo missing)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
  execs=${execs:-0}
  total=$((total + execs))
  if [ "$rc" = 0 ]; then
    printf '  %-24s %10s executions  ok\n' "$t" "$execs"
    continue
  fi
  failed+=("$t")
  input=$(ls "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-* "$dir"/slow-unit-* 2>/dev/null |
    head -1 || true)
  echo "FAIL: $t (exit $rc) input: ${input:-none written} log: $dir/log"
  # the report: from the first sanitizer / libFuzzer error line, at most 60 lines
  awk '/ERROR: |runtime error|deadly signal|ALARM: |out-of-memory|Test unit written/ {p=1} p' \
    "$dir/log" | head -60 | sed 's/^/    /'
done
elapsed=$(($(date +%s) - start))
echo "fuzz-smoke: $n targets, $total executions, ${#failed[@]} crashes (${elapsed} s)"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz-smoke: failed: ${failed[*]} (reproduce: build-fuzz/fuzz/<target> <input>)" >&2
  exit 1
fi
