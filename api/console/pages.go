package console

import (
	"errors"
	"math"
	"net/http"
	"net/url"

	"duebell/internal/input"
	"duebell/repo"
	"duebell/templates"
)

// searchData is the search page: the form as typed, and the results.
type searchData struct {
	Q        url.Values
	Searched bool
	Page     repo.NoticePage
	NextURL  string
	Statuses []string
	Kinds    []string
}

// allStatuses are the notice states, in the order a notice moves through them.
var allStatuses = []string{"pending", "sending", "sent", "delivered", "undelivered", "suppressed", "failed", "skipped"}

func (c *Console) search(w http.ResponseWriter, r *http.Request, s session) {
	q := r.URL.Query()
	d := searchData{Q: q, Statuses: allStatuses, Kinds: templates.Kinds()}
	v := view{Title: "Delivery log", Session: &s, Data: &d}
	f := repo.NoticeFilter{CustomerRef: q.Get("customer_ref"), Phone: q.Get("phone"), Email: q.Get("email"),
		PlanRef: q.Get("plan_ref"), Kind: q.Get("kind"), Channel: q.Get("channel"), Status: q.Get("status")}
	p := c.prefsOf(r)
	var ok1, ok2 bool
	f.Since, ok1 = parseLocalTime(q.Get("since"), p.loc)
	f.Until, ok2 = parseLocalTime(q.Get("until"), p.loc)
	if !ok1 || !ok2 {
		v.Error = trf(p.lang, "Since/until: type a date such as 2025-03-10 or 2025-03-10 08:00 (%s).", p.loc)
		c.render(w, r, http.StatusUnprocessableEntity, "search", v)
		return
	}
	if err := f.Normalize(); err != nil {
		v.Error = err.Error()
		c.render(w, r, http.StatusUnprocessableEntity, "search", v)
		return
	}
	page, err := c.cfg.Store.SearchNotifications(r.Context(), f, repo.DefaultSearchLimit, q.Get("cursor"))
	if errors.Is(err, repo.ErrInvalid) {
		v.Error = err.Error()
		c.render(w, r, http.StatusUnprocessableEntity, "search", v)
		return
	}
	if err != nil {
		c.internal(w, r, s, err)
		return
	}
	d.Page, d.Searched = page, true
	if page.NextCursor != "" {
		next := url.Values{}
		for k, vs := range q {
			if k != "cursor" {
				next[k] = vs
			}
		}
		next.Set("cursor", page.NextCursor)
		d.NextURL = "/console/notifications?" + next.Encode()
	}
	c.render(w, r, http.StatusOK, "search", v)
}

// noticeData is the notice page.
type noticeData struct {
	N              repo.NoticeDetail
	State          noticeState
	IdempotencyKey string // one per rendered form: a double submit queues once
	Reason         string
	Channel        string
	Force          bool
}

func (c *Console) notice(w http.ResponseWriter, r *http.Request, s session) {
	id, ok := input.PositiveInt(r.PathValue("id"), math.MaxInt64) // +5 and 05 are not notice 5
	if !ok {
		c.fail(w, r, s, http.StatusNotFound, trf(c.prefsOf(r).lang, "There is no notice %q.", r.PathValue("id")))
		return
	}
	var flash string
	if r.URL.Query().Get("resent") != "" {
		flash = "Resend queued. This is the new notice; the dispatcher renders and sends it to the contact on file."
	}
	c.showNotice(w, r, s, http.StatusOK, id, noticeData{}, flash, "")
}

// showNotice renders notice id with the resend form as given (kept after a
// refused resend so the reason is not lost).
func (c *Console) showNotice(w http.ResponseWriter, r *http.Request, s session, status int, id int64, form noticeData, flash, errMsg string) {
	d, err := c.cfg.Store.GetNotificationDetail(r.Context(), id)
	if errors.Is(err, repo.ErrNotFound) {
		c.fail(w, r, s, http.StatusNotFound, trf(c.prefsOf(r).lang, "There is no notice %d.", id))
		return
	}
	if err != nil {
		c.internal(w, r, s, err)
		return
	}
	form.N = d
	p := c.prefsOf(r)
	form.State = describeNotice(d, c.cfg.Now(), p.lang, p.loc)
	form.IdempotencyKey = randomToken(16)
	if form.Channel == "" {
		form.Channel = d.Channel
	}
	c.render(w, r, status, "notice", view{Title: trf(p.lang, "Notice %d", id), Session: &s,
		Data: &form, Flash: flash, Error: errMsg})
}

// auditData is the audit page.
type auditData struct {
	Actor   string
	Since   string
	Entries []repo.AuditEntry
}

func (c *Console) audit(w http.ResponseWriter, r *http.Request, s session) {
	q := r.URL.Query()
	d := auditData{Actor: q.Get("actor"), Since: q.Get("since")}
	v := view{Title: "Audit trail", Session: &s, Data: &d}
	p := c.prefsOf(r)
	since, ok := parseLocalTime(d.Since, p.loc)
	if !ok {
		v.Error = trf(p.lang, "Since: type a date such as 2025-03-10 or 2025-03-10 08:00 (%s).", p.loc)
		c.render(w, r, http.StatusUnprocessableEntity, "audit", v)
		return
	}
	entries, err := c.cfg.Store.ListAudit(r.Context(), since, d.Actor, 200)
	if err != nil {
		c.internal(w, r, s, err)
		return
	}
	d.Entries = entries
	c.render(w, r, http.StatusOK, "audit", v)
}
