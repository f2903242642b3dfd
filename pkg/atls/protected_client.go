package atls

import (
	"fmt"
	"net/http"

	"github.com/landfall-io/landfall/pkg/atls/httpmsg"
	"github.com/landfall-io/landfall/pkg/oscore"
)

// This file implements the client side of protected requests: OSCORE
// (profile 5) and COSE (profile 6) as an http.RoundTripper.

// Transport returns the http.RoundTripper of the session's mode, so that a
// standard http.Client sends ordinary requests through ATLS in all three
// modes: records (the session itself), OSCORE (profile 5) or COSE (6).
func (s *ClientSession) Transport() (http.RoundTripper, error) {
	if cc, ok := s.carrier.(*coapCarrier); ok {
		return s.coapTransport(cc)
	}
	if s.exported == nil {
		return s, nil
	}
	c, err := oscore.NewContext(s.exported.Params())
	if err != nil {
		return nil, err
	}
	return &protectedTransport{session: s, ctx: c, cose: s.exported.Protocol == ProtoCOSE}, nil
}

// protectedTransport sends requests protected with the exported context.
// It needs no session cookie: the server finds the context by kid (1.3).
type protectedTransport struct {
	session *ClientSession
	ctx     *oscore.Context
	cose    bool
}

func (t *protectedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := readRequestBody(req)
	if err != nil {
		return nil, err
	}
	if t.cose {
		return t.roundTripCOSE(req, body)
	}
	return t.roundTripOSCORE(req, body)
}

func (t *protectedTransport) roundTripOSCORE(req *http.Request, body []byte) (*http.Response, error) {
	msg, err := oscore.RequestToMessage(req, body)
	if err != nil {
		return nil, err
	}
	opt, ct, st, err := t.ctx.ProtectRequest(msg.Marshal())
	if err != nil {
		return nil, err
	}
	h := http.Header{"Content-Type": {oscore.MediaType}, oscore.HeaderName: {oscore.EncodeHeader(opt)}}
	resp, answer, err := t.session.client.send(req.Context(), h, ct)
	if err != nil {
		return nil, err
	}
	rawOpt, err := oscore.DecodeHeader(resp.Header.Get(oscore.HeaderName))
	if err != nil {
		return nil, fmt.Errorf("atls: response: %w", err)
	}
	pt, err := t.ctx.UnprotectResponse(st, rawOpt, answer)
	if err != nil {
		return nil, fmt.Errorf("atls: response: %w", err)
	}
	inner, err := oscore.UnmarshalMessage(pt)
	if err != nil {
		return nil, fmt.Errorf("atls: response: %w", err)
	}
	return oscore.MessageToResponse(inner, req)
}

func (t *protectedTransport) roundTripCOSE(req *http.Request, body []byte) (*http.Response, error) {
	plain, err := innerRequestBytes(req, body)
	if err != nil {
		return nil, err
	}
	obj, st, err := t.ctx.SealRequest(plain)
	if err != nil {
		return nil, err
	}
	_, answer, err := t.session.client.send(req.Context(), http.Header{"Content-Type": {oscore.COSEMediaType}}, obj)
	if err != nil {
		return nil, err
	}
	pt, err := t.ctx.OpenResponse(st, answer)
	if err != nil {
		return nil, fmt.Errorf("atls: response: %w", err)
	}
	resp, err := httpmsg.ReadResponseLimit(pt, req, MaxInnerResponse)
	if err != nil {
		return nil, fmt.Errorf("atls: inner response: %w", err)
	}
	return resp, nil
}

// innerRequestBytes serialises an inner HTTP/1.1 request (profile 3.2):
// origin-form target, Host, Content-Length when there is a body, nothing
// chunked.
func innerRequestBytes(req *http.Request, body []byte) ([]byte, error) {
	return httpmsg.AppendRequest(nil, req, body)
}
