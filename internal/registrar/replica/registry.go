package replica

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/landfall-io/landfall/internal/sqldb"
	"github.com/landfall-io/landfall/pkg/atls"
)

// ErrUnknown reports a replica that is not registered or whose heartbeat
// has expired.
var ErrUnknown = errors.New("replica: unknown or expired replica")

// ErrDuplicate reports a replica id another live process holds.
var ErrDuplicate = errors.New("replica: the id is held by another live replica")

// Registry registers this replica and resolves others. Each Registry is
// one process's registration: it carries a random instance token, so that
// a second process started with the same replica id is refused while the
// first one's heartbeat is fresh, and so that a replica refreshes and
// removes only its own row.
type Registry struct {
	db       sqldb.DB
	instance string
	// Timeout is how old a heartbeat may be before its replica counts as
	// gone; default 15 s. Interval is the heartbeat period; default 5 s.
	Timeout  time.Duration
	Interval time.Duration
	// ResolveFor is how long Resolve answers from what it last read of a
	// replica (default 1 s; 0 reads every time). A forwarded flight then
	// costs no database round trip; an owner gone within that second is
	// unreachable instead of unknown, which the forwarder answers alike.
	ResolveFor time.Duration
	Now        func() time.Time
	Logger     *slog.Logger

	resolved sync.Map // replica id -> resolvedReplica
}

// resolvedReplica is what Resolve last read of a live replica.
type resolvedReplica struct {
	url       *url.URL
	heartbeat time.Time
	readAt    time.Time
}

// NewRegistry returns a registry on pool with default timings.
func NewRegistry(db sqldb.DB) *Registry {
	return &Registry{db: db, instance: rand.Text(), Timeout: 15 * time.Second, Interval: 5 * time.Second, ResolveFor: time.Second,
		Now: time.Now, Logger: slog.Default()}
}

// Register records (or re-records) replica id with its internal URL. It
// takes over a row only from this same process or from a replica whose
// heartbeat has expired; a live holder of id makes it fail with
// ErrDuplicate.
func (r *Registry) Register(ctx context.Context, id string, internal *url.URL) error {
	r.resolved.Delete(id)
	now := r.Now()
	tag, err := r.db.Exec(ctx, `
		INSERT INTO replicas (id, internal_url, started_at, heartbeat_at, instance) VALUES ($1, $2, $3, $3, $4)
		ON CONFLICT (id) DO UPDATE SET internal_url = EXCLUDED.internal_url,
			started_at = EXCLUDED.started_at, heartbeat_at = EXCLUDED.heartbeat_at, instance = EXCLUDED.instance
		WHERE replicas.instance = EXCLUDED.instance OR replicas.heartbeat_at < $5`,
		id, internal.String(), now, r.instance, now.Add(-r.Timeout))
	if err != nil {
		return fmt.Errorf("replica: register %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("replica: register %q: %w (its heartbeat is fresh); give every replica its own --replica-id, or leave it unset for a unique default", id, ErrDuplicate)
	}
	return nil
}

// Heartbeat refreshes replica id's heartbeat, if the row is still this
// process's.
func (r *Registry) Heartbeat(ctx context.Context, id string) error {
	tag, err := r.db.Exec(ctx, `UPDATE replicas SET heartbeat_at = $2 WHERE id = $1 AND instance = $3`, id, r.Now(), r.instance)
	if err != nil {
		return fmt.Errorf("replica: heartbeat %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("replica: heartbeat %s: %w", id, ErrUnknown)
	}
	return nil
}

// Deregister removes replica id, on orderly shutdown: only this process's
// row, never one another process has since registered.
func (r *Registry) Deregister(ctx context.Context, id string) error {
	r.resolved.Delete(id)
	_, err := r.db.Exec(ctx, `DELETE FROM replicas WHERE id = $1 AND instance = $2`, id, r.instance)
	return err
}

// Resolve returns the internal URL of a live replica: one whose
// heartbeat, as last read, is fresh. A read is reused for ResolveFor.
func (r *Registry) Resolve(ctx context.Context, id string) (*url.URL, error) {
	now := r.Now()
	if v, ok := r.resolved.Load(id); ok {
		rr := v.(resolvedReplica)
		if now.Sub(rr.readAt) < r.ResolveFor && !rr.heartbeat.Before(now.Add(-r.Timeout)) {
			return rr.url, nil
		}
		r.resolved.Delete(id)
	}
	var raw string
	var heartbeat time.Time
	err := r.db.QueryRow(ctx, `SELECT internal_url, heartbeat_at FROM replicas WHERE id = $1 AND heartbeat_at >= $2`,
		id, now.Add(-r.Timeout)).Scan(&raw, &heartbeat)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrUnknown
	}
	if err != nil {
		return nil, fmt.Errorf("replica: resolve %s: %w", id, err)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("replica: resolve %s: %w", id, err)
	}
	if r.ResolveFor > 0 {
		r.resolved.Store(id, resolvedReplica{url: u, heartbeat: heartbeat, readAt: now})
	}
	return u, nil
}

// Live lists the replicas whose heartbeat is fresh, for the admin API.
func (r *Registry) Live(ctx context.Context) ([]Replica, error) {
	rows, err := r.db.Query(ctx, `SELECT id, internal_url, started_at, heartbeat_at FROM replicas
		WHERE heartbeat_at >= $1 ORDER BY id`, r.Now().Add(-r.Timeout))
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Replica])
}

// Replica is one registry row.
type Replica struct {
	ID          string    `json:"id"`
	InternalURL string    `json:"internal_url"`
	StartedAt   time.Time `json:"started_at"`
	HeartbeatAt time.Time `json:"heartbeat_at"`
}

// Run registers id and heartbeats until ctx ends, then deregisters. A
// failed heartbeat (database down) is logged and retried; the replica
// re-registers when its row has gone.
func (r *Registry) Run(ctx context.Context, id string, internal *url.URL) error {
	if err := r.Register(ctx, id, internal); err != nil {
		return err
	}
	t := time.NewTicker(r.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return r.Deregister(dctx, id)
		case <-t.C:
			err := r.Heartbeat(ctx, id)
			if errors.Is(err, ErrUnknown) {
				err = r.Register(ctx, id, internal)
			}
			if errors.Is(err, ErrDuplicate) {
				r.Logger.Error("replica id taken over by another process while this one's heartbeat was stale", "replica", id, "err", err)
			} else if err != nil && ctx.Err() == nil {
				r.Logger.Warn("replica heartbeat failed", "replica", id, "err", err)
			}
		}
	}
}

// MaxIDLen is the longest replica id (it travels in ATLS session ids).
const MaxIDLen = atls.MaxOwnerIDLen

// DefaultID is a replica id unique by construction: up to seven bytes of
// host (a pod or host name, for operators reading logs) and eight random
// base32 characters (40 bits), because host names alone collide (pods of one deployment
// share prefixes that a 16-byte cut leaves equal).
func DefaultID(host string) string {
	var prefix []byte
	for i := 0; i < len(host) && len(prefix) < 7; i++ {
		c := host[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' {
			prefix = append(prefix, c)
		}
	}
	suffix := rand.Text()[:8]
	if len(prefix) == 0 {
		return "replica-" + suffix
	}
	return string(prefix) + "-" + suffix
}
