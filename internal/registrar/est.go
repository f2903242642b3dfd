package registrar

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"github.com/landfall-io/landfall/internal/registrar/store"
	"github.com/landfall-io/landfall/pkg/atls"
	"github.com/landfall-io/landfall/pkg/enroll"
)

// newEST builds the EST server (RFC 7030, RFC 8995 5.9) on the configured
// CA backend, with the registrar's enrollment gate in front of it and the
// recording of every issued certificate around it.
func (rg *Registrar) newEST(ca enroll.CA) (*enroll.Server, error) {
	opts := []enroll.Option{
		enroll.WithPolicy(rg.enrollPolicy),
		enroll.WithNamePolicy(rg.ldevidNames),
		enroll.WithCSRPolicy(&rg.cfg.CSRPolicy),
		enroll.WithLogger(slog.New(requestIDHandler{rg.log.Handler()})),
	}
	if rg.cfg.ESTOmitTransferEncoding {
		opts = append(opts, enroll.WithoutTransferEncoding())
	}
	return enroll.NewServer(&recordingCA{CA: ca, rg: rg}, opts...)
}

// enrollee is a pledge asking for a domain certificate: the identity its
// IDevID chain proves and the registrar's record of it.
type enrollee struct {
	identity *Pledge
	record   *store.Pledge
	// latest is the pledge's latest voucher exchange, nil when it has none.
	latest *store.LatestVoucher
	// certificates is how many certificates the pledge had when the
	// request's gate read it.
	certificates int
}

// enrollPolicy is the RFC 8995 5.9 gate, decided on state this registrar
// recorded and never on what the pledge reports alone (DESIGN decision
// 13). A pledge enrolls when
//   - it is approved (an operator's or the approval policy's decision),
//   - the latest voucher exchange of the pledge issued a voucher from its
//     MASA to this very IDevID (5.5, 5.6), and
//   - it reported accepting that voucher (5.7): the report alone is
//     telemetry, the recorded voucher is the authorization, and
//   - under the audit-log mode enforce, its MASA audit log check passed or
//     an operator approved it since (5.8, auditLogGate; re-enrollment too).
//
// Re-enrollment (RFC 7030 4.2.2) is authorized by the certificate being
// renewed, which this registrar must have issued to a pledge not since
// denied.
func (rg *Registrar) enrollPolicy(ctx context.Context, req *enroll.AuthzRequest) error {
	if req.Renewing != nil {
		id, err := rg.pledgeOfCertificate(ctx, req.Renewing)
		if err != nil {
			return err
		}
		p, err := rg.state.GetPledge(ctx, id)
		if err != nil {
			return unavailable(err)
		}
		if p.Decision == store.DecisionDenied {
			return enroll.ErrForbidden("pledge denied by the registrar's operator")
		}
		return rg.auditLogGate(ctx, p)
	}
	en, err := rg.enrollee(ctx, req.Peer.Chain)
	if err != nil {
		return err
	}
	switch en.record.Decision {
	case store.DecisionDenied:
		return enroll.ErrForbidden("pledge denied by the registrar's operator")
	case store.DecisionPending:
		return enroll.ErrPending(rg.cfg.ApprovalRetryAfter, "pledge awaits the operator's approval")
	}
	if err := rg.checkVoucherObtained(en); err != nil {
		return err
	}
	if err := rg.auditLogGate(ctx, en.record); err != nil {
		return err
	}
	switch en.record.State {
	case store.StateVoucherAccepted, store.StateEnrolled, store.StateEnrollFailed:
		return nil
	}
	return enroll.ErrForbidden(fmt.Sprintf("enrollment refused in state %q: the pledge must report that it accepted its voucher first", en.record.State))
}

// checkVoucherObtained requires that the pledge's latest voucher exchange
// issued a voucher to the IDevID that now enrolls. A MASA's refusal (an
// unsold device, one sold to another domain) or a newer request still
// unanswered leaves the pledge without one.
func (rg *Registrar) checkVoucherObtained(en *enrollee) error {
	ex := en.latest
	if ex == nil {
		return enroll.ErrForbidden("no voucher was obtained for this pledge: request a voucher first")
	}
	if ex.Outcome != store.OutcomeIssued {
		return enroll.ErrForbidden(fmt.Sprintf("no voucher was obtained for this pledge: its latest voucher request ended %q", ex.Outcome))
	}
	sum := sha256.Sum256(en.identity.IDevID.Raw)
	if !bytes.Equal(ex.IDevIDSHA256, sum[:]) {
		return enroll.ErrForbidden("the voucher was obtained for another IDevID of this serial number")
	}
	return nil
}

