#!/usr/bin/env bash
# The README's second command (and CI's): install what is missing, type-check, run
# every test, and finish with one plain summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# setup.sh installs dockerd; as root (CI) a daemon that cannot start is a failure, not a skip.
if [ "$(id -u)" -eq 0 ]; then export TESSERA_REQUIRE_DOCKERD="${TESSERA_REQUIRE_DOCKERD:-1}"; fi
echo "test: type-check"
npx tsc --noEmit -p .
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
# ava under a watchdog: a run that hangs ends with the stuck processes and pending tests
# named, instead of at CI's limit with no word (scripts/ava-watchdog.ts).
node --import tsx scripts/ava-watchdog.ts "$log"
rc=$?
set -e
# The TPM tests share one provisioned golden swtpm state per ava run
# (<tmp>/tessera-swtpm-<ava pid>, see test/helpers/swtpm.ts); ava is done now, so remove
# the states of runs that are no longer alive.
for d in "${TMPDIR:-/tmp}"/tessera-swtpm-*; do
  [ -d "$d" ] || continue
  kill -0 "${d##*-}" 2>/dev/null || rm -rf "$d"
done
count() { { grep -Eo "^ *[0-9]+ tests? $1" "$log" || true; } | grep -Eo '[0-9]+' | tail -1 || true; }
passed=$(count passed)
failed=$(count failed)
# ava prints no passed count when something fails: count the ✔ lines instead.
[ -n "$passed" ] || passed=$(grep -c '✔' "$log" || true)
echo "tests: ${passed:-0} passed, ${failed:-0} failed"
exit "$rc"
