package store

import (
	"errors"
	"fmt"
	"strings"

	"github.com/landfall-io/landfall/internal/pgerr"
)

// Sentinel errors the store's callers branch on with errors.Is.
var (
	// ErrNotFound: the named row does not exist. *NotFoundError says which.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the change collides with existing state (a manufacturer
	// that pledges still reference, a name already taken, ...).
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the input breaks a rule of the data (unknown decision,
	// malformed certificate, limit out of range, ...).
	ErrInvalid = errors.New("invalid")
	// ErrUnauthenticated: a bearer token that is unknown or revoked.
	ErrUnauthenticated = errors.New("unknown or revoked token")
	// ErrUnavailable: the database cannot be reached; retry later.
	ErrUnavailable = errors.New("database unavailable")
)

// NotFoundError names the row that does not exist. It matches ErrNotFound.
type NotFoundError struct {
	Kind string // "pledge", "manufacturer", ...
	Key  string // its id or natural key
}

func (e *NotFoundError) Error() string { return fmt.Sprintf("%s %s not found", e.Kind, e.Key) }

// Is makes errors.Is(err, ErrNotFound) true.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

func notFound(kind string, key any) error {
	return &NotFoundError{Kind: kind, Key: fmt.Sprint(key)}
}

// reasonError carries a client-safe reason and matches its sentinel.
type reasonError struct {
	kind   error
	reason string
}

func (e *reasonError) Error() string        { return e.reason }
func (e *reasonError) Is(target error) bool { return target == e.kind }

func invalidf(format string, args ...any) error {
	return &reasonError{kind: ErrInvalid, reason: fmt.Sprintf(format, args...)}
}

func conflictf(format string, args ...any) error {
	return &reasonError{kind: ErrConflict, reason: fmt.Sprintf(format, args...)}
}

// RowError is one rejected row of an import: its line (CSV: the line in
// the file, the header being line 1; JSON: the entry's position in
// "entries", from 1) and why.
type RowError struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// ImportError lists every rejected row of an import that changed nothing.
type ImportError struct {
	Rows []RowError
}

func (e *ImportError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "import rejected: %d bad row(s)", len(e.Rows))
	for i, r := range e.Rows {
		if i == 5 {
			fmt.Fprintf(&b, "; ...")
			break
		}
		fmt.Fprintf(&b, "; line %d: %s", r.Line, r.Reason)
	}
	return b.String()
}

// Is makes an import error match ErrInvalid too.
func (e *ImportError) Is(target error) bool { return target == ErrInvalid }

// unavailableError wraps a connection failure; it matches ErrUnavailable
// and keeps the cause for logs.
type unavailableError struct {
	op  string
	err error
}

func (e *unavailableError) Error() string {
	return "store: " + e.op + ": database unavailable: " + e.err.Error()
}
func (e *unavailableError) Unwrap() error        { return e.err }
func (e *unavailableError) Is(target error) bool { return target == ErrUnavailable }

// classify wraps err with op, marking failures to reach the database so
// that callers can tell "try again later" from a bug.
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	var re *reasonError
	var nf *NotFoundError
	var ie *ImportError
	if errors.As(err, &re) || errors.As(err, &nf) || errors.As(err, &ie) || errors.Is(err, ErrUnauthenticated) {
		return err
	}
	if errors.Is(err, ErrUnavailable) {
		return err
	}
	if isUnreachable(err) {
		return &unavailableError{op: op, err: err}
	}
	return wrapf(op, err)
}

// isUnreachable and pgCode are the classification every Landfall store
// shares (internal/pgerr).
func isUnreachable(err error) bool { return pgerr.Unreachable(err) }

func pgCode(err error) string { return pgerr.Code(err) }

const (
	codeUniqueViolation     = pgerr.UniqueViolation
	codeForeignKeyViolation = pgerr.ForeignKeyViolation
	codeCheckViolation      = pgerr.CheckViolation
)
