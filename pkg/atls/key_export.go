package atls

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"sync"
	"time"
)

// This file implements key export (profile 4.3-4.6, draft sections 9-11):
// the ALPN protocols, the suite table, TLS-Exporter into Master Secret and
// Salt, the exported context and the CID allocator.

// Application-layer protocols (profile 2.3).
const (
	ProtoOSCORE  = "atls-oscore" // architecture 2, OSCORE (profile 5)
	ProtoCOSE    = "atls-cose"   // architecture 2, COSE_Encrypt0 (profile 6)
	ProtoRecords = "http/1.1"    // architecture 1, inner HTTP/1.1 in records (profile 3)
)

// DefaultProtocols is the server's default preference order (profile 2.3).
var DefaultProtocols = []string{ProtoOSCORE, ProtoCOSE, ProtoRecords}

// ChannelBindingLabel is the RFC 9266 tls-exporter label; its 32-byte output
// is kept with every exported context (profile 4.6).
const ChannelBindingLabel = "EXPORTER-Channel-Binding"

// SuiteParams is one row of the draft's section 10 table: how a TLS cipher
// suite maps to the COSE AEAD and HKDF hash of the exported context.
type SuiteParams struct {
	Suite    uint16
	AEAD     int         // COSE algorithm identifier
	Hash     crypto.Hash // HKDF hash
	KeyLen   int         // L: master secret and salt length
	NonceLen int         // AEAD nonce length; IDs are at most NonceLen-6 bytes
}

// MaxIDLen is the longest Sender or Recipient ID the AEAD's nonce allows
// (RFC 8613 5.2, profile 4.3).
func (p SuiteParams) MaxIDLen() int { return p.NonceLen - 6 }

// SuiteTable maps every TLS 1.3 suite to its exported-context parameters
// (draft section 10, profile 4.5). Go implements the first three; the CCM
// suites are listed for peers that negotiate them.
var SuiteTable = map[uint16]SuiteParams{
	tls.TLS_AES_128_GCM_SHA256:             {tls.TLS_AES_128_GCM_SHA256, 1, crypto.SHA256, 16, 12},
	tls.TLS_AES_256_GCM_SHA384:             {tls.TLS_AES_256_GCM_SHA384, 3, crypto.SHA384, 32, 12},
	tls.TLS_CHACHA20_POLY1305_SHA256:       {tls.TLS_CHACHA20_POLY1305_SHA256, 24, crypto.SHA256, 32, 12},
	0x1305 /* TLS_AES_128_CCM_8_SHA256 */ : {0x1305, 10, crypto.SHA256, 16, 13},
	0x1304 /* TLS_AES_128_CCM_SHA256 */ :   {0x1304, 30, crypto.SHA256, 16, 13},
}

// ExportedContext is what a key-export handshake leaves behind (profile 4.4
// and 4.6): the inputs of the OSCORE/COSE key schedule, from the point of
// view of the side that holds it, and the identity the handshake proved.
type ExportedContext struct {
	Protocol     string // ProtoOSCORE or ProtoCOSE
	Suite        SuiteParams
	MasterSecret []byte
	MasterSalt   []byte
	SenderID     []byte
	RecipientID  []byte
	// PeerCertificates is the peer's verified chain (the pledge's IDevID
	// first, on the server). Empty when the peer presented none.
	PeerCertificates []*x509.Certificate
	// LocalCertificate is the DER certificate this side presented; for the
	// server it is the registrar certificate BRSKI's proximity check needs.
	LocalCertificate []byte
	// ChannelBinding is the RFC 9266 tls-exporter value of the handshake.
	ChannelBinding []byte
	CreatedAt      time.Time
	ExpiresAt      time.Time
}

// ContextSink receives the contexts a server exports, keyed by the server's
// Recipient ID (its CID). The registrar stores them in PostgreSQL.
type ContextSink interface {
	StoreContext(ctx context.Context, ec *ExportedContext) error
	DeleteContext(ctx context.Context, recipientID []byte) error
}

// CIDAllocator hands out server connection IDs unique across every live
// OSCORE and COSE context of the deployment (profile 4.3).
type CIDAllocator interface {
	// AllocateCID returns a fresh CID of 1 to maxLen bytes.
	AllocateCID(ctx context.Context, maxLen int) ([]byte, error)
	// ReleaseCID makes a CID available again.
	ReleaseCID(ctx context.Context, cid []byte) error
}

// ContextCIDReleaser is a CIDAllocator that also keeps the contexts, so
// that releasing a CID deletes the context stored under it too (the
// registrar's ctxstore: a context row references its CID, ON DELETE
// CASCADE). When the server's CIDs is one and its Sink is the default
// StoreSink over that same store, the end of a session releases the CID
// alone: one call instead of DeleteContext followed by ReleaseCID of the
// same id, which found nothing left to delete.
type ContextCIDReleaser interface {
	CIDAllocator
	ReleaseCIDDeletesContext() bool
}

// exportKeys runs TLS-Exporter(label, no context, 2L) and splits its output
// into Master Secret [0, L) and Master Salt [L, 2L) (profile 4.4).
func exportKeys(cs *tls.ConnectionState, label string) (secret, salt []byte, p SuiteParams, err error) {
	p, ok := SuiteTable[cs.CipherSuite]
	if !ok {
		return nil, nil, p, fmt.Errorf("atls: no key-export mapping for cipher suite %#04x", cs.CipherSuite)
	}
	km, err := cs.ExportKeyingMaterial(label, nil, 2*p.KeyLen)
	if err != nil {
		return nil, nil, p, fmt.Errorf("atls: export keying material: %w", err)
	}
	return km[:p.KeyLen], km[p.KeyLen:], p, nil
}

func channelBinding(cs *tls.ConnectionState) ([]byte, error) {
	return cs.ExportKeyingMaterial(ChannelBindingLabel, nil, 32)
}

// MemoryCIDs is a CIDAllocator for a single server: random CIDs, unique
// among those it handed out and has not released.
type MemoryCIDs struct {
	// Len is the CID length, capped by the AEAD's limit; 0 means 4.
	Len  int
	mu   sync.Mutex
	used map[string]struct{}
}

// AllocateCID implements CIDAllocator.
func (m *MemoryCIDs) AllocateCID(_ context.Context, maxLen int) ([]byte, error) {
	n := m.Len
	if n == 0 {
		n = 4
	}
	n = min(n, maxLen)
	if n < 1 {
		return nil, fmt.Errorf("atls: no room for a connection ID")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.used == nil {
		m.used = make(map[string]struct{})
	}
	for range 64 {
		cid := make([]byte, n)
		if _, err := rand.Read(cid); err != nil {
			return nil, err
		}
		if _, dup := m.used[string(cid)]; !dup {
			m.used[string(cid)] = struct{}{}
			return cid, nil
		}
	}
	return nil, fmt.Errorf("atls: connection-ID space of %d bytes exhausted", n)
}

// ReleaseCID implements CIDAllocator.
func (m *MemoryCIDs) ReleaseCID(_ context.Context, cid []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.used, string(cid))
	return nil
}
