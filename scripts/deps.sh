#!/usr/bin/env bash
# Installs the system programs Landfall's tests need, when missing (the demo
# needs none of them: scripts/demo.sh runs on Go alone):
# PostgreSQL server binaries, nginx and its stream module (libnginx-mod-stream:
# the sandbox's UDP balancer for CoAP), OpenSSL, Python 3 (ATLS interop test),
# Chromium (the console's browser tests, internal/console/registrarui) and
# libcoap's coap-client (libcoap3-bin: the ATLS-over-CoAP interop test), and
# Debian 13's OSCORE-capable libcoap beside it (scripts/libcoap-oscore.sh: the
# OSCORE interop tests; Debian 12's libcoap has no OSCORE).
# Uses apt-get when run as root on Debian/Ubuntu; otherwise says what to install.
set -euo pipefail

missing=()
have_pg() {
  command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ] && return 0
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}
have_pg || missing+=(postgresql)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
[ -e /usr/lib/nginx/modules/ngx_stream_module.so ] || missing+=(libnginx-mod-stream)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
command -v runuser >/dev/null 2>&1 || missing+=(util-linux)
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || missing+=(chromium)
command -v coap-client-notls >/dev/null 2>&1 || missing+=(libcoap3-bin)

can_install() { [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; }

if [ ${#missing[@]} -gt 0 ]; then
  if ! can_install; then
    echo "deps: missing ${missing[*]}; install them (Debian/Ubuntu: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if can_install; then
  "$(dirname "$0")/libcoap-oscore.sh"
elif [ ! -x "${LANDFALL_LIBCOAP_OSCORE:-/opt/landfall/libcoap-oscore}/bin/coap-client-oscore" ]; then
  echo "deps: the OSCORE interop tests need scripts/libcoap-oscore.sh, run as root" >&2
fi
