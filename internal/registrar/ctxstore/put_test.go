package ctxstore

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/landfall-io/landfall/internal/testkit"
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
