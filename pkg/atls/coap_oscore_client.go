package atls

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/plgd-dev/go-coap/v3/message/codes"

	"github.com/landfall-io/landfall/pkg/oscore"
)

// This file implements the client side of OSCORE natively over CoAP
// (profile 7.8): ordinary HTTP requests become inner CoAP requests (5.2,
// 5.3), protected with the context the CoAP handshake exported and sent
// over the session's own UDP socket as outer POSTs with the OSCORE option,
// block-wise when larger than a block (RFC 8613 4.1.3.4.2).

// coapOSCORETransport is the http.RoundTripper of a key-export session
// that ran over CoAP.
type coapOSCORETransport struct {
	carrier *coapCarrier
	ctx     *oscore.Context
}

// coapTransport is Transport for a session whose flights went over CoAP:
// OSCORE natively over CoAP in the key-export mode (profile 7.8), the
// session itself in the records mode.
func (s *ClientSession) coapTransport(cc *coapCarrier) (http.RoundTripper, error) {
	if s.exported == nil {
		return s, nil
	}
	if s.exported.Protocol != ProtoOSCORE {
		return nil, fmt.Errorf("atls: %s is not used over CoAP (profile 7.7)", s.exported.Protocol)
	}
	c, err := oscore.NewContext(s.exported.Params())
	if err != nil {
		return nil, err
	}
	return &coapOSCORETransport{carrier: cc, ctx: c}, nil
}

// RoundTrip protects req, sends it and unprotects the answer. An
// unprotected error answer (profile 7.8: 4.00, 4.01, 4.02, 5.03) is a
// *CoAPStatusError. A request is never sent again in a new exchange under
// the same Partial IV: that would be a replay; go-coap retransmits the
// Confirmable message with the same message ID, which the server answers
// from its exchange cache. The one request protected again is the answer
// to an Echo challenge: a server that cannot vouch for its replay window
// (RFC 8613 B.1.2, after a reboot) answers a protected 4.01 with Echo, and
// the request goes once more under a new Partial IV carrying that Echo
// value (RFC 9175 2.4).
func (t *coapOSCORETransport) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := readRequestBody(req)
	if err != nil {
		return nil, err
	}
	msg, err := oscore.RequestToMessage(req, body)
	if err != nil {
		return nil, err
	}
	inner, err := t.exchange(req, msg)
	if err != nil {
		return nil, err
	}
	if echo := inner.Strings(oscore.OptEcho); inner.Code == oscore.Unauthorized && len(echo) == 1 {
		msg.Add(oscore.OptEcho, []byte(echo[0]))
		if inner, err = t.exchange(req, msg); err != nil {
			return nil, err
		}
	}
	return oscore.MessageToResponse(inner, req)
}

// exchange protects msg under the next Partial IV, sends it and returns
// the inner answer.
func (t *coapOSCORETransport) exchange(req *http.Request, msg *oscore.Message) (*oscore.Message, error) {
	opt, ct, st, err := t.ctx.ProtectRequest(msg.Marshal())
	if err != nil {
		return nil, err
	}
	r, err := t.carrier.sendBlockwise(req.Context(), nil, ct, opt)
	if err != nil {
		return nil, err
	}
	if r.code != codes.Changed || !r.hasOSCORE {
		if r.code>>5 != 2 {
			return nil, r.statusError()
		}
		return nil, fmt.Errorf("atls: OSCORE request answered %v without the OSCORE option, not 2.04 protected", r.code)
	}
	if len(r.payload) == 0 {
		return nil, errors.New("atls: protected answer without ciphertext")
	}
	pt, err := t.ctx.UnprotectResponse(st, r.oscore, r.payload)
	if err != nil {
		return nil, fmt.Errorf("atls: response: %w", err)
	}
	inner, err := oscore.UnmarshalMessage(pt)
	if err != nil {
		return nil, fmt.Errorf("atls: response: %w", err)
	}
	return inner, nil
}
