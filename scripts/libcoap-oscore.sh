#!/usr/bin/env bash
# Installs an OSCORE-capable libcoap for the OSCORE interop tests
# (pkg/atls TestCoAPOSCOREInteropLibcoap*): Debian 13's libcoap3-bin 4.3.4,
# whose OpenSSL build has OSCORE (RFC 8613). Debian 12's libcoap3-bin 4.3.1,
# which scripts/deps.sh installs for the block-wise and Echo interop, has none.
#
# The programs need Debian 13's C library, so they are not installed over the
# system's: apt downloads the packages from Debian 13 into a private state
# directory (the archive's signature checked with the system's
# debian-archive-keyring, as apt always does), they are unpacked under
# $PREFIX, and two wrappers run them with Debian 13's dynamic loader:
#   $PREFIX/bin/coap-client-oscore   $PREFIX/bin/coap-server-oscore
# Nothing outside $PREFIX changes. Runs as root on Debian (apt-get).
set -euo pipefail

PREFIX=${LANDFALL_LIBCOAP_OSCORE:-/opt/landfall/libcoap-oscore}
SUITE=trixie
PACKAGES=(libcoap3-bin libcoap3t64 libc6 libssl3t64)

# has_oscore: the usage text of libcoap's client names its OSCORE support.
has_oscore() {
  local usage
  usage=$("$1" 2>&1 || true)
  [[ $usage == *"(Have OSCORE)"* ]]
}
if [ -x "$PREFIX/bin/coap-client-oscore" ] && has_oscore "$PREFIX/bin/coap-client-oscore"; then
  exit 0
fi
command -v apt-get >/dev/null 2>&1 || { echo "libcoap-oscore: needs apt-get (Debian)" >&2; exit 1; }
[ -r /usr/share/keyrings/debian-archive-keyring.gpg ] || { echo "libcoap-oscore: needs debian-archive-keyring" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/parts" "$work/debs"
touch "$work/status"
cat >"$work/debian.sources" <<EOF
Types: deb
URIs: http://deb.debian.org/debian
Suites: $SUITE
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
apt_opts=(
  -o "Dir::Etc::SourceList=$work/debian.sources" -o "Dir::Etc::SourceParts=$work/parts"
  -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache"
  -o "Dir::State::status=$work/status" -o "APT::Architecture=$(dpkg --print-architecture)"
  -o "Acquire::Languages=none" -o "APT::Sandbox::User=root"
)
echo "libcoap-oscore: downloading ${PACKAGES[*]} from Debian $SUITE" >&2
apt-get "${apt_opts[@]}" -qq update
(cd "$work/debs" && apt-get "${apt_opts[@]}" -qq download "${PACKAGES[@]}")

rm -rf "$PREFIX.new"
mkdir -p "$PREFIX.new/root" "$PREFIX.new/bin"
for deb in "$work"/debs/*.deb; do
  dpkg-deb -x "$deb" "$PREFIX.new/root"
done
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
lib="$PREFIX/root/usr/lib/$multiarch"
loader=$(cd "$PREFIX.new/root/usr/lib/$multiarch" && ls ld-linux*.so.* | head -1)
for role in client server; do
  cat >"$PREFIX.new/bin/coap-$role-oscore" <<EOF
#!/bin/sh
# libcoap 4.3.4 (Debian $SUITE, OpenSSL build) run with Debian $SUITE's loader;
# written by scripts/libcoap-oscore.sh.
exec "$lib/$loader" --library-path "$lib:/lib/$multiarch:/usr/lib/$multiarch" "$PREFIX/root/usr/bin/coap-$role-openssl" "\$@"
EOF
  chmod 755 "$PREFIX.new/bin/coap-$role-oscore"
done
rm -rf "$PREFIX"
mv "$PREFIX.new" "$PREFIX"
if ! has_oscore "$PREFIX/bin/coap-client-oscore"; then
  echo "libcoap-oscore: $PREFIX/bin/coap-client-oscore has no OSCORE" >&2
  exit 1
fi
echo "libcoap-oscore: installed $PREFIX/bin/coap-client-oscore and coap-server-oscore" >&2
