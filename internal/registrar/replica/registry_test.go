package replica

import (
	"context"
	"errors"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/landfall-io/landfall/internal/testkit"
	"github.com/landfall-io/landfall/internal/testpg"
	"github.com/landfall-io/landfall/migrations"
)

func TestMain(m *testing.M) { os.Exit(testpg.Run(m)) }

func newRegistry(t *testing.T, backend testkit.Backend) (*Registry, *testkit.Clock) {
	db := backend.Open(t, migrations.RegistrarSchema)
	c := testkit.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	r := NewRegistry(db)
	r.Now = c.Now
	return r, c
}

func TestRegisterResolveExpire(t *testing.T) { testkit.EachBackend(t, tRegisterResolveExpire) }

func tRegisterResolveExpire(t *testing.T, backend testkit.Backend) {
	ctx := context.Background()
	r, c := newRegistry(t, backend)
	a, _ := url.Parse("https://10.0.0.1:8444")
	if err := r.Register(ctx, "a", a); err != nil {
		t.Fatal(err)
	}
	got, err := r.Resolve(ctx, "a")
	if err != nil || got.String() != a.String() {
		t.Fatalf("resolve: %v %v", got, err)
	}
	if _, err := r.Resolve(ctx, "b"); !errors.Is(err, ErrUnknown) {
		t.Fatalf("unknown replica: %v", err)
	}
	c.Advance(10 * time.Second)
	if err := r.Heartbeat(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	c.Advance(14 * time.Second)
	if _, err := r.Resolve(ctx, "a"); err != nil {
		t.Fatalf("fresh heartbeat: %v", err)
	}
	c.Advance(2 * time.Second)
	if _, err := r.Resolve(ctx, "a"); !errors.Is(err, ErrUnknown) {
		t.Fatalf("expired heartbeat resolved: %v", err)
	}
	if live, err := r.Live(ctx); err != nil || len(live) != 0 {
		t.Fatalf("live %v %v", live, err)
	}
	// Re-registering moves the replica to its new address.
	a2, _ := url.Parse("https://10.0.0.2:8444")
	if err := r.Register(ctx, "a", a2); err != nil {
		t.Fatal(err)
	}
	if got, _ := r.Resolve(ctx, "a"); got.String() != a2.String() {
		t.Fatalf("resolve after re-register: %v", got)
	}
	if err := r.Deregister(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := r.Heartbeat(ctx, "a"); !errors.Is(err, ErrUnknown) {
		t.Fatalf("heartbeat of a deregistered replica: %v", err)
	}
}

// The registrar schema applies, reverts completely and applies again.
func TestRegistrarSchemaUpDownUp(t *testing.T) {
	dsn := testpg.Database(t)
	v, err := migrations.Up(dsn, migrations.RegistrarSchema)
	if err != nil || v == 0 {
		t.Fatalf("up: v=%d err=%v", v, err)
	}
	if err := migrations.Down(dsn, migrations.RegistrarSchema); err != nil {
		t.Fatal(err)
	}
	if v2, err := migrations.Up(dsn, migrations.RegistrarSchema); err != nil || v2 != v {
		t.Fatalf("up again: v=%d err=%v", v2, err)
	}
}

// A second process with a live replica's id is refused, does not take the
// row over, and its shutdown leaves the live replica's row alone; once the
// first one's heartbeat expires, the id may be reused.
func TestDuplicateReplicaID(t *testing.T) { testkit.EachBackend(t, tDuplicateReplicaID) }

func tDuplicateReplicaID(t *testing.T, backend testkit.Backend) {
	ctx := context.Background()
	first, c := newRegistry(t, backend)
	second := NewRegistry(first.db)
	second.Now = c.Now
	a, _ := url.Parse("https://10.0.0.1:8444")
	b, _ := url.Parse("https://10.0.0.2:8444")
	if err := first.Register(ctx, "pod", a); err != nil {
		t.Fatal(err)
	}
	if err := second.Register(ctx, "pod", b); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("duplicate registered: %v", err)
	}
	if err := second.Heartbeat(ctx, "pod"); !errors.Is(err, ErrUnknown) {
		t.Fatalf("heartbeat of a row not ours: %v", err)
	}
	if err := second.Deregister(ctx, "pod"); err != nil {
		t.Fatal(err)
	}
	got, err := first.Resolve(ctx, "pod")
	if err != nil || got.String() != a.String() {
		t.Fatalf("the live replica's row changed: %v %v", got, err)
	}
	if err := first.Register(ctx, "pod", a); err != nil {
		t.Fatalf("re-registering one's own row: %v", err)
	}
	c.Advance(first.Timeout + time.Second)
	if err := second.Register(ctx, "pod", b); err != nil {
		t.Fatalf("taking over an expired id: %v", err)
	}
	if err := first.Deregister(ctx, "pod"); err != nil {
		t.Fatal(err)
	}
	if got, err := second.Resolve(ctx, "pod"); err != nil || got.String() != b.String() {
		t.Fatalf("the old holder's shutdown removed the new holder's row: %v %v", got, err)
	}
}

func TestDefaultIDUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, host := range []string{"registrar-7d9f8c6b5-abcde", "registrar-7d9f8c6b5-fghij", "", "ünïcode.example"} {
		for range 50 {
			id := DefaultID(host)
			if len(id) == 0 || len(id) > MaxIDLen || seen[id] {
				t.Fatalf("DefaultID(%q) = %q (len %d, seen %v)", host, id, len(id), seen[id])
			}
			seen[id] = true
		}
	}
}
