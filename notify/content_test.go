package notify_test

// What a message says when the lender's data is unusual: a text too long
// for its SMS parts, a plan without a title, nothing owed.

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"duebell/internal/syncbuf"
	"duebell/notify"
	"duebell/repo"
	"duebell/repo/storetest"
	"duebell/scheduler"
	"duebell/templates"
)

const family = "👨\u200d👩\u200d👧\u200d👦"

// The lender's own text may make an SMS longer than the templates were
// fitted to: a 200-character plan title and a 100-character merchant's name
// made a 4-part SMS, each part billed. They are cut, "..." marking it, until
// the SMS fits 2 parts; the email keeps them whole. What cutting cannot fix
// (an emoji makes the whole SMS UCS-2) goes whole, with a WARN.
func TestSMSTooLongForItsPartsIsShortened(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, title, merchant string
		cut                   bool
	}{
		{"long title and merchant", strings.Repeat("Phone X Pro Max ", 12), strings.Repeat("Mega Store ", 9), true},
		{"emoji", "Gift 🎁", "Shop", false},
		// Cut between characters as shown: a family emoji is seven code
		// points, a flag two.
		{"long emoji title", strings.Repeat(family, 30), "Shop", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs syncbuf.Buffer
			b := setup(t, func(c *notify.Config) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
			storetest.Customer(t, b.r, "c1", func(c *repo.Customer) { c.Locale = "en" })
			storetest.Plan(t, b.r, "p1", "c1", []repo.Date{repo.NewDate(2026, 11, 24)}, func(p *repo.Plan) {
				p.Title, p.Merchant = tc.title, tc.merchant
			})
			if _, err := b.r.QueueDueReminders(context.Background(), sh(11, 21, 8, 0), scheduler.DefaultStages()); err != nil {
				t.Fatal(err)
			}
			if c := b.dispatch(t, sh(11, 21, 10, 0)); c["sent"] != 2 {
				t.Fatalf("counts %v", c)
			}
			sms := b.sms.messages()[0]
			n, enc := templates.SMSSegments(sms.Text)
			warned := strings.Contains(logs.String(), "SMS longer than the templates allow: sent as it is")
			if tc.cut {
				if n > templates.MaxSMSSegments || !strings.Contains(sms.Text, "...") || warned ||
					!strings.HasPrefix(sms.Vars["plan"], "Phone X Pro Max") || !strings.HasSuffix(sms.Vars["plan"], "...") {
					t.Errorf("SMS of %d %s parts, warned %v: %q, vars %v", n, enc, warned, sms.Text, sms.Vars)
				}
			} else if strings.Contains(tc.title, family) {
				kept := strings.TrimSuffix(sms.Vars["plan"], "...")
				if kept == tc.title || strings.ReplaceAll(kept, family, "") != "" || !warned {
					t.Errorf("title cut to %q, warned %v; want whole families, then the WARN", sms.Vars["plan"], warned)
				}
			} else if n <= templates.MaxSMSSegments || !warned || !strings.Contains(sms.Text, tc.title) {
				t.Errorf("SMS of %d %s parts, warned %v: %q; want it whole, over %d parts, with a WARN",
					n, enc, warned, sms.Text, templates.MaxSMSSegments)
			}
			if em := b.email.messages()[0]; !strings.Contains(em.Text, strings.TrimSpace(tc.title)) &&
				!strings.Contains(em.HTML, strings.TrimSpace(tc.title)) {
				t.Errorf("email lost the title: %q", em.Text)
			}
		})
	}
}

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

// A service_closed notice to a borrower who owes nothing carries no link in
// duebell's own text, but link_token is still filled: an Aliyun or Tencent
// template holds the link's fixed part before it, and would otherwise send
// a bare https://pay.example.com/r/.
func TestNothingOwedKeepsTheLinkTokenForProviderTemplates(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	storetest.Customer(t, b.r, "c1")
	storetest.Plan(t, b.r, "p1", "c1", []repo.Date{repo.NewDate(2026, 10, 10)}, func(p *repo.Plan) {
		p.Status = repo.PlanClosed
		p.Installments[0].Paid, p.Installments[0].Status = p.Installments[0].Amount, repo.InstallmentPaid
	})
	if _, _, err := b.r.RecordEvent(ctx, repo.EventInput{Ref: "closed", Kind: "service_closed", Scope: repo.ScopeCustomer,
		CustomerRef: "c1", OccurredAt: sh(11, 21, 9, 0), Now: sh(11, 21, 9, 0), Payload: repo.JSONObject(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.r.ProcessChannelEvents(ctx, sh(11, 21, 9, 0), 0, []string{"sms"}); err != nil {
		t.Fatal(err)
	}
	b.dispatch(t, sh(11, 21, 10, 0))
	sms := b.sms.messages()
	if len(sms) != 1 {
		t.Fatalf("%d SMS, want the service_closed notice", len(sms))
	}
	if strings.Contains(sms[0].Text, "://") || sms[0].Vars["link"] != "" || sms[0].Vars["link_token"] == "" {
		t.Errorf("text %q vars %v: want no link in the text and the token in link_token", sms[0].Text, sms[0].Vars)
	}
	if n := b.notice(t, "sms"); n.Link != "" {
		t.Errorf("the notice records link %q, want none", n.Link)
	}
}
