#!/usr/bin/env bash
# The README's second command (and CI's): install what is missing, type-check, run
# every test, and finish with one plain summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "test: type-check"
npx tsc --noEmit -p .
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
npx ava 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
count() { { grep -Eo "^ *[0-9]+ tests? $1" "$log" || true; } | grep -Eo '[0-9]+' | tail -1 || true; }
passed=$(count passed)
failed=$(count failed)
# ava prints no passed count when something fails: count the ✔ lines instead.
[ -n "$passed" ] || passed=$(grep -c '✔' "$log" || true)
echo "tests: ${passed:-0} passed, ${failed:-0} failed"
exit "$rc"
