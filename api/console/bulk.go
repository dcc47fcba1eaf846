package console

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"duebell/repo"
	"duebell/templates"
)

// bulkStatuses are the states a bulk resend can select (queued notices go
// out anyway).
var bulkStatuses = []string{"failed", "undelivered", "sent", "delivered", "suppressed", "skipped"}

// bulkData is the bulk resend page: the form as typed, and a dry run's or
// a run's result.
type bulkData struct {
	F        url.Values
	Statuses []string
	Kinds    []string
	Result   *repo.BulkResendResult
	Skipped  []skipCount
	Ran      bool // Result is a real run, not a dry run
}

type skipCount struct {
	Reason string
	Count  int
}

// bulkForm shows the bulk resend form, prefilled for the last hour's
// failed SMS (the usual provider outage).
func (c *Console) bulkForm(w http.ResponseWriter, r *http.Request, s session) {
	if !s.CanResend() {
		c.fail(w, r, s, http.StatusForbidden, trf(c.prefsOf(r).lang,
			"Your token's role (%s) may only read. Resending needs an operator token.", s.Role))
		return
	}
	f := url.Values{"status": {"failed"}, "channel": {"sms"}}
	c.renderBulk(w, r, s, http.StatusOK, &bulkData{F: f}, "")
}

// bulkResend runs the API's bulk resend (POST /api/v1/resends) from the
// form: action=dry_run counts and samples and changes nothing; action=run
// queues the resends as one audited action with the reason, as the
// session's token.
func (c *Console) bulkResend(w http.ResponseWriter, r *http.Request, s session) {
	lang := c.prefsOf(r).lang
	_ = r.ParseForm()
	d := &bulkData{F: url.Values{}}
	for _, k := range []string{"status", "channel", "kind", "provider", "since", "until", "reason"} {
		d.F.Set(k, strings.TrimSpace(r.PostForm.Get(k)))
	}
	p := c.prefsOf(r)
	f := repo.BulkFilter{Status: d.F.Get("status"), Channel: d.F.Get("channel"), Kind: d.F.Get("kind"), Provider: d.F.Get("provider")}
	var ok1, ok2 bool
	f.Since, ok1 = parseLocalTime(d.F.Get("since"), p.loc)
	f.Until, ok2 = parseLocalTime(d.F.Get("until"), p.loc)
	if !ok1 || !ok2 {
		c.renderBulk(w, r, s, http.StatusUnprocessableEntity, d, trf(lang, "From/until: type a date such as 2025-03-10 or 2025-03-10 08:00 (%s).", p.loc))
		return
	}
	if d.F.Get("reason") == "" {
		c.renderBulk(w, r, s, http.StatusUnprocessableEntity, d, tr(lang, "Type the reason for resending; it is stored in the audit trail."))
		return
	}
	run := r.PostForm.Get("action") == "run"
	res, err := c.cfg.Store.ResendMatching(r.Context(), repo.BulkResendInput{Filter: f, Reason: d.F.Get("reason"),
		Actor: s.Name, DryRun: !run, Now: c.cfg.Now()})
	if errors.Is(err, repo.ErrInvalid) {
		c.renderBulk(w, r, s, http.StatusUnprocessableEntity, d, tr(lang, "Not resent:")+" "+err.Error())
		return
	}
	if err != nil {
		c.internal(w, r, s, err)
		return
	}
	d.Result, d.Ran = &res, run
	for reason, n := range res.Skipped {
		d.Skipped = append(d.Skipped, skipCount{reason, n})
	}
	sort.Slice(d.Skipped, func(i, j int) bool { return d.Skipped[i].Reason < d.Skipped[j].Reason })
	if run {
		c.cfg.Logger.LogAttrs(r.Context(), slog.LevelInfo, "console bulk resend", slog.String("token", s.Name),
			slog.Int("matched", res.Matched), slog.Int("queued", res.Count))
	}
	c.renderBulk(w, r, s, http.StatusOK, d, "")
}

func (c *Console) renderBulk(w http.ResponseWriter, r *http.Request, s session, status int, d *bulkData, errMsg string) {
	d.Statuses, d.Kinds = bulkStatuses, templates.Kinds()
	c.render(w, r, status, "bulk", view{Title: "Bulk resend", Session: &s, Data: d, Error: errMsg})
}
