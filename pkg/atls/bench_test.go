package atls

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
)

// Handshake benchmarks: full mutually authenticated P-256 TLS 1.3
// handshakes, ATLS over loopback HTTP against direct crypto/tls over
// loopback TCP with the same certificates, in the same run. BENCHMARKS.md
// records the ratio.

func benchServerTLS(pki *testPKI) *tls.Config {
	return &tls.Config{
		Certificates:           []tls.Certificate{pki.server},
		ClientAuth:             tls.RequireAndVerifyClientCert,
		ClientCAs:              pki.pool,
		MinVersion:             tls.VersionTLS13,
		SessionTicketsDisabled: true,
	}
}

func BenchmarkHandshake(b *testing.B) {
	pki := newTestPKI(b)
	clientTLS := &tls.Config{
		Certificates: []tls.Certificate{pki.client},
		RootCAs:      pki.pool,
		ServerName:   "registrar.example",
		MinVersion:   tls.VersionTLS13,
	}

	b.Run("direct-tls", func(b *testing.B) {
		l, err := tls.Listen("tcp", "127.0.0.1:0", benchServerTLS(pki))
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				go func() {
					c.(*tls.Conn).Handshake()
					c.Close()
				}()
			}
		}()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c, err := tls.Dial("tcp", l.Addr().String(), clientTLS)
				if err != nil {
					b.Fatal(err)
				}
				c.Close()
			}
		})
	})

	for _, proto := range []string{ProtoRecords, ProtoOSCORE} {
		b.Run("atls-"+proto, func(b *testing.B) {
			srv, err := NewServer(ServerConfig{
				TLS:           benchServerTLS(pki),
				Sink:          discardSink{},
				CIDs:          &MemoryCIDs{},
				SessionKey:    testSessionKey,
				MaxHandshakes: 1 << 20,
				MaxSessions:   1 << 20,
				// One client address measures the server, not its limits.
				RateLimit:              RateLimit{PerSecond: -1},
				MaxHandshakesPerClient: -1,
			})
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Close()
			ts := httptest.NewServer(srv)
			defer ts.Close()
			tr := &http.Transport{MaxIdleConnsPerHost: 64}
			defer tr.CloseIdleConnections()
			c := &Client{URL: ts.URL, HTTP: &http.Client{Transport: tr}, TLS: clientTLS, Protocols: []string{proto}}
			ctx := context.Background()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.Handshake(ctx); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkSessionMemory measures what the server holds for a session still
// in handshake: after its ClientHello was answered, while it waits for the
// client's Finished. It reports bytes per session (heap and stacks).
func BenchmarkSessionMemory(b *testing.B) {
	const sessions = 2000
	pki := newTestPKI(b)
	cfg := benchServerTLS(pki)
	p := newRawPledge(b, &tls.Config{RootCAs: pki.pool, ServerName: "registrar.example", Certificates: []tls.Certificate{pki.client}})
	ch, _ := p.next(nil)
	for range b.N {
		srv, err := NewServer(ServerConfig{TLS: cfg, SessionKey: testSessionKey, MaxHandshakes: sessions, MaxSessions: sessions,
			RateLimit: RateLimit{PerSecond: -1}, MaxHandshakesPerClient: -1})
		if err != nil {
			b.Fatal(err)
		}
		before := heldMemory()
		for range sessions {
			rec := httptest.NewRecorder()
			req := newFlightRequest(ch, "")
			req.RemoteAddr = (&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}).String()
			srv.ServeHTTP(rec, req)
			if rec.Code != 200 {
				b.Fatalf("status %d", rec.Code)
			}
		}
		after := heldMemory()
		if st := srv.Stats(); st.Handshakes != sessions {
			b.Fatalf("stats %+v", st)
		}
		b.ReportMetric(float64(after-before)/sessions, "B/session")
		srv.Close()
	}
}

func heldMemory() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc + m.StackInuse)
}

type discardSink struct{}

func (discardSink) StoreContext(context.Context, *ExportedContext) error { return nil }
func (discardSink) DeleteContext(context.Context, []byte) error          { return nil }
