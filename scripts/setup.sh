#!/usr/bin/env bash
# Makes a fresh machine ready: Debian packages (lab, packaging) and node_modules. Idempotent and quick
# when everything is already there; needs root for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
if [ ! -d node_modules/.bin ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
