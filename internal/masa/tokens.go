package masa

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
)

// tokenPrefix marks Landfall MASA secrets, so that they are recognisable
// in leaked-secret scans.
const tokenPrefix = "lfmasa_"

// CreateToken makes a new admin API token and returns its secret, which is
// shown once: the store keeps only its SHA-256.
func (s *Service) CreateToken(ctx context.Context, name string, role Role) (Token, string, error) {
	if !ValidRole(role) {
		return Token{}, "", Unprocessable("role must be admin, factory, sales or auditor")
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return Token{}, "", err
	}
	secret := tokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(secret))
	t, err := s.store.CreateToken(ctx, Token{Name: name, Role: role, SHA256: sum[:], CreatedAt: s.clock()})
	return t, secret, err
}

// Authenticate returns the token whose secret is given (401 otherwise).
func (s *Service) Authenticate(ctx context.Context, secret string) (Token, error) {
	if !strings.HasPrefix(secret, tokenPrefix) || len(secret) > 128 {
		return Token{}, &Error{Status: http.StatusUnauthorized, Reason: "invalid token"}
	}
	sum := sha256.Sum256([]byte(secret))
	t, err := s.store.TokenBySecret(ctx, sum[:])
	if errors.Is(err, ErrNotFound) {
		return Token{}, &Error{Status: http.StatusUnauthorized, Reason: "invalid token"}
	}
	return t, err
}
