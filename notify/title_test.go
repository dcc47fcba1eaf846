package notify_test

import (
	"context"
	"strings"
	"testing"

	"duebell/repo"
	"duebell/repo/storetest"
	"duebell/scheduler"
)

// A plan pushed without a title is named by the lender's reference (an
// order number the borrower knows): its reminders read `of ""` and
// `“”第1/1期`, naming neither shop nor product.
func TestPlanWithoutATitleIsNamedByItsReference(t *testing.T) {
	t.Parallel()
	for locale, want := range map[string]string{"en": `of "ORD-2026-778"`, "zh-CN": `“ORD-2026-778”第1/1期`} {
		t.Run(locale, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			storetest.Customer(t, b.r, "c1", func(c *repo.Customer) { c.Locale = locale })
			storetest.Plan(t, b.r, "ORD-2026-778", "c1", []repo.Date{repo.NewDate(2026, 11, 24)}, func(p *repo.Plan) {
				p.Title, p.Merchant = "", ""
			})
			if _, err := b.r.QueueDueReminders(context.Background(), sh(11, 21, 8, 0), scheduler.DefaultStages()); err != nil {
				t.Fatal(err)
			}
			b.dispatch(t, sh(11, 21, 10, 0))
			if sms := b.sms.messages(); len(sms) != 1 || !strings.Contains(sms[0].Text, want) || sms[0].Vars["plan"] != "ORD-2026-778" {
				t.Fatalf("SMS %+v, want it to name the plan %s", sms, want)
			}
		})
	}
}