// enrollee identifies the pledge an EST request comes from by its whole
// presented chain (IDevIDs may be issued by a manufacturer's sub-CA), with
// the manufacturer's serial field: the one source of the serial number for
// every step (RFC 8995 5.5, 5.9.2).
//
// The gate, the name policy and the issuing CA all ask for it within one
// EST request; the request's lookups (see estPeer) answer the later asks.
func (rg *Registrar) enrollee(ctx context.Context, chain []*x509.Certificate) (*enrollee, error) {
	memo, _ := ctx.Value(enrollLookupsKey{}).(*enrollLookups)
	key := chainKey(chain)
	if en := memo.enrolleeFor(key); en != nil {
		return en, nil
	}
	en, err := rg.findEnrollee(ctx, chain)
	if err == nil {
		memo.rememberEnrollee(key, en)
	}
	return en, err
}

func (rg *Registrar) findEnrollee(ctx context.Context, chain []*x509.Certificate) (*enrollee, error) {
	id, err := rg.identifyChain(ctx, chain)
	if err != nil {
		return nil, err
	}
	found, err := rg.state.FindEnrollee(ctx, id.Manufacturer.ID, id.Serial)
	if errors.Is(err, store.ErrNotFound) {
		return nil, enroll.ErrForbidden("unknown pledge: request a voucher first")
	}
	if err != nil {
		return nil, unavailable(err)
	}
	return &enrollee{identity: id, record: &found.Pledge, latest: found.Latest, certificates: found.Certificates}, nil
}

// pledgeOfCertificate maps a domain certificate this registrar issued back
// to its pledge.
func (rg *Registrar) pledgeOfCertificate(ctx context.Context, c *x509.Certificate) (int64, error) {
	memo, _ := ctx.Value(enrollLookupsKey{}).(*enrollLookups)
	if id, ok := memo.renewedPledge(c); ok {
		return id, nil
	}
	id, err := rg.state.PledgeOfCertificate(ctx, fmt.Sprintf("%x", c.SerialNumber), c.Raw)
	if err == nil {
		memo.rememberRenewed(c, id)
	}
	if errors.Is(err, store.ErrNotFound) {
		return 0, enroll.ErrForbidden("certificate was not issued by this registrar")
	}
	if err != nil {
		return 0, unavailable(err)
	}
	return id, nil
}

// estPeer hands the ATLS inner session's identity to pkg/enroll, asks
// for binary answers in the OSCORE mode (profile 5.6, RFC 9148), and gives
// every EST request its lookups.
func estPeer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(context.WithValue(r.Context(), enrollLookupsKey{}, &enrollLookups{}))
		if p, ok := atls.PeerFromContext(r.Context()); ok {
			ctx := enroll.WithPeer(r.Context(), enroll.Peer{Chain: p.ConnectionState.PeerCertificates, ChannelBinding: p.ChannelBinding})
			if p.Protocol == atls.ProtoOSCORE {
				ctx = enroll.WithBinary(ctx)
			}
			r = r.WithContext(ctx)
		}
		next.ServeHTTP(w, r)
	})
}

// enrollLookups are what one EST request found out about its pledge: the
// enrollee of its chain, or the pledge its renewed certificate was issued
// to. A nil *enrollLookups remembers nothing.
type enrollLookups struct {
	mu        sync.Mutex
	chain     [sha256.Size]byte
	en        *enrollee
	renewed   []byte // DER of the renewed certificate
	renewedID int64
}

type enrollLookupsKey struct{}

func (m *enrollLookups) enrolleeFor(chain [sha256.Size]byte) *enrollee {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.en != nil && m.chain == chain {
		return m.en
	}
	return nil
}

func (m *enrollLookups) rememberEnrollee(chain [sha256.Size]byte, en *enrollee) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.chain, m.en = chain, en
	m.mu.Unlock()
}

func (m *enrollLookups) renewedPledge(c *x509.Certificate) (int64, bool) {
	if m == nil {
		return 0, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.renewedID, m.renewed != nil && bytes.Equal(m.renewed, c.Raw)
}

func (m *enrollLookups) rememberRenewed(c *x509.Certificate, id int64) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.renewed, m.renewedID = c.Raw, id
	m.mu.Unlock()
}
