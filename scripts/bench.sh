#!/usr/bin/env bash
# Runs every benchmark once; BENCHMARKS.md records the results and the
# per-package commands used for each table.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
go test -run '^$' -bench . -benchmem -benchtime "${BENCHTIME:-2s}" ./...
