package store_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/landfall-io/landfall/internal/registrar/store"
	"github.com/landfall-io/landfall/internal/testkit"
)

func TestSessions(t *testing.T) { testkit.EachBackend(t, tSessions) }

func tSessions(t *testing.T, backend testkit.Backend) {
	s, pool, _ := newStore(t, backend)
	ctx := context.Background()
	peer := selfSigned(t, "pledge A-1")
	for _, c := range []struct {
		rid     []byte
		expires time.Time
		chain   [][]byte
	}{
		{[]byte{0x0a}, testStart.Add(time.Hour), [][]byte{peer}},
		{[]byte{0x0b, 0x01}, testStart.Add(time.Hour), nil},
		{[]byte{0x0c}, testStart.Add(-time.Second), nil}, // expired
	} {
		if _, err := pool.Exec(ctx, `INSERT INTO atls_cids (cid, replica, expires_at) VALUES ($1, 'r1', $2)`, c.rid, c.expires); err != nil {
			t.Fatal(err)
		}
		if c.chain == nil {
			c.chain = [][]byte{}
		}
		_, err := pool.Exec(ctx, `INSERT INTO atls_contexts (recipient_id, sender_id, protocol, tls_suite, aead, hkdf,
			secret_sealed, peer_chain, created_at, expires_at) VALUES ($1, '\x01', 'atls-oscore', $2, 10, 'SHA-256', '\xdeadbeef', $3, $4, $5)`,
			c.rid, int(tls.TLS_AES_128_GCM_SHA256), c.chain, testStart.Add(-time.Minute), c.expires)
		if err != nil {
			t.Fatal(err)
		}
	}
	p1, err := s.Contexts(ctx, 1, "")
	if err != nil || len(p1.Items) != 1 || p1.Next == "" {
		t.Fatalf("first page: %+v %v", p1, err)
	}
	p2, err := s.Contexts(ctx, 1, p1.Next)
	if err != nil || len(p2.Items) != 1 || p2.Next != "" {
		t.Fatalf("second page: %+v %v", p2, err)
	}
	c := p1.Items[0]
	if c.RecipientID != "0a" || c.Protocol != "atls-oscore" || c.Suite != "TLS_AES_128_GCM_SHA256" || c.PeerSubject != "CN=pledge A-1" || !c.ExpiresAt.Equal(testStart.Add(time.Hour)) {
		t.Errorf("context: %+v", c)
	}
	if p2.Items[0].RecipientID != "0b01" || p2.Items[0].PeerSubject != "" {
		t.Errorf("second context: %+v", p2.Items[0])
	}
	b, _ := json.Marshal(p1)
	if strings.Contains(string(b), "deadbeef") || strings.Contains(string(b), "3q2+7w") {
		t.Errorf("the sealed secret leaked: %s", b)
	}

	if rs, err := s.Replicas(ctx); err != nil || len(rs) != 0 {
		t.Errorf("no replicas: %+v %v", rs, err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO replicas (id, internal_url, started_at, heartbeat_at) VALUES ('r2', 'https://10.0.0.2:8444', $1, $1), ('r1', 'https://10.0.0.1:8444', $1, $1)`, testStart); err != nil {
		t.Fatal(err)
	}
	rs, err := s.Replicas(ctx)
	if err != nil || len(rs) != 2 || rs[0].ID != "r1" || rs[1].InternalURL != "https://10.0.0.2:8444" {
		t.Errorf("replicas: %+v %v", rs, err)
	}
}

// A database that cannot be reached is ErrUnavailable, whatever the call,
// on either backend.
func TestUnavailable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Nothing listens on port 1; the pool connects lazily.
	down, err := pgxpool.New(ctx, "postgres://nobody@127.0.0.1:1/none?connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	_, pg, _ := newStore(t, testkit.Backends[0])
	closedPool := store.New(pg)
	testkit.Close(pg)
	_, lite, _ := newStore(t, testkit.Backends[1])
	closedSQLite := store.New(lite)
	testkit.Close(lite)

	for name, s := range map[string]*store.Store{"refused": store.New(down), "closed pool": closedPool, "closed sqlite": closedSQLite} {
		for op, call := range map[string]func() error{
			"ping":   func() error { return s.Ping(ctx) },
			"list":   func() error { _, err := s.ListPledges(ctx, store.PledgeFilter{}); return err },
			"get":    func() error { _, err := s.GetPledge(ctx, 1); return err },
			"decide": func() error { _, err := s.Decide(ctx, []int64{1}, store.DecisionApproved, "x"); return err },
			"auth":   func() error { _, err := s.Authenticate(ctx, "t"); return err },
			"import": func() error {
				_, err := s.ImportAllowlist(ctx, []store.ImportRow{{Manufacturer: "a", Serial: "b"}}, "x")
				return err
			},
		} {
			if err := call(); !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("%s %s: %v, want ErrUnavailable", name, op, err)
			}
		}
	}
}
