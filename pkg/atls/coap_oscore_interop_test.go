package atls

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message/codes"

	"github.com/landfall-io/landfall/pkg/oscore"
)

// OSCORE interop with an independent implementation (profile 7.8):
// libcoap 4.3.4's coap-client and coap-server, Debian 13's OpenSSL build
// (scripts/libcoap-oscore.sh installs them beside the system's libcoap,
// which has no OSCORE). The security context comes from a real key-export
// handshake over CoAP: Landfall's exporter gives the Master Secret, Master
// Salt and both IDs, and each side derives its keys itself (RFC 8613 3.2).
//
// libcoap's OSCORE has one AEAD, AES-CCM-16-64-128, which profile 4.5 maps
// from TLS_AES_128_CCM_8_SHA256; crypto/tls negotiates only the GCM and
// ChaCha20 suites, whose AEADs libcoap lacks. So both sides use the
// handshake's exported secrets with AES-CCM-16-64-128 (same 16-byte key
// length as the A128GCM the handshake picked): the key derivation, the
// 13-byte nonce, the AAD, the OSCORE option, the inner message and its
// option classes, the replay window and the outer CoAP are cross-checked;
// the GCM and ChaCha20 primitives are Go's, checked by the profile vectors.

// libcoapOSCORE finds libcoap's OSCORE-capable client or server, skipping
// the test only when it is missing outside CI.
func libcoapOSCORE(t *testing.T, role string) string {
	t.Helper()
	dir := os.Getenv("LANDFALL_LIBCOAP_OSCORE")
	if dir == "" {
		dir = "/opt/landfall/libcoap-oscore"
	}
	bin := filepath.Join(dir, "bin", "coap-"+role+"-oscore")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is missing (scripts/libcoap-oscore.sh installs it)", bin)
	}
	t.Skipf("%s is not installed (run scripts/libcoap-oscore.sh as root)", bin)
	return ""
}

// interopContext runs a key-export handshake over CoAP and rewrites the
// server's stored context to libcoap's AEAD, dropping the keys the server
// cached at the export. It returns the client's parameters.
func interopContext(t *testing.T, h *coapHarness, store *oscore.MemoryStore) oscore.Params {
	t.Helper()
	sess := oscoreSession(t, h, 1024)
	p := sess.Exported().Params()
	if len(p.MasterSecret) != 16 || p.HKDF != oscore.HKDFSHA256 || p.IDContext != nil {
		t.Fatalf("exported %v with a %d-byte secret; the test needs a 16-byte key and HKDF-SHA-256", p.AEAD, len(p.MasterSecret))
	}
	ctx := context.Background()
	sc, err := store.Get(ctx, p.SenderID)
	if err != nil {
		t.Fatal(err)
	}
	sc.Params.AEAD = oscore.AESCCM16_64_128
	if err := store.Delete(ctx, p.SenderID); err != nil {
		t.Fatal(err)
	}
	if err := store.Put(ctx, sc); err != nil {
		t.Fatal(err)
	}
	h.srv.contexts.drop(p.SenderID)
	p.AEAD = oscore.AESCCM16_64_128
	return p
}

// writeLibcoapConf writes a coap-oscore-conf(5) file for the endpoint
// whose parameters are p.
func writeLibcoapConf(t *testing.T, p oscore.Params) string {
	t.Helper()
	conf := fmt.Sprintf(`master_secret,hex,"%x"
master_salt,hex,"%x"
sender_id,hex,"%x"
recipient_id,hex,"%x"
replay_window,integer,32
aead_alg,integer,%d
hkdf_alg,integer,-10
`, p.MasterSecret, p.MasterSalt, p.SenderID, p.RecipientID, p.AEAD)
	path := filepath.Join(t.TempDir(), "oscore.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// swapped is the other endpoint's parameters.
func swapped(p oscore.Params) oscore.Params {
	p.SenderID, p.RecipientID = p.RecipientID, p.SenderID
	return p
}

// countingOSCOREHarness is newOSCORECoAPHarness whose inner handler
// counts the requests it ran.
func countingOSCOREHarness(t *testing.T) (*coapHarness, *oscore.MemoryStore, *atomic.Int32) {
	t.Helper()
	store := &oscore.MemoryStore{}
	ran := new(atomic.Int32)
	h := newCoAPHarness(t, func(c *ServerConfig) {
		c.Sink, c.Contexts = nil, store
		inner := c.Handler
		c.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ran.Add(1)
			inner.ServeHTTP(w, r)
		})
	}, CoAPConfig{})
	store.Now = h.clock.Now
	return h, store, ran
}

