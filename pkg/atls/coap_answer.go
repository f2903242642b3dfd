package atls

import (
	"bytes"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/message/pool"
)

// This file holds the answers of the CoAP binding (profile 7.3, 7.5): what
// the server decided, independent of go-coap's message pool, so that the
// exchange cache and the Block2 store can keep it and send it again.

// ContentFormatATLS is application/atls over CoAP, the profile-local
// experimental Content-Format 65001 (profile 7.1).
const ContentFormatATLS message.MediaType = 65001

// coapAnswer is one CoAP response, before block-wise slicing.
type coapAnswer struct {
	code codes.Code
	// payload is the flight (with contentFormat) or the diagnostic
	// payload of an error (RFC 7252 5.5.2: UTF-8, no Content-Format).
	payload       []byte
	contentFormat bool
	location      []string // Location-Path segments (2.01)
	maxAge        *uint32
	echo          []byte // 4.01 challenge (7.6)
	size1         *uint32
	block1        *blockOption
	block2        *blockOption
	size2         *uint32
	oscore        []byte // OSCORE option of a protected answer (7.8)
	hasOSCORE     bool
}

// coapError is an error answer with a diagnostic payload (profile 7.5).
func coapError(code codes.Code, reason string) *coapAnswer {
	return &coapAnswer{code: code, payload: []byte(reason)}
}

// withMaxAge sets Max-Age to d rounded up to whole seconds.
func (a *coapAnswer) withMaxAge(d time.Duration) *coapAnswer {
	secs := uint32((d + time.Second - 1) / time.Second)
	a.maxAge = &secs
	return a
}

func u32(v uint32) *uint32 { return &v }

// block is the Block2 block b of a, with the options every block repeats
// (Content-Format, Location-Path) and Size2 on the first.
func (a *coapAnswer) block(b blockOption) (*coapAnswer, bool) {
	part, more, ok := block2Slice(a.payload, b)
	if !ok {
		return nil, false
	}
	out := *a
	out.payload = part
	b.more = more
	out.block2 = &b
	out.size2 = nil
	if b.num == 0 {
		out.size2 = u32(uint32(len(a.payload)))
	}
	return &out, true
}

// writeTo fills a go-coap response with a.
func (a *coapAnswer) writeTo(m *pool.Message) {
	m.SetCode(a.code)
	m.ResetOptionsTo(nil)
	for _, seg := range a.location {
		m.AddOptionString(message.LocationPath, seg)
	}
	if a.contentFormat {
		m.SetContentFormat(ContentFormatATLS)
	}
	if a.maxAge != nil {
		m.SetOptionUint32(message.MaxAge, *a.maxAge)
	}
	if a.block2 != nil {
		m.SetOptionUint32(message.Block2, a.block2.encode())
	}
	if a.block1 != nil {
		m.SetOptionUint32(message.Block1, a.block1.encode())
	}
	if a.size2 != nil {
		m.SetOptionUint32(message.Size2, *a.size2)
	}
	if a.size1 != nil {
		m.SetOptionUint32(message.Size1, *a.size1)
	}
	if a.echo != nil {
		m.SetOptionBytes(message.Echo, a.echo)
	}
	if a.hasOSCORE {
		m.SetOptionBytes(OptOSCORE, a.oscore)
	}
	if len(a.payload) > 0 {
		m.SetBody(bytes.NewReader(a.payload))
	} else {
		m.SetBody(nil)
	}
}
