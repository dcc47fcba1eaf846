package console

import (
	"net/http"
	"strconv"
	"time"

	"duebell/repo"
)

// overviewData is the overview page: a chart per channel, the queue and
// which reminder works.
type overviewData struct {
	Charts   []chart
	Overview repo.Overview
	Queued   map[string]int64 // "pending" and "sending" summed over channels
	From, To string
	// Effect is the effect report of the reminders sent from EffectFrom.
	Effect     []effectRow
	EffectFrom string
	Windows    []int // days of the report's windows
	MinBase    int   // fewest no-notice installments a baseline share is shown for
	BaseCols   int   // the baseline's columns: its count and a share per window
}

// effectRow is one effect report row, its shares formatted.
type effectRow struct {
	repo.EffectRow
	Paid, Base []string // "40.0%", or "—"
}

// effectDays is how far back the overview's effect table looks.
const effectDays = 90

// overview is the first page after sign-in: what went out, what failed and
// what the carriers could not deliver, per channel and day over the last 30
// days in the viewer's zone, how much is waiting to go out, and which
// reminder works over the last 90 days (recomputed every effectTTL).
func (c *Console) overview(w http.ResponseWriter, r *http.Request, s session) {
	p := c.prefsOf(r)
	now := c.cfg.Now()
	days, since, until := dayRange(now, p.loc)
	o, err := c.cfg.Store.GetOverview(r.Context(), since, until, now, p.loc)
	if err != nil {
		c.internal(w, r, s, err)
		return
	}
	d := overviewData{Overview: o, Queued: map[string]int64{}, From: days[0].Format("2006-01-02"),
		To: days[len(days)-1].Format("2006-01-02"), Windows: repo.EffectWindows, MinBase: repo.EffectMinBaseline,
		BaseCols: len(repo.EffectWindows) + 1}
	for _, ch := range []string{"sms", "email"} {
		d.Charts = append(d.Charts, buildChart(ch, days, o.Days, p.lang))
	}
	for _, q := range o.Queue {
		d.Queued[q.Status] += q.Count
	}
	effectSince := until.AddDate(0, 0, -effectDays)
	rows, err := c.effectReport(r.Context(), effectSince, now)
	if err != nil {
		c.internal(w, r, s, err)
		return
	}
	d.EffectFrom = effectSince.In(p.loc).Format(time.DateOnly)
	for _, row := range rows {
		er := effectRow{EffectRow: row}
		for _, sh := range row.Shares {
			er.Paid = append(er.Paid, percent(sh.Ratio()))
		}
		for _, sh := range row.Base {
			er.Base = append(er.Base, percent(sh.BaseRatio()))
		}
		d.Effect = append(d.Effect, er)
	}
	c.render(w, r, http.StatusOK, "overview", view{Title: "Overview", Session: &s, Data: &d})
}

// percent formats a share as "40.0%", or "—" when there is none.
func percent(ratio float64, ok bool) string {
	if !ok {
		return "—"
	}
	return strconv.FormatFloat(ratio*100, 'f', 1, 64) + "%"
}
