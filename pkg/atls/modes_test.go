package atls

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestRecordsModeMutualTLS(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	sess, err := h.client(ProtoRecords).Handshake(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close(ctx)
	if sess.Protocol() != ProtoRecords {
		t.Fatalf("protocol %q", sess.Protocol())
	}
	hc := &http.Client{Transport: sess}
	for i, body := range []string{"first", "", strings.Repeat("x", 20000)} {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, _ := http.NewRequest(http.MethodPost, "https://registrar.example/.well-known/est/simpleenroll?x=1", rd)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		got, _ := io.ReadAll(resp.Body)
		want := "pledge-0001 POST /.well-known/est/simpleenroll?x=1 " + body
		if resp.StatusCode != 200 || string(got) != want {
			t.Fatalf("request %d: %d %q, want %q", i, resp.StatusCode, trunc(got), trunc([]byte(want)))
		}
	}
	if st := h.srv.Stats(); st.Handshakes != 0 || st.Sessions != 1 {
		t.Fatalf("stats %+v after the handshake", st)
	}
}

func TestRecordsModeWithoutClientCertificate(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client() // no ALPN at all: records mode (profile 2.3)
	c.TLS.Certificates = nil
	sess, err := c.Handshake(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: sess}).Get("https://registrar.example/x")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(resp.Body); string(got) != "anonymous GET /x " {
		t.Fatalf("got %q", got)
	}
}

func TestKeyExportModes(t *testing.T) {
	for _, proto := range []string{ProtoOSCORE, ProtoCOSE} {
		for _, suite := range goSuites() {
			t.Run(proto+"/"+tls.CipherSuiteName(suite), func(t *testing.T) {
				h := newHarness(t, nil)
				c := h.client(proto)
				c.CID = []byte{0x01}
				sess, err := c.Handshake(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				ce := sess.Exported()
				if ce == nil || ce.Protocol != proto || ce.Suite.Suite != suite {
					t.Fatalf("client context %+v", ce)
				}
				se := h.sink.get(ce.SenderID)
				if se == nil {
					t.Fatalf("server stored no context for CID %x", ce.SenderID)
				}
				want := SuiteTable[suite]
				switch {
				case !bytes.Equal(ce.MasterSecret, se.MasterSecret) || len(ce.MasterSecret) != want.KeyLen:
					t.Fatal("master secrets differ or have the wrong length")
				case !bytes.Equal(ce.MasterSalt, se.MasterSalt) || len(ce.MasterSalt) != want.KeyLen:
					t.Fatal("master salts differ or have the wrong length")
				case bytes.Equal(ce.MasterSecret, ce.MasterSalt):
					t.Fatal("secret and salt are the same half")
				case !bytes.Equal(ce.SenderID, se.RecipientID) || !bytes.Equal(ce.RecipientID, se.SenderID):
					t.Fatalf("IDs not mirrored: client %x/%x server %x/%x", ce.SenderID, ce.RecipientID, se.SenderID, se.RecipientID)
				case !bytes.Equal(se.SenderID, []byte{1}):
					t.Fatalf("server Sender ID %x, want the client CID 01", se.SenderID)
				case !bytes.Equal(ce.ChannelBinding, se.ChannelBinding) || len(ce.ChannelBinding) != 32:
					t.Fatal("channel bindings differ")
				case len(se.PeerCertificates) != 1 || se.PeerCertificates[0].Subject.CommonName != "pledge-0001":
					t.Fatalf("server context peer %v", se.PeerCertificates)
				case !bytes.Equal(se.LocalCertificate, h.pki.server.Certificate[0]):
					t.Fatal("server context does not name the registrar certificate it presented")
				case !se.ExpiresAt.Equal(h.clock.Now().Add(DefaultLifetimes.Context)):
					t.Fatalf("context expires at %v", se.ExpiresAt)
				}
				// The TLS state is gone; the session answers only retries.
				if st := h.srv.Stats(); st.Handshakes != 0 {
					t.Fatalf("stats %+v", st)
				}
				if err := sess.Close(context.Background()); err != nil {
					t.Fatal(err)
				}
				if h.sink.len() != 0 {
					t.Fatal("DELETE left the exported context behind")
				}
			})
		}
	}
}

func TestServerPrefersItsOwnProtocolOrder(t *testing.T) {
	h := newHarness(t, nil)
	sess, err := h.client(ProtoRecords, ProtoCOSE, ProtoOSCORE).Handshake(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sess.Protocol() != ProtoOSCORE {
		t.Fatalf("server selected %q, want its first preference %q", sess.Protocol(), ProtoOSCORE)
	}
}

func TestNoCommonProtocolIsAnAlert(t *testing.T) {
	h := newHarness(t, func(c *ServerConfig) { c.Protocols = []string{ProtoRecords} })
	_, err := h.client(ProtoCOSE).Handshake(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no application protocol") {
		t.Fatalf("err = %v, want a no_application_protocol alert", err)
	}
	if st := h.srv.Stats(); st.Handshakes != 0 {
		t.Fatalf("stats %+v: the failed session still counts as in handshake", st)
	}
}

func trunc(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "..."
	}
	return string(b)
}

func TestProvisionalAcceptance(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client(ProtoOSCORE)
	c.TLS.RootCAs = nil // the pledge does not know the registrar yet
	if _, err := c.Handshake(context.Background()); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("unverifiable server accepted without Provisional: %v", err)
	}
	c.Provisional = true
	sess, err := c.Handshake(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	peer := sess.ConnectionState().PeerCertificates
	if len(peer) == 0 || !bytes.Equal(peer[0].Raw, h.pki.server.Certificate[0]) {
		t.Fatal("the registrar certificate was not handed to the caller")
	}
	if !bytes.Equal(sess.Exported().PeerCertificates[0].Raw, peer[0].Raw) {
		t.Fatal("exported context lacks the server certificate")
	}
}
