package voucher

import (
	"fmt"
	"net/http"
)

// ErrorCode names a class of failure. Callers branch on it with errors.Is
// against the sentinel of the same code.
type ErrorCode string

// The failure classes of this package.
const (
	CodeMalformed          ErrorCode = "malformed"            // not JSON, not CMS, bad leaf type
	CodeMissingLeaf        ErrorCode = "missing-leaf"         // a leaf the role requires is absent
	CodeForbiddenLeaf      ErrorCode = "forbidden-leaf"       // a leaf the role must not carry is present
	CodeUnknownLeaf        ErrorCode = "unknown-leaf"         // a leaf no module defines
	CodeUnknownAssertion   ErrorCode = "unknown-assertion"    // assertion outside the enumeration
	CodeUnsupportedContent ErrorCode = "unsupported-content"  // eContentType neither voucher nor data
	CodeNoSignedAttributes ErrorCode = "no-signed-attributes" // SignerInfo without signedAttrs over a non-id-data eContentType
	CodeBadSignature       ErrorCode = "bad-signature"        // digest or signature does not verify
	CodeUntrusted          ErrorCode = "untrusted"            // signer does not chain to a trust anchor
	CodeWrongSigner        ErrorCode = "wrong-signer"         // signed, but by someone else than required
	CodeExpired            ErrorCode = "expired"              // outside a validity period
	CodeNonceMismatch      ErrorCode = "nonce-mismatch"
	CodeSerialMismatch     ErrorCode = "serial-mismatch"
	CodeProximityMismatch  ErrorCode = "proximity-mismatch"
	CodePriorMismatch      ErrorCode = "prior-request-mismatch" // registrar request disagrees with the pledge's
)

// Error is every failure this package returns. Status is the HTTP status
// RFC 8995 assigns to the failure where it occurs (section 5.3 for the
// registrar, 5.6 for the MASA); a pledge reports it in its status telemetry.
type Error struct {
	Status int
	Code   ErrorCode
	Reason string
	Err    error
}

func (e *Error) Error() string {
	msg := "voucher: " + string(e.Code)
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error of the same Code, so that
// errors.Is(err, ErrNonceMismatch) holds whatever the reason or status.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// StatusCode returns the HTTP status to answer with.
func (e *Error) StatusCode() int { return e.Status }

// Sentinels, one per code, carrying the default status of the code.
// RFC 8995 5.6 gives the MASA 400 for a malformed request, 403 for one
// "not signed correctly or stale" and 415 for an unknown type. At the
// registrar (5.3) Landfall answers 401 to a request that pins another
// registrar or was not signed by the pledge that authenticated the session:
// the man-in-the-middle check of the design brief. Checks override the
// status where the same failure means something else in their role (the
// MASA answers 403 to a wrong signer or a proximity mismatch).
var (
	ErrMalformed          = &Error{Status: http.StatusBadRequest, Code: CodeMalformed}
	ErrMissingLeaf        = &Error{Status: http.StatusBadRequest, Code: CodeMissingLeaf}
	ErrForbiddenLeaf      = &Error{Status: http.StatusBadRequest, Code: CodeForbiddenLeaf}
	ErrUnknownLeaf        = &Error{Status: http.StatusBadRequest, Code: CodeUnknownLeaf}
	ErrUnknownAssertion   = &Error{Status: http.StatusBadRequest, Code: CodeUnknownAssertion}
	ErrUnsupportedContent = &Error{Status: http.StatusUnsupportedMediaType, Code: CodeUnsupportedContent}
	// ErrNoSignedAttributes is a malformed CMS in the sense of RFC 5652
	// 5.3 (signedAttrs MUST be present unless eContentType is id-data):
	// 400, as RFC 8995 5.6 answers a malformed request.
	ErrNoSignedAttributes = &Error{Status: http.StatusBadRequest, Code: CodeNoSignedAttributes}
	ErrBadSignature       = &Error{Status: http.StatusForbidden, Code: CodeBadSignature}
	ErrUntrusted          = &Error{Status: http.StatusForbidden, Code: CodeUntrusted}
	ErrWrongSigner        = &Error{Status: http.StatusForbidden, Code: CodeWrongSigner}
	ErrExpired            = &Error{Status: http.StatusForbidden, Code: CodeExpired}
	ErrNonceMismatch      = &Error{Status: http.StatusForbidden, Code: CodeNonceMismatch}
	ErrSerialMismatch     = &Error{Status: http.StatusForbidden, Code: CodeSerialMismatch}
	ErrProximityMismatch  = &Error{Status: http.StatusUnauthorized, Code: CodeProximityMismatch}
	ErrPriorMismatch      = &Error{Status: http.StatusForbidden, Code: CodePriorMismatch}
)

// fail returns a new *Error of sentinel's code and status.
func fail(sentinel *Error, format string, args ...any) *Error {
	return &Error{Status: sentinel.Status, Code: sentinel.Code, Reason: fmt.Sprintf(format, args...)}
}

// failWrap is fail with an underlying cause.
func failWrap(sentinel *Error, err error, format string, args ...any) *Error {
	e := fail(sentinel, format, args...)
	e.Err = err
	return e
}

// withStatus returns a copy of e answering with status instead.
func withStatus(e *Error, status int) *Error {
	c := *e
	c.Status = status
	return &c
}
