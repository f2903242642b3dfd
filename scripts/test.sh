#!/usr/bin/env bash
# The test command: installs missing system dependencies, then vets and tests
# every package against real PostgreSQL, nginx and OpenSSL.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
# nginx lives in /usr/sbin, which a non-login root shell may not have on PATH.
export PATH="$PATH:/usr/sbin:/sbin"
go vet ./...
go test -count=1 -timeout 40m "$@" ./...
