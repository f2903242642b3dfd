package atls

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/landfall-io/landfall/pkg/oscore"
)

// DefaultPath is the well-known ATLS resource (draft section 8).
const DefaultPath = "/.well-known/atls"

// MaxFlightSize is the largest request body the server accepts (profile 1.5).
const MaxFlightSize = 64 << 10

// Content types of the HTTP binding (profile 1, 5, 6).
const (
	ContentTypeATLS   = "application/atls"
	ContentTypeOSCORE = "application/oscore"
	ContentTypeCOSE   = "application/cose"
)

// Lifetimes are the timers of profile 1.9.
type Lifetimes struct {
	HandshakeIdle  time.Duration // since the last flight of a session in handshake (30 s)
	HandshakeTotal time.Duration // since its ClientHello (60 s)
	RecordsIdle    time.Duration // an established records-mode session (5 min)
	Context        time.Duration // an exported OSCORE/COSE context (24 h)
}

// DefaultLifetimes are the profile's values.
var DefaultLifetimes = Lifetimes{
	HandshakeIdle:  30 * time.Second,
	HandshakeTotal: 60 * time.Second,
	RecordsIdle:    5 * time.Minute,
	Context:        24 * time.Hour,
}

// RateLimit bounds how fast one client may open new sessions.
type RateLimit struct {
	PerSecond float64 // sustained rate; 0 disables the limit
	Burst     int     // bucket size
	// MaxClients bounds the number of client addresses tracked at once.
	MaxClients int
}

// ServerConfig configures a Server. TLS and Handler are required.
type ServerConfig struct {
	// TLS holds the server certificate and client-authentication policy
	// (profile 2.2). The server forces TLS 1.3, sets NextProtos from
	// Protocols and disables session tickets (profile 2.4).
	TLS *tls.Config
	// Handler serves inner requests, in records mode and (with a context
	// store) protected requests. It sees the pledge's certificates in r.TLS.
	Handler http.Handler
	// Protocols is the ALPN preference order (profile 2.3); default
	// DefaultProtocols, less the key-export modes when Sink is nil.
	Protocols []string
	// Contexts is where exported contexts live and where protected
	// requests (application/oscore, application/cose) find them. With it
	// set, Sink defaults to StoreSink{Contexts}.
	Contexts oscore.ContextStore
	// Sink and CIDs receive exported contexts and allocate server CIDs;
	// both are required for the key-export modes.
	Sink ContextSink
	CIDs CIDAllocator

	// SessionKey authenticates session ids; every replica shares it.
	SessionKey []byte
	// ReplicaID names this server in the session ids it mints.
	ReplicaID string
	// Forwarder, when set, takes POSTs and DELETEs for sessions another
	// replica owns. Without one, such requests get 404.
	Forwarder Forwarder

	// Path is the public path of the ATLS resource, used as the cookie
	// Path; default DefaultPath. SecureCookie adds the Secure attribute
	// (set it when the public URL is https).
	Path         string
	SecureCookie bool

	// MaxHandshakes caps sessions still in handshake (503 beyond it);
	// MaxSessions caps all sessions held. Defaults 1024 and 16384.
	MaxHandshakes int
	MaxSessions   int
	// RetryAfter is sent with 503 when full; default 1 s.
	RetryAfter time.Duration

	RateLimit RateLimit
	// TrustedProxies lists the addresses whose X-Forwarded-For header is
	// believed when keying the rate limit.
	TrustedProxies []netip.Prefix

	Lifetimes Lifetimes
	// FlightTimeout bounds the processing of one POST, inner handler
	// included; default 60 s.
	FlightTimeout time.Duration

	// Now is the clock; default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

func (c *ServerConfig) withDefaults() (ServerConfig, error) {
	cfg := *c
	if cfg.TLS == nil || (len(cfg.TLS.Certificates) == 0 && cfg.TLS.GetCertificate == nil) {
		return cfg, errors.New("atls: ServerConfig.TLS needs a server certificate")
	}
	if cfg.Sink == nil && cfg.Contexts != nil {
		cfg.Sink = StoreSink{Store: cfg.Contexts}
	}
	if cfg.Handler == nil {
		cfg.Handler = http.NotFoundHandler()
	}
	if len(cfg.Protocols) == 0 {
		for _, p := range DefaultProtocols {
			if p != ProtoRecords && cfg.Sink == nil {
				continue
			}
			cfg.Protocols = append(cfg.Protocols, p)
		}
	}
	for _, p := range cfg.Protocols {
		switch p {
		case ProtoOSCORE, ProtoCOSE:
			if cfg.Sink == nil || cfg.CIDs == nil {
				return cfg, errors.New("atls: key-export protocols need a ContextSink and a CIDAllocator")
			}
		case ProtoRecords:
		default:
			return cfg, errors.New("atls: unknown protocol " + p)
		}
	}
	if len(cfg.ReplicaID) > MaxOwnerIDLen {
		return cfg, errors.New("atls: ReplicaID too long")
	}
	if cfg.Path == "" {
		cfg.Path = DefaultPath
	}
	if cfg.MaxHandshakes == 0 {
		cfg.MaxHandshakes = 1024
	}
	if cfg.MaxSessions == 0 {
		cfg.MaxSessions = 16384
	}
	if cfg.RetryAfter == 0 {
		cfg.RetryAfter = time.Second
	}
	if cfg.RateLimit.MaxClients == 0 {
		cfg.RateLimit.MaxClients = 65536
	}
	if cfg.Lifetimes == (Lifetimes{}) {
		cfg.Lifetimes = DefaultLifetimes
	}
	if cfg.FlightTimeout == 0 {
		cfg.FlightTimeout = 60 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg, nil
}

// serverTLSConfig derives the TLS configuration the engine runs with.
func serverTLSConfig(base *tls.Config, protos []string) *tls.Config {
	t := base.Clone()
	t.MinVersion = tls.VersionTLS13
	t.MaxVersion = tls.VersionTLS13
	t.NextProtos = append([]string(nil), protos...)
	t.SessionTicketsDisabled = true
	return t
}
