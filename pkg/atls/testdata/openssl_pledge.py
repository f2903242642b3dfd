#!/usr/bin/env python3
"""An independent ATLS pledge: OpenSSL (through Python's ssl module and a
MemoryBIO) runs the TLS 1.3 handshake, and this script carries its flights
over HTTP exactly as the Landfall ATLS profile says. Used by pkg/atls tests
as the non-Go peer.

usage: openssl_pledge.py URL CA CERT KEY MODE [KEYLOG]
MODE is http/1.1 (records mode: sends one inner GET and prints the inner
response) or atls-oscore / atls-cose (sends the connection-ID carrier and
prints the server's). Prints one JSON object on stdout.
"""
import json
import ssl
import sys
import urllib.request

url, ca, cert, key, mode = sys.argv[1:6]
keylog = sys.argv[6] if len(sys.argv) > 6 else None

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.load_verify_locations(ca)
ctx.load_cert_chain(cert, key)
ctx.set_alpn_protocols([mode])
if keylog:
    ctx.keylog_filename = keylog
incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
tls = ctx.wrap_bio(incoming, outgoing, server_hostname="registrar.example")
sid = None


def post(flight):
    """POSTs one flight and returns the answering flight (profile 1.1)."""
    global sid
    req = urllib.request.Request(url, data=flight, method="POST")
    req.add_header("Content-Type", "application/atls")
    if sid:
        req.add_header("Cookie", "atls=" + sid)
    with urllib.request.urlopen(req, timeout=30) as resp:
        if resp.status != 200 or resp.headers.get("Content-Type") != "application/atls":
            raise SystemExit("unexpected answer %d %s" % (resp.status, resp.headers))
        for value in resp.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            if name.strip() == "atls":
                sid = rest.split(";")[0]
        return resp.read()


while True:
    try:
        tls.do_handshake()
        break
    except ssl.SSLWantReadError:
        incoming.write(post(outgoing.read()))

result = {"protocol": tls.selected_alpn_protocol(), "cipher": tls.cipher()[0],
          "peer": tls.getpeercert()["subject"][0][0][1]}

if mode == "http/1.1":
    answer = post(outgoing.read())  # the Finished; the server answers nothing
    if answer:
        raise SystemExit("unexpected data after Finished")
    tls.write(b"POST /interop?x=1 HTTP/1.1\r\nHost: registrar.example\r\n"
              b"Content-Type: text/plain\r\nContent-Length: 7\r\n\r\nopenssl")
    incoming.write(post(outgoing.read()))
    data = b""
    while True:
        try:
            data += tls.read(65536)
        except ssl.SSLWantReadError:
            break
    result["inner_response"] = data.decode()
else:
    ext = 0xFFDC if mode == "atls-oscore" else 0xFFDD
    client_cid = bytes([0x01])
    tls.write(ext.to_bytes(2, "big") + bytes([len(client_cid)]) + client_cid)
    incoming.write(post(outgoing.read()))
    carrier = tls.read(3)
    n = carrier[2]
    server_cid = tls.read(n) if n else b""
    if int.from_bytes(carrier[:2], "big") != ext or len(server_cid) != n:
        raise SystemExit("bad server carrier %r" % carrier)
    result["server_cid"] = server_cid.hex()

print(json.dumps(result))
