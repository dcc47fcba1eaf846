package api

import (
	"errors"
	"net/http"
	"time"

	"duebell/link"
)

// LinkVerifier checks a repayment-link token.
type LinkVerifier interface {
	Verify(token string, now time.Time) (link.Claims, error)
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
	c, err := s.cfg.Links.Verify(tok, s.cfg.Now())
	switch {
	case errors.Is(err, link.ErrExpired):
		return &apiError{http.StatusGone, "expired_token", "the link has expired"}
	case err != nil:
		return &apiError{http.StatusBadRequest, "invalid_token", "the link is not valid"}
	}
	writeJSON(w, http.StatusOK, linkClaims{Valid: true, NotificationID: c.NotificationID, PlanRef: c.PlanRef,
		Seq: c.Seq, ExpiresAt: c.Expires.UTC()})
	return nil
}
