package replica

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/landfall-io/landfall/internal/testkit"
)

// Resolve answers from its last read for ResolveFor, never past the
// heartbeat's expiry as read, and reads again after that: another
// process's re-registration is seen within ResolveFor.
func TestResolveReusesItsRead(t *testing.T) { testkit.EachBackend(t, tResolveReusesItsRead) }

func tResolveReusesItsRead(t *testing.T, backend testkit.Backend) {
	ctx := context.Background()
	r, c := newRegistry(t, backend)
	other := NewRegistry(r.db)
	other.Now = c.Now
	a, _ := url.Parse("https://10.0.0.1:8444")
	b, _ := url.Parse("https://10.0.0.2:8444")
	if err := other.Register(ctx, "a", a); err != nil {
		t.Fatal(err)
	}
	if got, err := r.Resolve(ctx, "a"); err != nil || got.String() != a.String() {
		t.Fatalf("resolve: %v %v", got, err)
	}
	// The replica restarts elsewhere under the same id (its old heartbeat
	// expired first).
	c.Advance(other.Timeout + time.Second)
	restarted := NewRegistry(r.db)
	restarted.Now = c.Now
	if err := restarted.Register(ctx, "a", b); err != nil {
		t.Fatal(err)
	}
	if got, err := r.Resolve(ctx, "a"); err != nil || got.String() != b.String() {
		t.Fatalf("a read past the cached heartbeat's expiry: %v %v", got, err)
	}
	c.Advance(r.ResolveFor / 2)
	if _, err := r.db.Exec(ctx, `UPDATE replicas SET internal_url = 'https://10.0.0.3:8444' WHERE id = 'a'`); err != nil {
		t.Fatal(err)
	}
	if got, err := r.Resolve(ctx, "a"); err != nil || got.String() != b.String() {
		t.Fatalf("within ResolveFor: %v %v", got, err)
	}
	c.Advance(r.ResolveFor)
	if got, err := r.Resolve(ctx, "a"); err != nil || got.String() != "https://10.0.0.3:8444" {
		t.Fatalf("after ResolveFor: %v %v", got, err)
	}
	// Without reuse every call reads; a deregistered replica is unknown at once.
	r.ResolveFor = 0
	if err := restarted.Deregister(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Resolve(ctx, "a"); !errors.Is(err, ErrUnknown) {
		t.Fatalf("deregistered replica resolved: %v", err)
	}
}
