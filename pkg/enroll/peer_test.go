package enroll

import (
	"crypto/tls"
	"crypto/x509"
	"net/http/httptest"
	"testing"
)

func TestPeerFromRequest(t *testing.T) {
	p := newTestPKI(t)
	chain, _ := p.idevid(t, "SN-PEER")
	other, _ := p.idevid(t, "SN-OTHER")
	tests := []struct {
		name string
		tls  *tls.ConnectionState
		ctx  *Peer
		want *x509.Certificate
	}{
		{"none", nil, nil, nil},
		{"verified chain", &tls.ConnectionState{Version: tls.VersionTLS13, PeerCertificates: other, VerifiedChains: [][]*x509.Certificate{chain}}, nil, chain[0]},
		{"peer certificates (ATLS inner session verified them)", &tls.ConnectionState{Version: tls.VersionTLS13, PeerCertificates: chain}, nil, chain[0]},
		{"context wins", tlsState(other), &Peer{Chain: chain}, chain[0]},
		{"context without chain still wins", tlsState(other), &Peer{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.TLS = tt.tls
			if tt.ctx != nil {
				r = r.WithContext(WithPeer(r.Context(), *tt.ctx))
			}
			got := PeerFromRequest(r)
			if got.Leaf() != tt.want {
				t.Fatalf("leaf %v, want %v", got.Leaf(), tt.want)
			}
			// A hand-built ConnectionState has no exporter.
			if got.ChannelBinding != nil {
				t.Fatal("channel binding from a hand-built state")
			}
		})
	}
	if TLSExporter(&tls.ConnectionState{Version: tls.VersionTLS12}) != nil {
		t.Fatal("tls-exporter on TLS 1.2")
	}
}
