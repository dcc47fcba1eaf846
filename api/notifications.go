package api

import (
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"duebell/internal/input"
	"duebell/repo"
)

// supportRoutes registers the support console's API and the web console:
// viewers search and read, operators also resend.
func (s *server) supportRoutes(mux *routeMux) {
	readers := []Role{RoleViewer, RoleOperator}
	mux.Handle("GET /api/v1/notifications", s.auth(s.listNotifications, readers...))
	mux.Handle("GET /api/v1/notifications/{id}", s.auth(s.getNotification, readers...))
	mux.Handle("POST /api/v1/notifications/{id}/resend", s.auth(s.resendNotification, RoleOperator))
	mux.Handle("POST /api/v1/resends", s.auth(s.bulkResend, RoleOperator))
	mux.Handle("GET /api/v1/audit", s.auth(s.listAudit, readers...))
	s.mountConsole(mux)
}

// GET /api/v1/notifications?customer_ref=&phone=&email=&plan_ref=&kind=&channel=&status=&since=&until=&limit=&cursor=
func (s *server) listNotifications(w http.ResponseWriter, r *http.Request) error {
	f, limit, cursor, err := noticeQuery(r.URL.Query())
	if err != nil {
		return err
	}
	page, err := s.cfg.Repo.SearchNotifications(r.Context(), f, limit, cursor)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

// noticeQuery reads the search's query string (already checked as text by
// checkQuery): the normalized filter, the limit and the cursor.
func noticeQuery(q url.Values) (f repo.NoticeFilter, limit int, cursor string, err error) {
	f = repo.NoticeFilter{CustomerRef: q.Get("customer_ref"), Phone: q.Get("phone"), Email: q.Get("email"),
		PlanRef: q.Get("plan_ref"), Kind: q.Get("kind"), Channel: q.Get("channel"), Status: q.Get("status")}
	if f.Since, err = queryTime(q.Get("since"), "since"); err != nil {
		return f, 0, "", err
	}
	if f.Until, err = queryTime(q.Get("until"), "until"); err != nil {
		return f, 0, "", err
	}
	limit = repo.DefaultSearchLimit
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 {
			return f, 0, "", invalid("limit", "want a positive integer (at most %d are returned)", repo.MaxSearchLimit)
		}
	}
	if err := f.Normalize(); err != nil {
		return f, 0, "", err
	}
	cursor = q.Get("cursor")
	if _, err := repo.ParseCursor(cursor); err != nil {
		return f, 0, "", err
	}
	return f, limit, cursor, nil
}

// GET /api/v1/notifications/{id}: the notice, its content, attempts and resends.
func (s *server) getNotification(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	d, err := s.cfg.Repo.GetNotificationDetail(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

// pathID reads the {id} path value as a notification id.
func pathID(r *http.Request) (int64, error) {
	id, ok := input.PositiveInt(r.PathValue("id"), math.MaxInt64)
	if !ok {
		return 0, invalid("id", "want a positive integer notification id")
	}
	return id, nil
}

// queryTime parses an optional RFC 3339 filter time between 2000 and 2100.
func queryTime(s, field string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := input.ParseRFC3339(s)
	if err != nil {
		return time.Time{}, invalid(field, "want an RFC 3339 time such as 2025-03-10T08:00:00+08:00")
	}
	if err := input.Instant(t); err != nil {
		return time.Time{}, invalid(field, "%s", err)
	}
	return t, nil
}
