package console_test

import (
	"strings"
	"testing"
	"time"

	"duebell/repo/repotest"
)

// TestCustomerPageShowsCollectionBudget: support sees how many overdue
// notices went to the borrower today and this week against the limits,
// counted across plans and channels, security notices left out, and when
// the next may go.
func TestCustomerPageShowsCollectionBudget(t *testing.T) {
	t.Parallel()
	b := setup(t)
	today, threeDaysAgo := t0.Add(-time.Hour), t0.Add(-72*time.Hour)
	for _, n := range []repotest.ReminderOpts{
		{PlanRef: "p1", Seq: 1, Stage: "overdue_1", Channel: "sms", SentAt: &today},
		{PlanRef: "p1", Seq: 1, Stage: "overdue_1", Channel: "email", SentAt: &threeDaysAgo},
		{PlanRef: "p1", Seq: 2, Stage: "verification_changed", Kind: "verification_changed", Channel: "sms", SentAt: &today},
	} {
		n.Created = n.SentAt.Add(-time.Minute)
		repotest.Reminder(t, b.r, n)
	}
	w := b.browser(t)
	w.login(viewerToken)
	_, body, _ := w.getAs("/console/customers/c1", "en")
	for _, want := range []string{`id="collection-today">1 / 1`, `id="collection-week">2 / 3`,
		"budget spent: waits until 2026-11-11"} {
		if !strings.Contains(body, want) {
			t.Errorf("customer page lacks %q", want)
		}
	}
	// c2 got none: the whole budget is left.
	_, body, _ = w.getAs("/console/customers/c2", "zh-CN")
	if !strings.Contains(body, `id="collection-today">0 / 1`) || !strings.Contains(body, "近 7 天已发") ||
		strings.Contains(body, `id="collection-next"`) {
		t.Errorf("c2's page does not show an unused budget")
	}
}
