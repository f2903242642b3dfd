#!/usr/bin/env bash
# The main job, on one machine: starts PostgreSQL, a MASA and two registrar
# replicas behind a TLS-terminating load balancer, and onboards a device
# over ATLS, printing each step. Options are passed to cmd/demo
# (--mode direct|atls-records|atls-oscore|atls-cose, --serial, --out DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
exec go run ./cmd/demo "$@"
