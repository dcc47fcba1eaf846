package console

import (
	"net/http"

	"duebell/repo"
)

// overviewData is the overview page: a chart per channel and the queue.
type overviewData struct {
	Charts   []chart
	Overview repo.Overview
	Queued   map[string]int64 // "pending" and "sending" summed over channels
	From, To string
}

// overview is the first page after sign-in: what went out, what failed and
// what the carriers could not deliver, per channel and day over the last 30
// days in the viewer's zone, and how much is waiting to go out.
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
		To: days[len(days)-1].Format("2006-01-02")}
	for _, ch := range []string{"sms", "email"} {
		d.Charts = append(d.Charts, buildChart(ch, days, o.Days, p.lang))
	}
	for _, q := range o.Queue {
		d.Queued[q.Status] += q.Count
	}
	c.render(w, r, http.StatusOK, "overview", view{Title: "Overview", Session: &s, Data: &d})
}
