package atls

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"time"

	"github.com/landfall-io/landfall/pkg/oscore"
)

// This file holds the server configuration: lifetimes (profile 1.9), rate
// limits and size caps (1.5), the TLS profile (2) and the key-export sinks
// (4).

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

// RateLimit bounds how fast one client address may open new sessions
// (profile 1.5: 429 with Retry-After). It is on by default: the zero value
// means DefaultRateLimit.
type RateLimit struct {
	// PerSecond is the sustained rate of new sessions per client address:
	// 0 means DefaultRateLimit.PerSecond, a negative value disables the
	// limit.
	PerSecond float64
	// Burst is the bucket size; 0 means twice PerSecond (at least 1).
	Burst int
	// MaxClients bounds the number of client addresses tracked at once;
	// default 65536.
	MaxClients int
}

// DefaultRateLimit is the per-client limit of a zero RateLimit: 100 new
// sessions per second per client address, bursts of 200. A pledge needs
// one handshake per onboarding (and one more when its context expired),
// so only floods and very large NATs meet it.
var DefaultRateLimit = RateLimit{PerSecond: 100, Burst: 200, MaxClients: 65536}

// DefaultMaxHandshakes is the default of ServerConfig.MaxHandshakes.
const DefaultMaxHandshakes = 1024

// DefaultMaxHandshakesPerClient is the default of
// ServerConfig.MaxHandshakesPerClient.
const DefaultMaxHandshakesPerClient = 64

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
	// MaxHandshakesPerClient caps the sessions still in handshake that one
	// client address (the rate-limit key) holds at once: beyond it that
	// client gets 429 with Retry-After while others are served, so that a
	// replayed ClientHello cannot fill MaxHandshakes. Default
	// DefaultMaxHandshakesPerClient (64); negative disables the cap.
	MaxHandshakesPerClient int
	// RetryAfter is sent with 503 when full; default 1 s.
	RetryAfter time.Duration

	// RateLimit limits new sessions per client address; the zero value is
	// DefaultRateLimit, PerSecond < 0 disables it.
	RateLimit RateLimit
	// TrustedProxies lists the addresses whose X-Forwarded-For header is
	// believed when keying the rate limit and the per-client handshake
	// cap (the load balancers, never 0.0.0.0/0), and whose
	// X-Forwarded-Proto https makes the session cookie Secure.
	TrustedProxies []netip.Prefix

	// VerifyPeer, when set, is called once the inner TLS handshake is
	// complete (the client certificate is known), before a key-export
	// context is stored or a records-mode session is established. An
	// error refuses the peer: nothing is stored, the session ends and the
	// answer is an HTTP error (profile 1.5) with the error's StatusCode()
	// (default 403), its RetryAfter() when it has one, and its text as the
	// reason. It is an authorization decision taken after a successful
	// handshake, answered like the carrier errors of profile 4.1 rather
	// than with a TLS alert (1.6), which could carry neither a reason nor a
	// Retry-After.
	VerifyPeer func(ctx context.Context, cs tls.ConnectionState) error

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
		cfg.MaxHandshakes = DefaultMaxHandshakes
	}
	if cfg.MaxSessions == 0 {
		cfg.MaxSessions = 16384
	}
	if cfg.MaxHandshakesPerClient == 0 {
		cfg.MaxHandshakesPerClient = DefaultMaxHandshakesPerClient
	}
	if cfg.RetryAfter == 0 {
		cfg.RetryAfter = time.Second
	}
	cfg.RateLimit = cfg.RateLimit.WithDefaults()
	cfg.Lifetimes = cfg.Lifetimes.withDefaults()
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

// WithDefaults fills in DefaultRateLimit for zero fields: the limit a
// server configured with l enforces.
func (l RateLimit) WithDefaults() RateLimit {
	if l.PerSecond == 0 {
		l.PerSecond = DefaultRateLimit.PerSecond
		if l.Burst == 0 {
			l.Burst = DefaultRateLimit.Burst
		}
	}
	if l.Burst == 0 {
		l.Burst = max(1, int(math.Ceil(2*l.PerSecond)))
	}
	if l.MaxClients == 0 {
		l.MaxClients = DefaultRateLimit.MaxClients
	}
	return l
}

// withDefaults fills in each zero lifetime from DefaultLifetimes, so that
// setting one of them (say Context) keeps the profile's other timers.
func (l Lifetimes) withDefaults() Lifetimes {
	if l.HandshakeIdle == 0 {
		l.HandshakeIdle = DefaultLifetimes.HandshakeIdle
	}
	if l.HandshakeTotal == 0 {
		l.HandshakeTotal = DefaultLifetimes.HandshakeTotal
	}
	if l.RecordsIdle == 0 {
		l.RecordsIdle = DefaultLifetimes.RecordsIdle
	}
	if l.Context == 0 {
		l.Context = DefaultLifetimes.Context
	}
	return l
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
