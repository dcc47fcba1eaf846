package api

import (
	"net/http"
	"strconv"
)

// GET /api/v1/audit?since=&actor=&limit=: the audit trail, newest first.
func (s *server) listAudit(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	since, err := queryTime(q.Get("since"), "since")
	if err != nil {
		return err
	}
	limit := 100
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 {
			return invalid("limit", "want a positive integer (at most 1000 are returned)")
		}
	}
	entries, err := s.cfg.Repo.ListAudit(r.Context(), since, q.Get("actor"), limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": entries})
	return nil
}
