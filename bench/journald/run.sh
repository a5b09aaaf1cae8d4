#!/usr/bin/env bash
# Measures the ways Node can hand lines to journald (docs/JOURNAL.md): starts a private
# systemd-journald in a private mount namespace (its own /run; volatile storage, no rate limit) and
# runs transports.ts against it. Usage: bash bench/journald/run.sh [LINES]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ "${VCL_JOURNALD_NS:-}" != 1 ]; then
  exec env VCL_JOURNALD_NS=1 unshare -m --propagation private bash "$0" "$@"
fi
run=$(mktemp -d /tmp/vcl-jbench-XXXXXX)
mount --bind "$run" /run
mkdir -p /run/systemd/journal /run/log/journal /run/systemd/journald.conf.d
printf '[Journal]\nStorage=volatile\nRateLimitBurst=0\nRuntimeMaxUse=512M\n' >/run/systemd/journald.conf.d/bench.conf
/lib/systemd/systemd-journald </dev/null >/dev/null 2>&1 &
jpid=$!
trap 'kill $jpid; wait $jpid 2>/dev/null || true; umount /run; rm -rf "$run"' EXIT
while [ ! -S /run/systemd/journal/socket ] || [ ! -S /run/systemd/journal/stdout ]; do sleep 0.05; done
node --import tsx "$here/transports.ts" "$jpid" "${1:-20000}" || { journalctl -D /run/log/journal -o short | grep -v " seq=" | tail -20; exit 1; }
