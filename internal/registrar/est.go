package registrar

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"

	"github.com/jackc/pgx/v5"

	"github.com/landfall-io/landfall/internal/registrar/store"
	"github.com/landfall-io/landfall/pkg/atls"
	"github.com/landfall-io/landfall/pkg/enroll"
)

// newEST builds the EST server (RFC 7030, RFC 8995 5.9) on the configured
// CA backend, with the registrar's enrollment policy and a hook that
// records every issued certificate.
func (rg *Registrar) newEST(ca enroll.CA) (*enroll.Server, error) {
	return enroll.NewServer(ca,
		enroll.WithPolicy(rg.enrollPolicy),
		enroll.WithCSRPolicy(&rg.cfg.CSRPolicy),
		enroll.WithIssuedHook(rg.recordIssuance),
		enroll.WithLogger(rg.log),
	)
}

// enrollPolicy refuses enrollment until the device's voucher was accepted
// (RFC 8995 5.7 voucher status true) and the pledge was approved.
func (rg *Registrar) enrollPolicy(ctx context.Context, req *enroll.AuthzRequest) error {
	p, err := rg.pledgeForEnrollment(ctx, req)
	if err != nil {
		return err
	}
	switch p.Decision {
	case store.DecisionDenied:
		return enroll.ErrForbidden("pledge denied by the registrar's operator")
	case store.DecisionPending:
		return enroll.ErrPending(rg.cfg.ApprovalRetryAfter, "pledge awaits the operator's approval")
	}
	switch p.State {
	case store.StateVoucherAccepted, store.StateEnrolled, store.StateEnrollFailed:
		return nil
	}
	return enroll.ErrForbidden(fmt.Sprintf("enrollment refused in state %q: the pledge must obtain and accept a voucher first", p.State))
}

// pledgeForEnrollment finds the pledge an EST request is for: by its IDevID
// on enrollment, by the certificate being renewed on re-enrollment.
func (rg *Registrar) pledgeForEnrollment(ctx context.Context, req *enroll.AuthzRequest) (*store.Pledge, error) {
	chain := req.Peer.Chain
	if req.Renewing != nil {
		id, err := rg.pledgeOfCertificate(ctx, req.Renewing)
		if err != nil {
			return nil, err
		}
		return rg.store.GetPledge(ctx, id)
	}
	anchor, err := rg.manufacturerOf(ctx, chain)
	if err != nil {
		return nil, enroll.ErrForbidden(errUnknownManufacturer.Error())
	}
	serial, err := serialSource(anchor.SerialField)(chain[0])
	if err != nil {
		return nil, enroll.ErrForbidden(err.Error())
	}
	p, err := rg.store.FindPledge(ctx, anchor.ID, serial)
	if errors.Is(err, store.ErrNotFound) {
		return nil, enroll.ErrForbidden("unknown pledge: request a voucher first")
	}
	return p, err
}

// pledgeOfCertificate maps a domain certificate this registrar issued back
// to its pledge.
func (rg *Registrar) pledgeOfCertificate(ctx context.Context, c *x509.Certificate) (int64, error) {
	var id int64
	err := rg.pool.QueryRow(ctx, `SELECT pledge_id FROM certificates WHERE serial = $1 AND der = $2`,
		fmt.Sprintf("%x", c.SerialNumber), c.Raw).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, enroll.ErrForbidden("certificate was not issued by this registrar")
	}
	if err != nil {
		return 0, unavailable(err)
	}
	return id, nil
}

// recordIssuance stores an issued certificate and moves the pledge on. A
// failure here fails the enrollment: no certificate leaves unrecorded.
func (rg *Registrar) recordIssuance(ctx context.Context, is *enroll.Issuance) error {
	var pledgeID int64
	var err error
	if is.Operation == enroll.OpSimpleReenroll {
		pledgeID, err = rg.pledgeOfCertificate(ctx, is.Device)
	} else {
		var p *store.Pledge
		p, err = rg.pledgeForEnrollment(ctx, &enroll.AuthzRequest{Peer: enroll.Peer{Chain: []*x509.Certificate{is.Device}}})
		if p != nil {
			pledgeID = p.ID
		}
	}
	if err != nil {
		return err
	}
	err = rg.store.RecordCertificate(ctx, store.Certificate{
		Serial:    fmt.Sprintf("%x", is.SerialNumber),
		PledgeID:  pledgeID,
		Operation: string(is.Operation),
		Subject:   is.Subject.String(),
		NotBefore: is.NotBefore,
		NotAfter:  is.NotAfter,
		DER:       is.Certificate.Raw,
	})
	if err != nil {
		return err
	}
	rg.metrics.issued.WithLabelValues(string(is.Operation)).Inc()
	return rg.store.SetState(ctx, pledgeID, store.StateEnrolled)
}

// estPeer hands the ATLS inner session's identity to pkg/enroll, and asks
// for binary answers in the OSCORE mode (profile 5.6, RFC 9148).
func estPeer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
