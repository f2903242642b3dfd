package registrar

import (
	"context"

	"github.com/landfall-io/landfall/internal/registrar/store"
	"github.com/landfall-io/landfall/pkg/enroll"
)

// ldevidNames is the registrar's name policy for domain certificates
// (RFC 8995 5.9.2, DESIGN decision 13): the names come from what the
// registrar verified, never from the CSR. The subject is
// serialNumber=<serial>,CN=<serial> with the serial number the
// manufacturer's serial field yields from the verified IDevID chain (the
// one serial source every step uses, identifyChain); the subjectAltNames
// are the manufacturer's LDevID name templates rendered with that serial,
// none by default. Extended key usage is clientAuth alone (pkg/enroll
// fixes it), so an LDevID can never pass for a registrar (id-kp-cmcRA) or
// a server.
//
// On re-enrollment (RFC 7030 4.2.2) the pledge is the one this registrar
// issued the renewed certificate to, and its names are computed again from
// its recorded serial and its manufacturer's current templates.
func (rg *Registrar) ldevidNames(ctx context.Context, req *enroll.AuthzRequest) (*enroll.CertificateNames, error) {
	if req.Renewing != nil {
		return rg.renewalNames(ctx, req)
	}
	id, err := rg.identifyChain(ctx, req.Peer.Chain)
	if err != nil {
		return nil, err
	}
	return enroll.NamesForSerial(id.Serial, id.Manufacturer.NameTemplates...)
}

// renewalNames names the pledge a renewed certificate was issued to.
func (rg *Registrar) renewalNames(ctx context.Context, req *enroll.AuthzRequest) (*enroll.CertificateNames, error) {
	pledgeID, err := rg.pledgeOfCertificate(ctx, req.Renewing)
	if err != nil {
		return nil, err
	}
	p, err := rg.state.GetPledge(ctx, pledgeID)
	if err != nil {
		return nil, unavailable(err)
	}
	anchor, err := rg.manufacturerByID(ctx, p.ManufacturerID)
	if err != nil {
		return nil, err
	}
	return enroll.NamesForSerial(p.Serial, anchor.NameTemplates...)
}

// manufacturerByID returns the trusted manufacturer id from the cached
// list; a manufacturer no longer trusted names no certificates.
func (rg *Registrar) manufacturerByID(ctx context.Context, id int64) (*store.Anchor, error) {
	anchors, err := rg.anchors.list(ctx, rg.store, rg.now())
	if err != nil {
		return nil, unavailable(err)
	}
	for i := range anchors {
		if anchors[i].ID == id {
			return &anchors[i], nil
		}
	}
	return nil, enroll.ErrForbidden("the pledge's manufacturer is no longer trusted")
}
