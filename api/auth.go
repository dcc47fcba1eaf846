package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Role is what a token may do.
type Role string

// Roles: ingest pushes customers, plans and payments; viewer reads;
// operator reads and runs admin actions.
const (
	RoleIngest   Role = "ingest"
	RoleViewer   Role = "viewer"
	RoleOperator Role = "operator"
)

// Token is one accepted bearer token.
type Token struct {
	Name  string // logged and audited instead of the secret
	Token string // the secret, at least 16 bytes
	Role  Role
}

// MinTokenBytes is the shortest accepted token secret.
const MinTokenBytes = 16

type tokenEntry struct {
	name string
	role Role
	hash [sha256.Size]byte
}

func prepareTokens(in []Token) ([]tokenEntry, error) {
	names, secrets := map[string]bool{}, map[string]bool{}
	out := make([]tokenEntry, 0, len(in))
	for i, t := range in {
		switch {
		case t.Name == "":
			return nil, fmt.Errorf("api: token %d: name is required", i)
		case names[t.Name]:
			return nil, fmt.Errorf("api: token %q: duplicate name", t.Name)
		case len(t.Token) < MinTokenBytes:
			return nil, fmt.Errorf("api: token %q: secret must be at least %d bytes", t.Name, MinTokenBytes)
		case secrets[t.Token]:
			return nil, fmt.Errorf("api: token %q: secret is used by another token", t.Name)
		case t.Role != RoleIngest && t.Role != RoleViewer && t.Role != RoleOperator:
			return nil, fmt.Errorf("api: token %q: role %q: want ingest, viewer or operator", t.Name, t.Role)
		}
		names[t.Name], secrets[t.Token] = true, true
		out = append(out, tokenEntry{name: t.Name, role: t.Role, hash: sha256.Sum256([]byte(t.Token))})
	}
	return out, nil
}

// authenticate finds the token presented in the Authorization header. It
// compares against every configured token in constant time (hashes, so the
// secrets' lengths do not leak either) and never stops early.
func (s *server) authenticate(r *http.Request) (tokenEntry, error) {
	if len(r.Header.Values("Authorization")) > 1 {
		return tokenEntry{}, errors.New("more than one Authorization header")
	}
	scheme, secret, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	secret = strings.TrimSpace(secret)
	if !ok || !strings.EqualFold(scheme, "Bearer") || secret == "" {
		return tokenEntry{}, errors.New("missing bearer token")
	}
	h := sha256.Sum256([]byte(secret))
	found := -1
	for i := range s.tokens {
		if subtle.ConstantTimeCompare(h[:], s.tokens[i].hash[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return tokenEntry{}, errors.New("invalid bearer token")
	}
	return s.tokens[found], nil
}

// auth wraps h so that only a valid token with one of roles reaches it.
func (s *server) auth(h handlerFunc, roles ...Role) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, err := s.authenticate(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", "Bearer")
			s.fail(w, r, &apiError{http.StatusUnauthorized, codeUnauthorized, err.Error()})
			return
		}
		info(r).token = tok.name
		if !slices.Contains(roles, tok.role) {
			s.fail(w, r, &apiError{http.StatusForbidden, codeForbidden,
				fmt.Sprintf("role %s may not call %s", tok.role, r.Pattern)})
			return
		}
		if err := checkParams(r); err != nil {
			s.fail(w, r, err)
			return
		}
		if err := h(w, r); err != nil {
			s.fail(w, r, err)
		}
	})
}
