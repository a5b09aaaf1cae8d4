#!/usr/bin/env bash
# `npm test`: lint, format check, type check, then every ava suite (unit and real-libvirt lab).
# Each check runs even when an earlier one failed, and reports one ✔/✘ line like ava's, so the
# closing count (scripts/summarise-tests.mjs) covers them all.
set -uo pipefail
cd "$(dirname "$0")/.."
rc=0
check() {
  local name=$1
  shift
  if "$@"; then echo "  ✔ $name"; else echo "  ✘ [fail]: $name"; rc=1; fi
}
check "lint (eslint)" npx eslint .
check "format (prettier)" npx prettier --check .
check "type check (tsc)" npx tsc --noEmit -p tsconfig.json
npx ava "$@" || rc=1
exit $rc
