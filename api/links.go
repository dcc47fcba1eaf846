package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"duebell/link"
	"duebell/repo"
)

// LinkVerifier checks a repayment-link token.
type LinkVerifier interface {
	Verify(token string, now time.Time) (link.Claims, error)
	// LandingURL is the repayment page with token in ?t=, where a short
	// link redirects.
	LandingURL(token string) string
}

type linkClaims struct {
	Valid          bool      `json:"valid"`
	NotificationID int64     `json:"notification_id"`
	PlanRef        string    `json:"plan_ref"`
	Seq            int       `json:"seq,omitempty"`
	ExpiresAt      time.Time `json:"expires_at"`
}

// verifyLink lets the lender's repayment page check the token a borrower
// arrived with (?t=). The token is the credential, so no bearer token is
// needed; the answer carries no personal data.
func (s *server) verifyLink(w http.ResponseWriter, r *http.Request) error {
	tok := r.URL.Query().Get(link.QueryParam)
	if tok == "" {
		return &apiError{http.StatusBadRequest, "missing_token", "query parameter t is required"}
	}
	c, err := s.checkLink(r.Context(), tok)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, linkClaims{Valid: true, NotificationID: c.NotificationID, PlanRef: c.PlanRef,
		Seq: c.Seq, ExpiresAt: c.Expires.UTC()})
	return nil
}

// shortLink serves a short link (links.short_base_url, path /r/{token}):
// a valid token redirects to the repayment page with the token in ?t=,
// where the page verifies it as usual.
func (s *server) shortLink(w http.ResponseWriter, r *http.Request) error {
	tok := r.PathValue("token")
	if _, err := s.checkLink(r.Context(), tok); err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, s.cfg.Links.LandingURL(tok), http.StatusFound)
	return nil
}

// checkLink verifies tok and fills in, for a compact token that names only
// its notice, the notice's plan ref and installment seq.
func (s *server) checkLink(ctx context.Context, tok string) (link.Claims, error) {
	c, err := s.cfg.Links.Verify(tok, s.cfg.Now())
	switch {
	case errors.Is(err, link.ErrExpired):
		return c, &apiError{http.StatusGone, "expired_token", "the link has expired"}
	case err != nil:
		return c, &apiError{http.StatusBadRequest, "invalid_token", "the link is not valid"}
	}
	if link.IsCompact(tok) {
		t, err := s.cfg.Repo.GetLinkTarget(ctx, c.NotificationID)
		switch {
		case errors.Is(err, repo.ErrNotFound):
			// Authentic but its notice is gone (retention): nothing to pay through it.
			return c, &apiError{http.StatusGone, "expired_token", "the link has expired"}
		case err != nil:
			return c, fmt.Errorf("link target: %w", err)
		}
		c.PlanRef, c.Seq = t.PlanRef, t.Seq
	}
	return c, nil
}
