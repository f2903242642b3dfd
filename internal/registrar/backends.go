package registrar

import (
	"context"
	"crypto/x509"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/landfall-io/landfall/internal/registrar/ctxstore"
	"github.com/landfall-io/landfall/internal/registrar/replica"
	"github.com/landfall-io/landfall/internal/registrar/store"
	"github.com/landfall-io/landfall/internal/sqldb"
	"github.com/landfall-io/landfall/pkg/atls"
	"github.com/landfall-io/landfall/pkg/oscore"
	"github.com/landfall-io/landfall/pkg/voucher"
)

// The registrar owns the interfaces of what it consumes, as globalsign/est
// owns its CA interface; PostgreSQL (store, ctxstore, replica) and the MASA
// client satisfy them, and the unit tests put fakes in their place.

// PledgeStore is the registrar's record of pledges: who asked (RFC 8995
// 5.5), the approval decision and the onboarding state.
type PledgeStore interface {
	Touch(ctx context.Context, manufacturerID int64, serial string, idevidDER []byte) (*store.Pledge, error)
	GetPledge(ctx context.Context, id int64) (*store.Pledge, error)
	FindPledge(ctx context.Context, manufacturerID int64, serial string) (*store.Pledge, error)
	// FindEnrollee is FindPledge with the latest voucher exchange's
	// outcome and the count of certificates, for the enrollment gate (RFC
	// 8995 5.9), in one query.
	FindEnrollee(ctx context.Context, manufacturerID int64, serial string) (*store.Enrollee, error)
	Allowed(ctx context.Context, manufacturerID int64, serial string) (bool, error)
	Decide(ctx context.Context, ids []int64, decision store.Decision, actor string) ([]store.Pledge, error)
	SetState(ctx context.Context, id int64, state store.State) error
}

// ExchangeStore records every voucher exchange (RFC 8995 5.5, 5.6),
// whatever its outcome; EST reads the latest one back (5.9).
type ExchangeStore interface {
	RecordExchange(ctx context.Context, e store.Exchange) (int64, error)
	// RecordIssued records an exchange that issued a voucher and moves
	// the pledge to voucher-issued, atomically.
	RecordIssued(ctx context.Context, e store.Exchange) (int64, error)
	LatestExchange(ctx context.Context, pledgeID int64) (*store.Exchange, error)
}

// CertificateStore records the domain certificates EST issued (RFC 7030
// 4.2, RFC 8995 5.9) and maps one back to its pledge for re-enrollment.
type CertificateStore interface {
	RecordEnrollment(ctx context.Context, c store.Certificate) error
	ListCertificates(ctx context.Context, pledgeID int64) ([]store.Certificate, error)
	PledgeOfCertificate(ctx context.Context, serial string, der []byte) (int64, error)
}

// TelemetryStore records the pledge's status reports (RFC 8995 5.7, 5.9.4).
type TelemetryStore interface {
	// RecordReport finds the pledge, records its report and applies the
	// report's state move atomically, returning the pledge as it was.
	RecordReport(ctx context.Context, manufacturerID int64, serial string, r store.Report) (*store.Pledge, error)
}

// AnchorSource lists the trusted manufacturers and their IDevID anchors.
type AnchorSource interface {
	Anchors(ctx context.Context) ([]store.Anchor, error)
}

// Records is all the registrar keeps of pledges; *store.Store satisfies it.
type Records interface {
	PledgeStore
	ExchangeStore
	CertificateStore
	TelemetryStore
	AnchorSource
}

// VoucherSource obtains a voucher from a pledge's MASA (RFC 8995 5.5, 5.6):
// request is the registrar voucher-request signed in format f, answer the
// format the voucher is asked in, anchor verifies the MASA's TLS
// certificate (nil: the system roots). An error with status 202 and a
// Retry-After is the MASA's pending decision; *MASAClient satisfies it.
type VoucherSource interface {
	RequestVoucher(ctx context.Context, masaURL string, anchor *x509.Certificate, request []byte, f, answer voucher.Format) ([]byte, error)
}

// ContextStore keeps the ATLS key-export state every replica shares: the
// exported OSCORE/COSE contexts and the server connection IDs (profile
// 4.3); *ctxstore.Store satisfies it.
type ContextStore interface {
	oscore.ContextStore
	atls.CIDAllocator
	Sweep(ctx context.Context) (int64, error)
}

// ReplicaRegistry records this replica and resolves the others for the
// ATLS forwarder (DESIGN decision 3); *replica.Registry satisfies it.
type ReplicaRegistry interface {
	Register(ctx context.Context, id string, internal *url.URL) error
	Resolve(ctx context.Context, id string) (*url.URL, error)
	Run(ctx context.Context, id string, internal *url.URL) error
}

var (
	_ Records         = (*store.Store)(nil)
	_ VoucherSource   = (*MASAClient)(nil)
	_ ContextStore    = (*ctxstore.Store)(nil)
	_ ReplicaRegistry = (*replica.Registry)(nil)
)

// OnPostgreSQL returns cfg with the registrar's state, ATLS context store
// and replica registry on pool, as every replicated deployment runs them;
// `registrar serve --database-url` and the sandbox build their registrars
// this way.
func OnPostgreSQL(cfg Config, pool *pgxpool.Pool) (Config, error) { return onDatabase(cfg, pool) }

// OnSQLite returns cfg with the same three on the embedded store db, for a
// single registrar (`registrar serve` without --database-url). The SQL and
// the code are the PostgreSQL ones (internal/sqldb); only one process can
// hold db, so there are no other replicas to forward to.
func OnSQLite(cfg Config, db *sqldb.SQLiteDB) (Config, error) { return onDatabase(cfg, db) }

func onDatabase(cfg Config, db sqldb.DB) (Config, error) {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	contexts, err := ctxstore.New(db, cfg.ContextKey, cfg.ReplicaID)
	if err != nil {
		return cfg, err
	}
	contexts.Now = now
	replicas := replica.NewRegistry(db)
	replicas.Now = now
	cfg.Store = store.New(db, store.WithClock(now))
	cfg.Contexts, cfg.Replicas = contexts, replicas
	return cfg, nil
}
