#!/usr/bin/env bash
# Cross-checks Landfall's JWS vouchers (pkg/voucher, draft-ietf-anima-jws-
# voucher) against npm's jose, an independent JOSE implementation, both
# ways, on P-256 (ES256) and P-384 (ES384):
#   1. Landfall signs; jose's generalVerify checks the General JSON
#      Serialization with the key of x5c[0] and reads alg, typ and x5c;
#   2. jose's GeneralSign signs the same voucher with x5c; Landfall's
#      pledge check (CheckVoucher, FormatJWS) accepts it.
# Needs node and npm and the npm registry (it installs jose into a
# temporary directory), which is why it is a script and not part of
# go test. JOSE_VERSION picks the jose release (default 6.2.18).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v npm >/dev/null || { echo "npm not found: skipped"; exit 0; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
(cd "$dir" && npm init -y >/dev/null && npm install --no-audit --no-fund --silent "jose@${JOSE_VERSION:-6.2.18}" >/dev/null)
VOUCHER_JOSE_DIR=$dir VOUCHER_JOSE_PHASE=export go test -count=1 -run '^TestJOSECrossCheck$' ./pkg/voucher/ >/dev/null
cat >"$dir/check.mjs" <<'JS'
import * as jose from 'jose';
import { readFileSync, writeFileSync } from 'node:fs';
const dir = process.argv[2];
const read = (f) => readFileSync(`${dir}/${f}`, 'utf8');
for (const [name, alg] of [['p256', 'ES256'], ['p384', 'ES384']]) {
  const jws = JSON.parse(read(`from-go-${name}.json`));
  if (!Array.isArray(jws.signatures) || jws.signatures.length !== 1) throw new Error(`${name}: not the general serialization`);
  const certPem = read(`masa-${name}.pem`);
  const key = await jose.importX509(certPem, alg);
  const { payload, protectedHeader } = await jose.generalVerify(jws, key, { algorithms: [alg] });
  if (protectedHeader.typ !== 'voucher-jws+json' || protectedHeader.alg !== alg || protectedHeader.x5c.length !== 1) throw new Error(`${name}: header ${JSON.stringify(protectedHeader)}`);
  const x5cPem = `-----BEGIN CERTIFICATE-----\n${protectedHeader.x5c[0].match(/.{1,64}/g).join('\n')}\n-----END CERTIFICATE-----\n`;
  if (x5cPem.replace(/\s/g, '') !== certPem.replace(/\s/g, '')) throw new Error(`${name}: x5c[0] is not the MASA`);
  if (new TextDecoder().decode(payload) !== read(`payload-${name}.json`)) throw new Error(`${name}: payload differs`);
  console.log(`jose ${name}: Landfall's JWS voucher verifies (alg ${alg}, typ ${protectedHeader.typ})`);
  const priv = await jose.importPKCS8(read(`masa-key-${name}.pem`), alg);
  const der = certPem.replace(/-----[A-Z ]+-----|\s/g, '');
  const signed = await new jose.GeneralSign(new TextEncoder().encode(read(`payload-${name}.json`)))
    .addSignature(priv).setProtectedHeader({ alg, typ: 'voucher-jws+json', x5c: [der] }).sign();
  writeFileSync(`${dir}/from-jose-${name}.json`, JSON.stringify(signed));
}
JS
(cd "$dir" && node check.mjs "$dir")
VOUCHER_JOSE_DIR=$dir VOUCHER_JOSE_PHASE=import go test -count=1 -v -run '^TestJOSECrossCheck$' ./pkg/voucher/ | grep -E 'accepted|FAIL|ok' 
echo "jose $(cd "$dir" && node -p 'require("jose/package.json").version') cross-check: passed"
