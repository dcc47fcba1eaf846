package notify_test

import (
	"context"
	"strings"
	"testing"

	"duebell/repo"
	"duebell/repo/storetest"
)

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
