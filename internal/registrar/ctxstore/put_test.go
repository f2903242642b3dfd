package ctxstore

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/landfall-io/landfall/internal/testkit"
	"github.com/landfall-io/landfall/pkg/atls"
	"github.com/landfall-io/landfall/pkg/oscore/oscoretest"
)

// An expired context under a kid gives way to a new one, whose replay
// window starts empty; a live one refuses it, and the refusal leaves the
// live context and the kid's reservation exactly as they were. On
// PostgreSQL this is one statement (putOne), on SQLite a transaction.
func TestPutOverAnEarlierContext(t *testing.T) { testkit.EachBackend(t, tPutOverAnEarlierContext) }

func tPutOverAnEarlierContext(t *testing.T, backend testkit.Backend) {
	s, pool := newStore(t, backend)
	ctx := context.Background()
	base := time.Now().UTC().Truncate(time.Second)
	s.Now = func() time.Time { return base }
	kid := []byte{7, 7, 7}
	first := oscoretest.Sample(kid, base)
	first.ExpiresAt = base.Add(time.Minute)
	if err := s.Put(ctx, first); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkSeen(ctx, kid, 3); err != nil {
		t.Fatal(err)
	}
	reservation := func() (exp time.Time) {
		t.Helper()
		if err := pool.QueryRow(ctx, `SELECT expires_at FROM atls_cids WHERE cid = $1`, kid).Scan(&exp); err != nil {
			t.Fatal(err)
		}
		return exp
	}

	live := oscoretest.Sample(kid, base)
	live.ExpiresAt = base.Add(time.Hour)
	live.Params.MasterSecret = bytes.Repeat([]byte{0x99}, len(first.Params.MasterSecret))
	if err := s.Put(ctx, live); err == nil {
		t.Fatal("a second context under a live kid was stored")
	}
	if got := reservation(); !got.Equal(first.ExpiresAt) {
		t.Fatalf("the refused put moved the reservation to %v (want %v)", got, first.ExpiresAt)
	}
	got, err := s.Get(ctx, kid)
	if err != nil || !bytes.Equal(got.Params.MasterSecret, first.Params.MasterSecret) {
		t.Fatalf("the live context changed: %v", err)
	}

	s.Now = func() time.Time { return base.Add(2 * time.Minute) } // the first has expired
	live.CreatedAt = s.Now()
	if err := s.Put(ctx, live); err != nil {
		t.Fatalf("put over an expired context: %v", err)
	}
	if got := reservation(); !got.Equal(live.ExpiresAt) {
		t.Fatalf("reservation %v, want the new context's %v", got, live.ExpiresAt)
	}
	got, err = s.Get(ctx, kid)
	if err != nil || !bytes.Equal(got.Params.MasterSecret, live.Params.MasterSecret) {
		t.Fatalf("the new context is not the one stored: %v", err)
	}
	// Partial IV 3 was seen under the old context, not under this one.
	if err := s.MarkSeen(ctx, kid, 3); err != nil {
		t.Fatalf("the new context inherited the old replay window: %v", err)
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM atls_contexts`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d contexts, %v", n, err)
	}
}

// PutNew stores a context under a CID it draws, reserved for the
// context's lifetime by this replica, readable by Get and with an empty
// replay window. A CID any row holds is never taken over: with every
// one-byte CID reserved (by handshakes of another replica, or by a
// context), PutNew gives up and leaves each reservation as it was.
func TestPutNew(t *testing.T) { testkit.EachBackend(t, tPutNew) }

func tPutNew(t *testing.T, backend testkit.Backend) {
	s, db := newStore(t, backend)
	ctx := context.Background()
	base := time.Now().UTC().Truncate(time.Second)
	s.Now = func() time.Time { return base }
	c := oscoretest.Sample([]byte("ignored"), base)
	cid, err := s.PutNew(ctx, c, 6)
	if err != nil || len(cid) != 4 {
		t.Fatalf("cid %x: %v", cid, err)
	}
	got, err := s.Get(ctx, cid)
	if err != nil || !bytes.Equal(got.Params.MasterSecret, c.Params.MasterSecret) || !bytes.Equal(got.Params.RecipientID, cid) {
		t.Fatalf("the context under %x: %v", cid, err)
	}
	var replica string
	var exp time.Time
	if err := db.QueryRow(ctx, `SELECT replica, expires_at FROM atls_cids WHERE cid = $1`, cid).Scan(&replica, &exp); err != nil ||
		replica != "r1" || !exp.Equal(c.ExpiresAt) {
		t.Fatalf("reservation %q until %v (want r1 until %v): %v", replica, exp, c.ExpiresAt, err)
	}
	if err := s.MarkSeen(ctx, cid, 0); err != nil {
		t.Fatalf("the new context's window is not empty: %v", err)
	}

	held := base.Add(time.Minute)
	for b := range 256 {
		if _, err := db.Exec(ctx, `INSERT INTO atls_cids (cid, replica, expires_at) VALUES ($1, 'r2', $2)`, []byte{byte(b)}, held); err != nil {
			t.Fatal(err)
		}
	}
	s.CIDLen = 1
	if cid, err := s.PutNew(ctx, c, 6); !errors.Is(err, atls.ErrNoCID) {
		t.Fatalf("stored under %x, a CID another replica holds, or failed otherwise: %v", cid, err)
	}
	var n, contexts int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM atls_cids WHERE length(cid) = 1 AND replica = 'r2' AND expires_at = $1`, held).Scan(&n); err != nil || n != 256 {
		t.Fatalf("%d of 256 reservations left as they were: %v", n, err)
	}
	if err := db.QueryRow(ctx, `SELECT count(*) FROM atls_contexts`).Scan(&contexts); err != nil || contexts != 1 {
		t.Fatalf("%d contexts, want the first only: %v", contexts, err)
	}
	if _, err := s.PutNew(ctx, c, 0); !errors.Is(err, atls.ErrNoCID) {
		t.Fatalf("stored with no room for a CID, or failed otherwise: %v", err)
	}
}
