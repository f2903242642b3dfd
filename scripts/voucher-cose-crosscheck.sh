#!/usr/bin/env bash
# Cross-checks Landfall's COSE vouchers (pkg/voucher, draft-ietf-anima-
# constrained-voucher) against npm's cose-js, an independent COSE
# implementation, both ways, on P-256 (ES256, -7) and P-384 (ES384, -35):
#   1. Landfall signs a COSE_Sign1 (tag 18, x5bag unprotected); cose-js's
#      sign.verify checks it with the MASA's key and returns the payload;
#   2. cose-js's sign.create signs the same SID-keyed CBOR voucher with
#      alg protected and x5chain unprotected; Landfall's pledge check
#      (CheckVoucher, FormatCOSE) accepts it.
# Needs node and npm and the npm registry (it installs cose-js into a
# temporary directory), which is why it is a script and not part of
# go test. COSEJS_VERSION picks the release (default 0.9.0).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v npm >/dev/null || { echo "npm not found: skipped"; exit 0; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
(cd "$dir" && npm init -y >/dev/null && npm install --no-audit --no-fund --silent "cose-js@${COSEJS_VERSION:-0.9.0}" >/dev/null 2>&1)
VOUCHER_COSE_DIR=$dir VOUCHER_COSE_PHASE=export go test -count=1 -run '^TestCOSECrossCheck$' ./pkg/voucher/ >/dev/null
cat >"$dir/check.js" <<'JS'
const cose = require('cose-js');
const fs = require('fs');
const dir = process.argv[2];
(async () => {
  for (const [name, alg] of [['p256', 'ES256'], ['p384', 'ES384']]) {
    const k = JSON.parse(fs.readFileSync(`${dir}/masa-${name}.json`, 'utf8'));
    const payload = fs.readFileSync(`${dir}/payload-${name}.cbor`);
    const got = await cose.sign.verify(fs.readFileSync(`${dir}/from-go-${name}.cbor`),
      { key: { x: Buffer.from(k.x, 'hex'), y: Buffer.from(k.y, 'hex') } });
    if (!got.equals(payload)) throw new Error(`${name}: payload differs`);
    console.log(`cose-js ${name}: Landfall's COSE_Sign1 voucher verifies (${alg})`);
    const signed = await cose.sign.create(
      { p: { alg }, u: { x5chain: Buffer.from(k.cert, 'hex') } }, payload,
      { key: { d: Buffer.from(k.d, 'hex') } });
    fs.writeFileSync(`${dir}/from-cosejs-${name}.cbor`, signed);
  }
})().catch((e) => { console.error(e); process.exit(1); });
JS
(cd "$dir" && node check.js "$dir")
VOUCHER_COSE_DIR=$dir VOUCHER_COSE_PHASE=import go test -count=1 -v -run '^TestCOSECrossCheck$' ./pkg/voucher/ | grep -E 'accepted|FAIL|ok'
echo "cose-js $(cd "$dir" && node -p 'require("cose-js/package.json").version') cross-check: passed"
