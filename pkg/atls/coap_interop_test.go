package atls

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Interop with an independent CoAP implementation: libcoap's coap-client
// (Debian's libcoap3-bin, scripts/deps.sh) against Landfall's CoAP server.
// libcoap does the block-wise transfers in both directions and answers the
// Echo challenge itself; the payload is a real ClientHello, so the answer
// is the server's real first flight.

// coapClientBinary finds libcoap's client, skipping the test only when it
// is missing outside CI.
func coapClientBinary(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"coap-client-notls", "coap-client", "coap-client-openssl", "coap-client-gnutls"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("libcoap's coap-client is missing (scripts/deps.sh installs libcoap3-bin)")
	}
	t.Skip("libcoap's coap-client is not installed (apt-get install libcoap3-bin)")
	return ""
}

// runCoAPClient runs coap-client with args and returns its combined output.
func runCoAPClient(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("coap-client did not finish: %s", out)
	}
	if err != nil {
		t.Logf("coap-client exit: %v", err)
	}
	return string(out)
}

// logPDUs logs the message summaries of libcoap's debug output.
func logPDUs(t *testing.T, log string) {
	t.Helper()
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "v:1 ") {
			t.Log(line[:min(len(line), 300)])
		}
	}
}

var (
	libcoapLocation = regexp.MustCompile(`Location-Path:\.well-known, Location-Path:atls, Location-Path:([A-Za-z0-9_-]+)`)
	libcoapCreated  = regexp.MustCompile(`c:2\.01`)
)

func TestCoAPInteropLibcoapBlockwise(t *testing.T) {
	bin := coapClientBinary(t)
	h := newCoAPHarness(t, nil, CoAPConfig{})
	_, hello := h.clientHello(t, ProtoOSCORE)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "hello.bin"), filepath.Join(dir, "answer.bin")
	if err := os.WriteFile(in, hello, 0o600); err != nil {
		t.Fatal(err)
	}
	uri := fmt.Sprintf("coap://%s/.well-known/atls", h.addr)
	log := runCoAPClient(t, bin, "-m", "post", "-t", "65001", "-b", "64", "-f", in, "-o", out, "-U", "-v", "7", "-B", "30", uri)
	logPDUs(t, log)

	// Block1 in: libcoap sent the ClientHello in 64-byte blocks, after the
	// Echo challenge on block 0; Block2 out: the server's flight in
	// 64-byte blocks.
	if !libcoapCreated.MatchString(log) {
		t.Fatal("no 2.01 Created in libcoap's log")
	}
	m := libcoapLocation.FindStringSubmatch(log)
	if m == nil {
		t.Fatal("no Location-Path .well-known/atls/<sid> in libcoap's log")
	}
	if _, err := h.srv.sids.owner(m[1]); err != nil {
		t.Fatalf("Location-Path names %q, not a session id of this server: %v", m[1], err)
	}
	answer, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkFlight(answer); err != nil || answer[5] != 2 {
		t.Fatalf("answer of %d bytes is not a flight opening with a ServerHello: %v", len(answer), err)
	}
	if len(answer) <= 64 {
		t.Fatalf("answer of %d bytes did not need Block2", len(answer))
	}
	if h.tableCounts() != [2]int{1, 1} {
		t.Fatalf("table %v, want the one session in handshake", h.tableCounts())
	}
	if !bytes.Contains([]byte(log), []byte("Echo")) {
		t.Fatal("libcoap was not challenged with Echo")
	}
}

func TestCoAPInteropLibcoapTooLarge(t *testing.T) {
	bin := coapClientBinary(t)
	h := newCoAPHarness(t, nil, CoAPConfig{})
	_, hello := h.clientHello(t, ProtoOSCORE)
	dir := t.TempDir()
	in := filepath.Join(dir, "big.bin")
	if err := os.WriteFile(in, append(hello, make([]byte, MaxFlightSize)...), 0o600); err != nil {
		t.Fatal(err)
	}
	uri := fmt.Sprintf("coap://%s/.well-known/atls", h.addr)
	log := runCoAPClient(t, bin, "-m", "post", "-t", "65001", "-b", "1024", "-f", in, "-U", "-v", "7", "-B", "30", uri)
	logPDUs(t, log)
	if !regexp.MustCompile(`c:4\.13`).MatchString(log) {
		t.Fatal("no 4.13 in libcoap's log")
	}
	if h.tableCounts() != [2]int{0, 0} || h.coap.Stats().Incoming != 0 {
		t.Fatalf("state after 4.13: table %v, %+v", h.tableCounts(), h.coap.Stats())
	}
}
