#!/usr/bin/env bash
# Runs every test suite: unit first, then the suites that need root, hosts or the Pulumi engine, several
# at a time (TEST_JOBS, default 3). Each suite's output goes to a log (printed in full when it fails, its
# summary otherwise); progress lines are timestamped so a slow suite is visible.
# Usage: bash scripts/test-all.sh [suite …]     (default: unit slow pulumi testbed engine daemon fault: slow is mostly idle waiting and pulumi the longest, so both start first)
set -uo pipefail
cd "$(dirname "$0")/.."
suites=("$@"); [ ${#suites[@]} -gt 0 ] || suites=(unit slow pulumi testbed engine daemon fault)
jobs=${TEST_JOBS:-3}
logdir=$(mktemp -d /tmp/wgmesh-tests.XXXXXX)
ts() { date -u +%H:%M:%S; }
start_all=$(date +%s)

run_suite() {  # suite -> writes $logdir/$suite.log and $logdir/$suite.rc
  local s=$1 t0; t0=$(date +%s)
  echo "[$(ts)] suite $s: start"
  node scripts/run-tests.js "$s" >"$logdir/$s.log" 2>&1
  echo $? >"$logdir/$s.rc"
  echo "[$(ts)] suite $s: exit $(cat "$logdir/$s.rc") after $(( $(date +%s) - t0 ))s"
}

# The unit suite first, alone: it is CPU-bound and the quickest signal.
rest=()
for s in "${suites[@]}"; do
  if [ "$s" = unit ]; then run_suite unit; else rest+=("$s"); fi
done
# The others in parallel, at most $jobs at once.
for s in "${rest[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 1; done
  run_suite "$s" &
done
wait

pass=0; fail=0; bad=()
for s in "${suites[@]}"; do
  log="$logdir/$s.log"; rc=$(cat "$logdir/$s.rc" 2>/dev/null || echo 1)
  p=$(grep -E '^(ℹ|#) pass [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+$' || echo 0)
  f=$(grep -E '^(ℹ|#) fail [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+$' || echo 0)
  k=$(grep -E '^(ℹ|#) skipped [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+$' || echo 0)
  pass=$((pass + p)); fail=$((fail + f))
  if [ "$rc" != 0 ]; then
    bad+=("$s"); [ "$f" -gt 0 ] || fail=$((fail + 1))
    echo "======== suite $s FAILED (exit $rc): full log ========"; cat "$log"
  else
    echo "======== suite $s: $p passed, $f failed, $k skipped ========"
    grep -E '^\s*﹣ |# SKIP' "$log" | head -20 || true
  fi
done
echo "all suites took $(( $(date +%s) - start_all ))s; logs in $logdir"
[ ${#bad[@]} -eq 0 ] || echo "failed suites: ${bad[*]}"
echo "tests: $pass passed, $fail failed"
[ ${#bad[@]} -eq 0 ]