func TestCoAPOSCOREInteropLibcoapClient(t *testing.T) {
	bin := libcoapOSCORE(t, "client")
	h, store, ran := countingOSCOREHarness(t)
	p := interopContext(t, h, store)
	conf := writeLibcoapConf(t, p)
	uri := fmt.Sprintf("coap://%s/.well-known/brski/vs?n=1", h.addr)
	send := func(conf string) string {
		return runCoAPClient(t, bin, "-E", conf, "-m", "post", "-t", "60", "-e", "status", "-v", "7", "-B", "30", uri)
	}

	log := send(conf)
	logPDUs(t, log)
	if want := "pledge-0001 POST /.well-known/brski/vs?n=1 status"; !strings.Contains(log, want) {
		t.Fatalf("libcoap did not print the registrar's answer %q", want)
	}
	if !strings.Contains(log, "Decrypted PDU") || !strings.Contains(log, "c:2.04") {
		t.Fatal("libcoap's log shows no protected 2.04 it decrypted")
	}
	if ran.Load() != 1 || !window(t, store, p.SenderID).Seen(0) {
		t.Fatalf("handler ran %d times; Partial IV 0 marked: %v", ran.Load(), window(t, store, p.SenderID).Seen(0))
	}

	// libcoap fragments a large request inside OSCORE (inner Block1,
	// Class E); profile 7.8 uses outer Block1 only, so the registrar
	// answers the unsupported critical option a protected 4.02 Bad Option
	// (RFC 7252 5.4.1), which libcoap decrypts, without running the
	// handler.
	seq := filepath.Join(t.TempDir(), "seq")
	if err := os.WriteFile(seq, []byte("10\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	log = runCoAPClient(t, bin, "-E", conf+","+seq, "-m", "post", "-b", "64", "-e", strings.Repeat("b", 300), "-v", "7", "-B", "30", uri)
	logPDUs(t, log)
	if !strings.Contains(log, "c:4.02") || !strings.Contains(log, "unsupported critical option 27") {
		t.Fatal("an inner Block1 was not answered a protected 4.02 Bad Option")
	}
	if ran.Load() != 1 || !window(t, store, p.SenderID).Seen(10) {
		t.Fatalf("inner Block1: handler ran %d times", ran.Load())
	}

	// The same context from sequence number 0 again: libcoap's request
	// reuses Partial IV 0, and the registrar refuses it unprotected.
	log = send(conf)
	logPDUs(t, log)
	if !strings.Contains(log, "4.01") || !strings.Contains(log, oscore.ErrReplay.Error()) {
		t.Fatal("a replayed Partial IV was not refused 4.01 Replay detected")
	}
	if ran.Load() != 1 {
		t.Fatalf("the replay ran the handler: %d runs", ran.Load())
	}

	// A client whose Master Secret differs, from sequence number 5 (a
	// Partial IV not yet seen; libcoap's sequence file holds the next
	// number): its request does not decrypt, is refused 4.00 Decryption
	// failed, and marks nothing.
	wrong := p
	wrong.MasterSecret = append([]byte(nil), p.MasterSecret...)
	wrong.MasterSecret[0] ^= 1
	seq = filepath.Join(t.TempDir(), "seq")
	if err := os.WriteFile(seq, []byte("5\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	log = runCoAPClient(t, bin, "-E", writeLibcoapConf(t, wrong)+","+seq, "-m", "post", "-e", "x", "-v", "7", "-B", "30",
		fmt.Sprintf("coap://%s/.well-known/brski/vs", h.addr))
	logPDUs(t, log)
	if !strings.Contains(log, "pIV=0x05") || !strings.Contains(log, "4.00") || !strings.Contains(log, "Decryption failed") {
		t.Fatal("a request under another Master Secret was not refused 4.00 Decryption failed")
	}
	if ran.Load() != 1 || window(t, store, p.SenderID).Seen(5) {
		t.Fatal("a request that did not decrypt changed state")
	}
}

// libcoapServer runs libcoap's coap-server with OSCORE on a loopback port
// and returns its address once it listens, and its log.
func libcoapServer(t *testing.T, bin, conf string) (string, func() string) {
	t.Helper()
	l, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.LocalAddr().(*net.UDPAddr).Port
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-A", "127.0.0.1", "-p", fmt.Sprint(port), "-E", conf, "-v", "7")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	var mu sync.Mutex
	var log strings.Builder
	listening := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			mu.Lock()
			log.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if strings.Contains(sc.Text(), fmt.Sprintf("created UDP  endpoint 127.0.0.1:%d", port)) {
				close(listening)
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		<-done
	})
	logs := func() string {
		mu.Lock()
		defer mu.Unlock()
		return log.String()
	}
	select {
	case <-listening:
	case <-done:
		t.Fatalf("coap-server exited:\n%s", logs())
	case <-time.After(30 * time.Second):
		t.Fatalf("coap-server did not listen:\n%s", logs())
	}
	return fmt.Sprintf("127.0.0.1:%d", port), logs
}

func TestCoAPOSCOREInteropLibcoapServer(t *testing.T) {
	bin := libcoapOSCORE(t, "server")
	h, store := newOSCORECoAPHarness(t, nil, CoAPConfig{})
	p := interopContext(t, h, store)
	addr, logs := libcoapServer(t, bin, writeLibcoapConf(t, swapped(p)))
	defer func() {
		if t.Failed() {
			t.Log(logs())
		}
	}()

	// Landfall's client side of 7.8 (coapOSCORETransport) with the
	// exported context, to libcoap's resources instead of the registrar's.
	cc, err := (&CoAPClient{Addr: addr, ExchangeTimeout: 20 * time.Second}).dial()
	if err != nil {
		t.Fatal(err)
	}
	defer cc.conn.Close()
	c, err := oscore.NewContext(p)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: &coapOSCORETransport{carrier: cc, ctx: c}}
	do := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, "coap://"+addr+path, strings.NewReader(body))
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		got, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(got)
	}
	payload := "landfall " + hex.EncodeToString(p.SenderID)
	if code, _ := do(http.MethodPut, "/example_data", payload); code != http.StatusCreated && code != http.StatusNoContent {
		t.Fatalf("PUT /example_data: %d", code)
	}
	if code, got := do(http.MethodGet, "/example_data", ""); code != http.StatusOK || got != payload {
		t.Fatalf("GET /example_data: %d %q, want 200 %q", code, got, payload)
	}
	// libcoap keeps no replay window across restarts (RFC 8613 B.1.2):
	// it challenged the first request with Echo, which the transport
	// answered under a new Partial IV.
	if l := logs(); !strings.Contains(l, "Decrypted PDU") || !strings.Contains(l, "Echo:") {
		t.Fatal("libcoap's log shows no Echo challenge and no request it decrypted")
	}

	// A request under Partial IV 0 again: libcoap refuses the replay with
	// an unprotected 4.01, which the transport reports as such.
	c.SetSequence(0)
	req, _ := http.NewRequest(http.MethodGet, "coap://"+addr+"/example_data", nil)
	_, err = hc.Do(req)
	var se *CoAPStatusError
	if !errors.As(err, &se) || se.Code != codes.Unauthorized || !strings.Contains(se.Reason, "Replay") {
		t.Fatalf("a replayed Partial IV got %v, want 4.01 Replay detected", err)
	}
}
