package atls

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/plgd-dev/go-coap/v3/message/codes"
)

// Landfall's CoAP client against Landfall's CoAP server over UDP on
// loopback (profile 7), in both modes the binding offers (7.7).

func TestCoAPKeyExportHandshake(t *testing.T) {
	for _, bs := range []int{1024, 64} {
		t.Run(fmt.Sprintf("block%d", bs), func(t *testing.T) {
			h := newCoAPHarness(t, nil, CoAPConfig{})
			c := h.coapClient(ProtoOSCORE)
			c.BlockSize = bs // 64: every flight block-wise in both directions
			c.CID = []byte{0x01}
			sess, err := c.Handshake(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			ec := sess.Exported()
			if ec == nil || ec.Protocol != ProtoOSCORE {
				t.Fatalf("exported %+v", ec)
			}
			srvCtx := h.sink.get(ec.SenderID)
			if srvCtx == nil {
				t.Fatal("server stored no context under the client's Sender ID")
			}
			if !bytes.Equal(srvCtx.MasterSecret, ec.MasterSecret) || !bytes.Equal(srvCtx.MasterSalt, ec.MasterSalt) ||
				!bytes.Equal(srvCtx.SenderID, ec.RecipientID) {
				t.Fatal("server and client exported different contexts")
			}
			if got := h.tableCounts(); got != [2]int{0, 1} {
				t.Fatalf("table after the handshake %v, want no handshake and one session kept for retries", got)
			}
			if err := sess.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := h.tableCounts(); got != [2]int{0, 0} {
				t.Fatalf("table after DELETE %v", got)
			}
			if h.sink.len() != 0 {
				t.Fatal("DELETE left the exported context in the store")
			}
			st := h.coap.Stats()
			if st.Incoming != 0 {
				t.Fatalf("block-wise state left behind: %+v", st)
			}
			if bs == 64 && st.Outgoing == 0 {
				t.Fatal("no answer went out as Block2")
			}
		})
	}
}

func TestCoAPRecordsMode(t *testing.T) {
	h := newCoAPHarness(t, nil, CoAPConfig{BlockSize: 128})
	c := h.coapClient(ProtoRecords)
	c.BlockSize = 256 // the server asks for 128 with 2.31 (RFC 7959 2.3)
	sess, err := c.Handshake(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close(context.Background())
	hc := &http.Client{Transport: sess}
	body := strings.Repeat("x", 3000) // an inner request of several blocks
	resp, err := hc.Post("https://registrar.example/.well-known/brski/requestvoucher", "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	if want := "pledge-0001 POST /.well-known/brski/requestvoucher " + body; string(got) != want {
		t.Fatalf("inner answer %.80q", got)
	}
	if h.tableCounts() != [2]int{0, 1} {
		t.Fatalf("table %v", h.tableCounts())
	}
}

// A CoAP session lives in the Server's one table, next to HTTP sessions.
func TestCoAPSharesTheSessionTable(t *testing.T) {
	h := newCoAPHarness(t, nil, CoAPConfig{})
	viaHTTP, err := h.client(ProtoRecords).Handshake(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	viaCoAP, err := h.coapClient(ProtoRecords).Handshake(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if h.tableCounts() != [2]int{0, 2} {
		t.Fatalf("table %v, want both sessions", h.tableCounts())
	}
	viaCoAP.Close(context.Background())
	viaHTTP.Close(context.Background())
	if h.tableCounts() != [2]int{0, 0} {
		t.Fatalf("table %v after both DELETEs", h.tableCounts())
	}
}

// Over CoAP the server never offers atls-cose (7.7): a client offering
// only it gets no_application_protocol, though the HTTP binding serves it.
func TestCoAPNeverOffersCOSE(t *testing.T) {
	h := newCoAPHarness(t, nil, CoAPConfig{})
	_, err := h.coapClient(ProtoCOSE).Handshake(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no application protocol") {
		t.Fatalf("atls-cose over CoAP: %v", err)
	}
	if h.tableCounts() != [2]int{0, 0} {
		t.Fatalf("table %v after the refused handshake", h.tableCounts())
	}
	sess, err := h.client(ProtoCOSE).Handshake(context.Background())
	if err != nil {
		t.Fatalf("atls-cose over HTTP: %v", err)
	}
	sess.Close(context.Background())
}

// A pledge that is refused after the handshake (VerifyPeer) gets the
// error code and reason over CoAP, and nothing is stored.
func TestCoAPVerifyPeerRefusal(t *testing.T) {
	h := newCoAPHarness(t, func(c *ServerConfig) {
		c.VerifyPeer = func(context.Context, tls.ConnectionState) error { return errors.New("pledge not on the allow-list") }
	}, CoAPConfig{})
	_, err := h.coapClient(ProtoOSCORE).Handshake(context.Background())
	var se *CoAPStatusError
	if !errors.As(err, &se) || se.Code != codes.Forbidden || se.Reason != "pledge not on the allow-list" {
		t.Fatalf("refusal: %v", err)
	}
	if h.sink.len() != 0 || h.tableCounts() != [2]int{0, 0} {
		t.Fatalf("state after refusal: %d contexts, table %v", h.sink.len(), h.tableCounts())
	}
}

// A public prefix comes first in the resource path and in the Location-Path
// (7.1, 7.3); without it the resource is not found.
func TestCoAPPublicPrefix(t *testing.T) {
	h := newCoAPHarness(t, nil, CoAPConfig{Prefix: []string{"site-a"}})
	c := h.coapClient(ProtoOSCORE)
	if _, err := c.Handshake(context.Background()); err == nil {
		t.Fatal("handshake without the prefix succeeded")
	}
	c.Prefix = []string{"site-a"}
	carrier := newTestCarrier(t, c)
	_, hello := h.clientHello(t, ProtoOSCORE)
	if _, _, err := carrier.post(context.Background(), "", hello); err != nil {
		t.Fatal(err)
	}
	if len(carrier.location) != 4 || carrier.location[0] != "site-a" || carrier.location[1] != ".well-known" || carrier.location[2] != "atls" {
		t.Fatalf("Location-Path %q", carrier.location)
	}
	sess, err := c.Handshake(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// The location alone names the session (7.3): after NAT rebinding the
// pledge's next flight comes from another source, needs no Echo (7.6) and
// continues the session. A Block2 continuation, though, belongs to the
// source that asked (RFC 9175 3.3).
func TestCoAPLocationSurvivesRebinding(t *testing.T) {
	h := newCoAPHarness(t, nil, CoAPConfig{})
	before, after := h.raw(t), h.raw(t)
	before.verify()
	p, hello := h.clientHello(t, ProtoRecords)
	first := before.send(rawMsg{path: atlsPath, cf: &cfATLS, payload: hello})
	if first.code != codes.Created || first.block2 == nil || !first.block2.more {
		t.Fatalf("first flight: %v Block2 %+v", first.code, first.block2)
	}
	if a := after.send(rawMsg{path: atlsPath, cf: &cfATLS, block2: &blockOption{num: 1, szx: first.block2.szx}}); a.code != codes.RequestEntityIncomplete {
		t.Fatalf("another source continued the Block2 transfer: %v", a.code)
	}
	serverFlight := before.fetchRest(atlsPath, first)
	finished, _ := p.next(serverFlight)
	a := after.send(rawMsg{path: first.location, cf: &cfATLS, payload: finished})
	if a.code != codes.Changed || !a.contentFormat {
		t.Fatalf("flight from the new source: %v %q", a.code, a.payload)
	}
	if h.tableCounts() != [2]int{0, 1} {
		t.Fatalf("table %v, want the established session", h.tableCounts())
	}
}
