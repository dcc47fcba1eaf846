package api

import (
	"fmt"
	"net/http"
	"strings"

	"duebell/repo"
)

// resendBody is the single resend request. It has no address field: a
// resend goes to the contact on file, and an unknown field such as "to" is
// refused (400 unknown_field).
type resendBody struct {
	Reason  string `json:"reason"`
	Channel string `json:"channel"`
	Force   bool   `json:"force"`
}

// POST /api/v1/notifications/{id}/resend, optionally with an Idempotency-Key header.
func (s *server) resendNotification(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var b resendBody
	if err := s.decode(w, r, &b); err != nil {
		return err
	}
	if strings.TrimSpace(b.Reason) == "" {
		return invalid("reason", "is required: say why the notice is sent again")
	}
	res, err := s.cfg.Repo.Resend(r.Context(), repo.ResendInput{ID: id, Channel: b.Channel, Reason: strings.TrimSpace(b.Reason),
		Actor: info(r).token, Force: b.Force, IdempotencyKey: r.Header.Get("Idempotency-Key"), Now: s.cfg.Now()})
	if err != nil {
		return err
	}
	w.Header().Set("Location", fmt.Sprintf("/api/v1/notifications/%d", res.Notification.ID))
	status := http.StatusCreated
	if res.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
		status = http.StatusOK
	}
	writeJSON(w, status, res.Notification)
	return nil
}

// bulkBody is the bulk resend request.
type bulkBody struct {
	Filter struct {
		Status   string `json:"status"`
		Channel  string `json:"channel"`
		Kind     string `json:"kind"`
		Provider string `json:"provider"`
		Since    string `json:"since"`
		Until    string `json:"until"`
	} `json:"filter"`
	Reason string `json:"reason"`
	DryRun bool   `json:"dry_run"`
}

// POST /api/v1/resends: resend every notice matching the filter, e.g. every
// SMS that failed during an outage; dry_run counts and samples.
func (s *server) bulkResend(w http.ResponseWriter, r *http.Request) error {
	var b bulkBody
	if err := s.decode(w, r, &b); err != nil {
		return err
	}
	if strings.TrimSpace(b.Reason) == "" {
		return invalid("reason", "is required: say why the notices are sent again")
	}
	f := repo.BulkFilter{Status: b.Filter.Status, Channel: b.Filter.Channel, Kind: b.Filter.Kind, Provider: b.Filter.Provider}
	var err error
	if f.Since, err = queryTime(b.Filter.Since, "filter.since"); err != nil {
		return err
	}
	if f.Until, err = queryTime(b.Filter.Until, "filter.until"); err != nil {
		return err
	}
	res, err := s.cfg.Repo.ResendMatching(r.Context(), repo.BulkResendInput{Filter: f, Reason: strings.TrimSpace(b.Reason),
		Actor: info(r).token, DryRun: b.DryRun, Now: s.cfg.Now()})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}
