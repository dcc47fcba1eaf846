package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"duebell/kinds"
	"duebell/repo"
)

// The console's read-only views (customer search and page, overview, effect
// report) and the demo's reset, through the methods that fill them.
func init() {
	register("Views", func(t *testing.T, open Opener) {
		t.Run("FindCustomersByWhatTheCallerSays", func(t *testing.T) { t.Parallel(); viewsTestFindCustomers(t, open(t)) })
		t.Run("FindCustomersExactRefFirstThenByName", func(t *testing.T) { t.Parallel(); viewsTestFindOrder(t, open(t)) })
		t.Run("FindCustomersByTheAddressANoticeWentTo", func(t *testing.T) { t.Parallel(); viewsTestFindByRecipient(t, open(t)) })
		t.Run("CustomerViewShowsTheCustomersOwnRecords", func(t *testing.T) { t.Parallel(); viewsTestCustomerView(t, open(t)) })
		t.Run("CustomerViewNoticesNewestFirstAndCapped", func(t *testing.T) { t.Parallel(); viewsTestNoticeCap(t, open(t)) })
		t.Run("CustomerViewOptOutHistory", func(t *testing.T) { t.Parallel(); viewsTestOptOutHistory(t, open(t)) })
		t.Run("CustomerViewUnknownCustomer", func(t *testing.T) {
			t.Parallel()
			if _, err := open(t).GetCustomerView(context.Background(), "nobody"); !errors.Is(err, repo.ErrNotFound) {
				t.Errorf("unknown customer: err = %v, want ErrNotFound", err)
			}
		})
		t.Run("DeleteCustomersRemovesTheirRecordsOnly", func(t *testing.T) { t.Parallel(); viewsTestDelete(t, open(t)) })
		t.Run("EffectReportCountsPaymentsAfterNotices", func(t *testing.T) { t.Parallel(); viewsTestEffect(t, open(t)) })
		t.Run("EffectReportOneRowPerStageAcrossOffsets", func(t *testing.T) { t.Parallel(); viewsTestEffectOffsets(t, open(t)) })
		t.Run("OverviewCountsByDayInZone", func(t *testing.T) { t.Parallel(); viewsTestOverview(t, open(t)) })
		t.Run("OverviewDaysFollowTheZonesClockChanges", func(t *testing.T) { t.Parallel(); viewsTestOverviewDST(t, open(t)) })
	})
}

var viewsShanghai = viewsZone("Asia/Shanghai")

func viewsZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// Reminder stages of the views' tests: SMS on the due date, SMS and email
// a day after it.
var (
	viewsDueToday = repo.Stage{Name: "due_today", OffsetDays: 0, Kind: kinds.DueToday, Channels: []string{"sms"}}
	viewsOverdue1 = repo.Stage{Name: "overdue_1", OffsetDays: 1, Kind: kinds.Overdue, Channels: []string{"sms", "email"}}
)

// viewsScan runs the due-date scan at at.
func viewsScan(t *testing.T, s Store, at time.Time, stages ...repo.Stage) {
	t.Helper()
	if _, err := s.QueueDueReminders(context.Background(), at, stages); err != nil {
		t.Fatalf("scan at %s: %v", at, err)
	}
}

// viewsDispatch claims every notice due at at and finishes each as the
// dispatcher would after a successful send to the contact on file, with the
// template kind.channel.locale; edit may change an outcome (fail it, defer
// it). It returns the claims.
func viewsDispatch(t *testing.T, s Store, at time.Time, edit func(c repo.Claim, o *repo.Outcome)) []repo.Claim {
	t.Helper()
	ctx := context.Background()
	claims, err := s.ClaimNotifications(ctx, "views", at, at, time.Minute, 1000, 0)
	if err != nil {
		t.Fatalf("claim at %s: %v", at, err)
	}
	var outs []repo.Outcome
	for _, c := range claims {
		to, provider := c.Customer.Phone, "aliyun"
		if c.Channel == "email" {
			to, provider = c.Customer.Email, "smtp"
		}
		sent := at
		msg := fmt.Sprint("msg-", c.ID)
		o := repo.Outcome{ID: c.ID, Status: repo.StatusSent, Provider: provider, Recipient: to, Body: "您的账单已到期",
			Template: c.Kind + "." + c.Channel + "." + c.Locale, ProviderMsgID: msg, SentAt: &sent,
			Attempt: &repo.Attempt{N: c.Attempts, Channel: c.Channel, Provider: provider, StartedAt: at, FinishedAt: at,
				Outcome: repo.OutcomeSent, ProviderMsgID: msg}}
		if edit != nil {
			edit(c, &o)
		}
		outs = append(outs, o)
	}
	if err := s.FinishNotifications(ctx, "views", at, outs); err != nil {
		t.Fatalf("finish at %s: %v", at, err)
	}
	return claims
}

// viewsFail makes o a permanent provider failure.
func viewsFail(o *repo.Outcome) {
	o.Status, o.Reason, o.LastError, o.SentAt, o.ProviderMsgID = repo.StatusFailed, "permanent provider error", "503 upstream down", nil, ""
	o.Attempt.Outcome, o.Attempt.Code, o.Attempt.Error, o.Attempt.ProviderMsgID = repo.OutcomePermanent, "503", "upstream down", ""
}

func viewsPay(t *testing.T, s Store, plan string, seq int, paidAt, now time.Time) {
	t.Helper()
	if _, err := s.RecordPayment(context.Background(), repo.PaymentInput{PlanRef: plan, Seq: seq, Amount: 50000,
		PaidAt: paidAt, Ref: fmt.Sprintf("%s-%d", plan, seq), Now: now}); err != nil {
		t.Fatalf("payment %s/%d: %v", plan, seq, err)
	}
}

func viewsRefs(hits []repo.CustomerHit) []string {
	refs := []string{}
	for _, h := range hits {
		refs = append(refs, h.Ref)
	}
	return refs
}

// Support types what the caller says: a phone in any form, an email in any
// case, a customer or plan ref, a part of a name.
func viewsTestFindCustomers(t *testing.T, s Store) {
	ctx := context.Background()
	dues := []repo.Date{repo.NewDate(2026, 11, 12)}
	Customer(t, s, "c1")
	Plan(t, s, "p1", "c1", dues)
	Customer(t, s, "c2", func(c *repo.Customer) { c.Phone = "+8613900001111" })
	Plan(t, s, "p2", "c2", dues)
	Plan(t, s, "p2b", "c2", dues)
	for _, tt := range []struct {
		q    string
		want []string
	}{
		{"139 0000 1111", []string{"c2"}}, {"+86 139-0000-1111", []string{"c2"}}, {"008613900001111", []string{"c2"}},
		{"13900001111", []string{"c2"}}, {"C1@EXAMPLE.NET", []string{"c1"}}, {" c1 ", []string{"c1"}},
		{"p2", []string{"c2"}}, {"p2b", []string{"c2"}}, {"张", []string{"c1", "c2"}}, {"张三", []string{"c1", "c2"}},
		{"nobody", []string{}}, {"%", []string{}}, {"", []string{}}, {"   ", []string{}},
		{"13700000000", []string{}}, {"c3@example.net", []string{}}, {strings.Repeat("张", 60000), []string{}},
	} {
		hits, err := s.FindCustomers(ctx, tt.q)
		if err != nil {
			t.Fatalf("find %q: %v", tt.q, err)
		}
		if got := viewsRefs(hits); strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("find %q = %v, want %v", tt.q, got, tt.want)
		}
	}
	hits, err := s.FindCustomers(ctx, "c2")
	if err != nil || len(hits) != 1 || hits[0].Plans != 2 || hits[0].Phone != "+8613900001111" {
		t.Errorf("find c2 = %+v, %v; want c2 with its 2 plans", hits, err)
	}
}

// An exact ref comes first, then names in order; a name matches in any
// case, in any script, and % and _ typed by support are plain characters.
func viewsTestFindOrder(t *testing.T, s Store) {
	ctx := context.Background()
	for ref, name := range map[string]string{"wang": "王五", "c3": "wang xiao", "c4": "Amy Wang", "c5": "Zhao_Li",
		"c6": "Lo Li", "c7": "50% Li", "c8": "Émile Ørsted"} {
		Customer(t, s, ref, func(c *repo.Customer) { c.Name = name })
	}
	for _, tt := range []struct {
		q    string
		want []string
	}{
		{"wang", []string{"wang", "c4", "c3"}}, {"WANG", []string{"c4", "c3"}}, {"o_l", []string{"c5"}},
		{"0%", []string{"c7"}}, {"li", []string{"c7", "c6", "c5"}}, {"émile", []string{"c8"}},
		{"ØRSTED", []string{"c8"}},
	} {
		hits, err := s.FindCustomers(ctx, tt.q)
		if err != nil {
			t.Fatalf("find %q: %v", tt.q, err)
		}
		if got := viewsRefs(hits); strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("find %q = %v, want %v", tt.q, got, tt.want)
		}
	}
}

// A borrower who changed number is found by the number a notice went to.
func viewsTestFindByRecipient(t *testing.T, s Store) {
	ctx := context.Background()
	c1 := Customer(t, s, "c1")
	Plan(t, s, "p1", "c1", []repo.Date{repo.NewDate(2026, 11, 12)})
	Customer(t, s, "c2", func(c *repo.Customer) { c.Phone = "+8613900001111" })
	at := time.Date(2026, 11, 12, 10, 0, 0, 0, viewsShanghai)
	viewsScan(t, s, at, viewsDueToday)
	if claims := viewsDispatch(t, s, at, nil); len(claims) != 1 {
		t.Fatalf("sent %d notices, want 1", len(claims))
	}
	c1.Phone = "+8613700002222"
	if _, err := s.UpsertCustomer(ctx, c1, at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string]string{"138 1234 5678": "c1", "13700002222": "c1", "13900001111": "c2"} {
		hits, err := s.FindCustomers(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if got := viewsRefs(hits); len(got) != 1 || got[0] != want {
			t.Errorf("find %q = %v, want [%s]", q, got, want)
		}
	}
}

// A customer's page shows their plans (newest first) with installments,
// their notices, payments, events and the audited actions on their notices,
// and none of their neighbour's.
func viewsTestCustomerView(t *testing.T, s Store) {
	ctx := context.Background()
	dues := []repo.Date{repo.NewDate(2026, 11, 12), repo.NewDate(2026, 12, 12), repo.NewDate(2027, 1, 12)}
	Customer(t, s, "c1")
	Plan(t, s, "p1", "c1", dues)
	Plan(t, s, "p1b", "c1", dues[2:])
	Customer(t, s, "c2", func(c *repo.Customer) { c.Phone = "+8613900001111" })
	Plan(t, s, "p2", "c2", dues[:1])
	at := time.Date(2026, 11, 12, 10, 0, 0, 0, viewsShanghai)
	viewsScan(t, s, at, viewsDueToday)
	claims := viewsDispatch(t, s, at, nil)
	notice := map[string]int64{}
	for _, c := range claims {
		notice[c.Customer.Ref] = c.ID
	}
	if len(claims) != 2 || notice["c1"] == 0 || notice["c2"] == 0 {
		t.Fatalf("claims %d (%v), want one notice each for c1 and c2", len(claims), notice)
	}
	for ref, actor := range map[string]string{"c1": "ops", "c2": "other"} {
		if err := s.AppendAudit(ctx, repo.AuditEntry{At: at.Add(time.Hour), Actor: actor, Action: "notification.resend",
			Target: fmt.Sprintf("notification:%d", notice[ref]), Detail: json.RawMessage(`{"reason":"客户来电"}`)}); err != nil {
			t.Fatal(err)
		}
	}
	viewsPay(t, s, "p1", 1, at.Add(2*time.Hour), at.Add(2*time.Hour))
	viewsPay(t, s, "p2", 1, at.Add(3*time.Hour), at.Add(3*time.Hour))
	for ref, cust := range map[string]string{"e1": "c1", "e2": "c2"} {
		if _, _, err := s.RecordEvent(ctx, repo.EventInput{Ref: ref, Kind: kinds.CardUnbound, Scope: "customer",
			CustomerRef: cust, OccurredAt: at, Payload: repo.JSONObject(`{}`), Now: at}); err != nil {
			t.Fatal(err)
		}
	}

	v, err := s.GetCustomerView(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if v.Customer.Ref != "c1" {
		t.Errorf("customer = %s, want c1", v.Customer.Ref)
	}
	var plans []string
	for _, p := range v.Plans {
		var insts []string
		for _, in := range p.Installments {
			insts = append(insts, fmt.Sprintf("%d:%s:%s", in.Seq, in.DueDate, in.Status))
		}
		plans = append(plans, p.Ref+"("+p.CustomerRef+") "+strings.Join(insts, " "))
	}
	want := []string{"p1b(c1) 1:2027-01-12:pending",
		"p1(c1) 1:2026-11-12:paid 2:2026-12-12:pending 3:2027-01-12:pending"}
	if strings.Join(plans, "; ") != strings.Join(want, "; ") {
		t.Errorf("plans = %v, want %v", plans, want)
	}
	if len(v.Notices) != 1 || v.Notices[0].ID != notice["c1"] || v.Notices[0].Status != repo.StatusSent ||
		v.Notices[0].PlanRef != "p1" || v.Notices[0].Seq != 1 || v.NoticesTruncated {
		t.Errorf("notices = %+v (truncated %v), want c1's one sent notice for p1 #1", v.Notices, v.NoticesTruncated)
	}
	if len(v.Payments) != 1 || v.Payments[0].PlanRef != "p1" || v.Payments[0].Seq != 1 || v.Payments[0].Amount != 50000 ||
		v.Payments[0].Ref != "p1-1" || !v.Payments[0].PaidAt.Equal(at.Add(2*time.Hour)) {
		t.Errorf("payments = %+v, want c1's one payment", v.Payments)
	}
	if len(v.Audit) != 1 || v.Audit[0].Actor != "ops" || !strings.Contains(string(v.Audit[0].Detail), "客户来电") {
		t.Errorf("audit = %+v, want the one entry on c1's notice", v.Audit)
	}
	if len(v.Events) != 1 || v.Events[0].Ref != "e1" || v.Events[0].Kind != kinds.CardUnbound ||
		v.Events[0].ProcessedAt != nil || strings.TrimSpace(string(v.Events[0].Payload)) != "{}" {
		t.Errorf("events = %+v, want c1's event e1", v.Events)
	}
	if len(v.Receipts) != 0 || len(v.OptOutChanges) != 0 {
		t.Errorf("receipts %+v, opt-out changes %+v; want none", v.Receipts, v.OptOutChanges)
	}
}

// A page lists the newest CustomerNoticeLimit notices and says there are
// more.
func viewsTestNoticeCap(t *testing.T, s Store) {
	var dues []repo.Date
	for range repo.CustomerNoticeLimit + 1 {
		dues = append(dues, repo.NewDate(2026, 11, 12))
	}
	Customer(t, s, "c1")
	Plan(t, s, "p1", "c1", dues)
	viewsScan(t, s, time.Date(2026, 11, 12, 10, 0, 0, 0, viewsShanghai), viewsDueToday)
	v, err := s.GetCustomerView(context.Background(), "c1")
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Notices) != repo.CustomerNoticeLimit || !v.NoticesTruncated {
		t.Fatalf("notices %d, truncated %v; want %d and truncated", len(v.Notices), v.NoticesTruncated, repo.CustomerNoticeLimit)
	}
	for i := 1; i < len(v.Notices); i++ {
		if v.Notices[i].ID >= v.Notices[i-1].ID {
			t.Fatalf("notice %d (id %d) after id %d: want newest first", i, v.Notices[i].ID, v.Notices[i-1].ID)
		}
	}
	if v.Notices[len(v.Notices)-1].Seq != 2 {
		t.Errorf("last notice listed is for #%d, want #2 (the oldest, #1, left out)", v.Notices[len(v.Notices)-1].Seq)
	}
}

// Every change of an opt-out flag is kept, newest first; a write that
// changes no flag adds nothing.
func viewsTestOptOutHistory(t *testing.T, s Store) {
	ctx := context.Background()
	c := Customer(t, s, "c1")
	t0 := time.Date(2026, 11, 12, 2, 0, 0, 0, time.UTC)
	c.SMSOptOut = true
	for _, at := range []time.Time{t0, t0.Add(time.Minute)} {
		if _, err := s.UpsertCustomer(ctx, c, at); err != nil {
			t.Fatal(err)
		}
	}
	c.SMSOptOut, c.EmailOptOut = false, true
	if _, err := s.UpsertCustomer(ctx, c, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	v, err := s.GetCustomerView(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range v.OptOutChanges {
		got = append(got, fmt.Sprintf("%s %s=%v", o.ChangedAt.UTC().Format("15:04"), o.Channel, o.OptOut))
	}
	want := []string{"03:00 email=true", "03:00 sms=false", "02:00 sms=true"}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("opt-out history = %v, want %v", got, want)
	}
}

// The demo's reset removes the customers, their plans, payments, events,
// notices (a digest too) and attempts, and nobody else's; a customer can be
// stored again afresh.
func viewsTestDelete(t *testing.T, s Store) {
	ctx := context.Background()
	due := repo.NewDate(2026, 11, 12)
	Customer(t, s, "c1", func(c *repo.Customer) { c.EmailOptOut = true })
	Plan(t, s, "p1", "c1", []repo.Date{due, due})
	Customer(t, s, "c2", func(c *repo.Customer) { c.Phone = "+8613900001111" })
	Plan(t, s, "p2", "c2", []repo.Date{due})
	at := time.Date(2026, 11, 12, 10, 0, 0, 0, viewsShanghai)
	stage := viewsDueToday
	stage.DigestChannels = []string{"sms"}
	viewsScan(t, s, at, stage)
	claims := viewsDispatch(t, s, at, func(_ repo.Claim, o *repo.Outcome) { viewsFail(o) })
	var gone, kept int64
	for _, c := range claims {
		if c.Customer.Ref == "c1" {
			gone = c.ID
		} else {
			kept = c.ID
		}
	}
	if len(claims) != 2 || gone == 0 || kept == 0 {
		t.Fatalf("claimed %d notices, want c1's digest and c2's notice", len(claims))
	}
	if n, err := s.GetNotification(ctx, gone); err != nil || n.DigestOf == nil || *n.DigestOf != gone {
		t.Fatalf("c1's notice %+v, %v: want a digest leader", n, err)
	}
	viewsPay(t, s, "p1", 2, at, at)
	if _, _, err := s.RecordEvent(ctx, repo.EventInput{Ref: "e1", Kind: kinds.CardUnbound, Scope: "plan", CustomerRef: "c1",
		PlanRef: "p1", OccurredAt: at, Payload: repo.JSONObject(`{}`), Now: at}); err != nil {
		t.Fatal(err)
	}

	n, err := s.DeleteCustomers(ctx, []string{"c1", "absent"})
	if err != nil || n != 1 {
		t.Fatalf("delete = %d, %v; want 1", n, err)
	}
	if _, err := s.GetCustomer(ctx, "c1"); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("c1 after delete: %v, want ErrNotFound", err)
	}
	if _, err := s.GetPlan(ctx, "p1"); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("p1 after delete: %v, want ErrNotFound", err)
	}
	if _, err := s.GetEvent(ctx, "e1"); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("e1 after delete: %v, want ErrNotFound", err)
	}
	if _, err := s.GetNotification(ctx, gone); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("c1's notice after delete: %v, want ErrNotFound", err)
	}
	if as, err := s.ListAttempts(ctx, gone); err != nil || len(as) != 0 {
		t.Errorf("c1's attempts after delete: %d, %v; want none", len(as), err)
	}
	v, err := s.GetCustomerView(ctx, "c2")
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Notices) != 1 || v.Notices[0].ID != kept || len(v.Plans) != 1 {
		t.Errorf("c2 after delete: notices %+v, plans %d; want its one notice and plan", v.Notices, len(v.Plans))
	}
	if as, err := s.ListAttempts(ctx, kept); err != nil || len(as) != 1 {
		t.Errorf("c2's attempts after delete: %d, %v; want 1", len(as), err)
	}
	for _, refs := range [][]string{{"c1"}, nil} {
		if n, err := s.DeleteCustomers(ctx, refs); err != nil || n != 0 {
			t.Errorf("delete %v again = %d, %v; want 0", refs, n, err)
		}
	}
	Customer(t, s, "c1")
	v, err = s.GetCustomerView(ctx, "c1")
	if err != nil || len(v.Plans) != 0 || len(v.Notices) != 0 || len(v.OptOutChanges) != 0 {
		t.Errorf("c1 stored again: %+v, %v; want a customer with nothing recorded", v, err)
	}
}

// viewsShareText prints shares as paid/eligible.
func viewsShareText(ss []repo.EffectShare) string {
	var parts []string
	for _, s := range ss {
		parts = append(parts, fmt.Sprintf("%dd:%d/%d", s.Days, s.Paid, s.Eligible))
	}
	return strings.Join(parts, " ")
}

func viewsEffectText(rows []repo.EffectRow) string {
	var got []string
	for _, row := range rows {
		got = append(got, fmt.Sprintf("%s/%d %s %s sent=%d [%s] base=%d [%s]", row.Stage, row.Offset, row.Channel,
			row.Template, row.Sent, viewsShareText(row.Shares), row.Baseline, viewsShareText(row.Base)))
	}
	return strings.Join(got, "\n")
}

// The effect report counts, per stage × channel × template, the reminded
// installments paid within 1, 3 and 7 days of the send, against the stage's
// installments nobody could be reminded of (opted out, no address). A
// payment reported late that predates the notice is left out, a failed send
// reminded nobody, and a window that has not passed yet counts nothing.
//
// Hours from the due-today send (1 March 10:00, Shanghai): borrower cr's
// plan pr (5 bills) is reminded by SMS at 0 h and by SMS and email at 24 h
// (email of #1 fails); cr pays #5 at 23 h (reported at 25 h), #1 at 36 h,
// #2 at 70 h, #3 at 144 h. Borrower cb (SMS opted out, no email, plan pb of
// 4 bills) gets no notice: queued at -1 h and 22 h, and pays #1 at 52 h, #2
// at 166 h.
func viewsTestEffect(t *testing.T, s Store) {
	ctx := context.Background()
	due := repo.NewDate(2026, 3, 1)
	Customer(t, s, "cr")
	Plan(t, s, "pr", "cr", []repo.Date{due, due, due, due, due})
	Customer(t, s, "cb", func(c *repo.Customer) { c.SMSOptOut, c.Email = true, "" })
	Plan(t, s, "pb", "cb", []repo.Date{due, due, due, due})
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, viewsShanghai)
	h := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Hour) }
	stages := []repo.Stage{viewsDueToday, viewsOverdue1}

	viewsScan(t, s, h(-1), stages...)
	if claims := viewsDispatch(t, s, h(0), nil); len(claims) != 5 {
		t.Fatalf("due-today sends: %d, want 5", len(claims))
	}
	viewsScan(t, s, h(22), stages...)
	claims := viewsDispatch(t, s, h(24), func(c repo.Claim, o *repo.Outcome) {
		if c.Channel == "email" && c.Installment.Seq == 1 {
			viewsFail(o)
		}
	})
	if len(claims) != 10 {
		t.Fatalf("overdue sends: %d, want 10", len(claims))
	}
	viewsPay(t, s, "pr", 5, h(23), h(25))
	viewsPay(t, s, "pr", 1, h(36), h(36))
	viewsPay(t, s, "pr", 2, h(70), h(70))
	viewsPay(t, s, "pr", 3, h(144), h(144))
	viewsPay(t, s, "pb", 1, h(52), h(52))
	viewsPay(t, s, "pb", 2, h(166), h(166))

	reminders := []string{kinds.DueSoon, kinds.DueToday, kinds.Overdue}
	since := time.Date(2026, 3, 1, 0, 0, 0, 0, viewsShanghai)
	for _, tt := range []struct {
		name  string
		kinds []string
		since time.Time
		now   time.Time
		want  []string
	}{
		{"every window passed", reminders, since, h(216), []string{
			"due_today/0 sms due_today.sms.zh-CN sent=5 [1d:1/5 3d:3/5 7d:4/5] base=4 [1d:0/4 3d:1/4 7d:2/4]",
			"overdue_1/1 email overdue.email.zh-CN sent=3 [1d:0/3 3d:1/3 7d:2/3] base=4 [1d:0/4 3d:1/4 7d:2/4]",
			"overdue_1/1 sms overdue.sms.zh-CN sent=4 [1d:1/4 3d:2/4 7d:3/4] base=4 [1d:0/4 3d:1/4 7d:2/4]",
		}},
		{"some windows still open", reminders, since, h(74), []string{
			"due_today/0 sms due_today.sms.zh-CN sent=5 [1d:1/5 3d:3/5 7d:0/0] base=4 [1d:0/4 3d:1/4 7d:0/0]",
			"overdue_1/1 email overdue.email.zh-CN sent=3 [1d:0/3 3d:0/0 7d:0/0] base=4 [1d:0/4 3d:0/0 7d:0/0]",
			"overdue_1/1 sms overdue.sms.zh-CN sent=4 [1d:1/4 3d:0/0 7d:0/0] base=4 [1d:0/4 3d:0/0 7d:0/0]",
		}},
		{"only the kinds asked for", []string{kinds.Overdue}, since, h(216), []string{
			"overdue_1/1 email overdue.email.zh-CN sent=3 [1d:0/3 3d:1/3 7d:2/3] base=4 [1d:0/4 3d:1/4 7d:2/4]",
			"overdue_1/1 sms overdue.sms.zh-CN sent=4 [1d:1/4 3d:2/4 7d:3/4] base=4 [1d:0/4 3d:1/4 7d:2/4]",
		}},
		{"sent before the period", reminders, h(25), h(216), nil},
		{"no kinds", nil, since, h(216), nil},
	} {
		rows, err := s.EffectReport(ctx, tt.kinds, tt.since, h(240), tt.now)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if rows == nil {
			t.Errorf("%s: rows nil, want an empty list", tt.name)
		}
		if got := viewsEffectText(rows); got != strings.Join(tt.want, "\n") {
			t.Errorf("%s: effect report:\n%s\nwant:\n%s", tt.name, got, strings.Join(tt.want, "\n"))
		}
	}
}

// A stage whose offset changed within the period (a policy edit: overdue_1
// moved from one day after the due date to two) is still one row per
// channel and template: its bills add up, each window once.
func viewsTestEffectOffsets(t *testing.T, s Store) {
	Customer(t, s, "c1")
	Plan(t, s, "p1", "c1", []repo.Date{repo.NewDate(2026, 3, 1)})
	Customer(t, s, "c2")
	Plan(t, s, "p2", "c2", []repo.Date{repo.NewDate(2026, 3, 2)})
	sms := viewsOverdue1
	sms.Channels = []string{"sms"}
	moved := sms
	moved.OffsetDays = 2
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, viewsShanghai)
	viewsScan(t, s, at, sms) // p1, a day late
	if claims := viewsDispatch(t, s, at, nil); len(claims) != 1 {
		t.Fatalf("sends on 2 March: %d, want p1's", len(claims))
	}
	at = at.AddDate(0, 0, 2)
	viewsScan(t, s, at, moved) // p2, two days late under the edited policy
	if claims := viewsDispatch(t, s, at, nil); len(claims) != 1 {
		t.Fatalf("sends on 4 March: %d, want p2's", len(claims))
	}
	viewsPay(t, s, "p1", 1, at.Add(time.Hour), at.Add(time.Hour))
	rows, err := s.EffectReport(context.Background(), []string{kinds.Overdue}, at.AddDate(0, 0, -3), at.AddDate(0, 0, 1),
		at.AddDate(0, 0, 9))
	if err != nil {
		t.Fatal(err)
	}
	want := "overdue_1/1 sms overdue.sms.zh-CN sent=2 [1d:0/2 3d:1/2 7d:1/2] base=0 [1d:0/0 3d:0/0 7d:0/0]"
	if got := viewsEffectText(rows); got != want {
		t.Errorf("effect report:\n%s\nwant:\n%s", got, want)
	}
}

// A send at 23:30 UTC counts on the next day in Shanghai; a failure counts
// on the day it was given up; the queue reports the pending notice waiting
// longest past its time and leaves out one whose retry is not due.
func viewsTestOverview(t *testing.T, s Store) {
	ctx := context.Background()
	Customer(t, s, "c1")
	Plan(t, s, "p1", "c1", []repo.Date{repo.NewDate(2026, 11, 9)})
	Plan(t, s, "p3", "c1", []repo.Date{repo.NewDate(2026, 11, 10)})
	Customer(t, s, "c2", func(c *repo.Customer) { c.Phone = "+8613900001111" })
	Plan(t, s, "p2", "c2", []repo.Date{repo.NewDate(2026, 11, 10)})
	Plan(t, s, "p4", "c2", []repo.Date{repo.NewDate(2026, 11, 10)})

	late := time.Date(2026, 11, 8, 23, 30, 0, 0, time.UTC) // 2026-11-09 07:30 in Shanghai
	viewsScan(t, s, late, viewsDueToday)
	if claims := viewsDispatch(t, s, late, nil); len(claims) != 1 {
		t.Fatalf("sent %d, want p1's notice", len(claims))
	}
	f := time.Date(2026, 11, 10, 1, 0, 0, 0, time.UTC) // 09:00 in Shanghai
	now := f.Add(3 * time.Hour)
	viewsScan(t, s, f, viewsDueToday)
	var waiting int64
	claims := viewsDispatch(t, s, f, func(c repo.Claim, o *repo.Outcome) {
		switch c.Plan.Ref {
		case "p2":
			viewsFail(o)
		case "p3": // outside its window: back to the queue, due in ten minutes
			waiting = c.ID
			*o = repo.Outcome{ID: c.ID, Status: repo.StatusPending, NextAttemptAt: f.Add(10 * time.Minute), Deferred: true}
		case "p4": // a transient failure: retried after now
			*o = repo.Outcome{ID: c.ID, Status: repo.StatusPending, Reason: "transient", NextAttemptAt: now.Add(time.Hour),
				Provider: "aliyun", LastError: "timeout", Attempt: &repo.Attempt{N: c.Attempts, Channel: c.Channel,
					Provider: "aliyun", StartedAt: f, FinishedAt: f, Outcome: repo.OutcomeTransient, Error: "timeout"}}
		}
	})
	if len(claims) != 3 {
		t.Fatalf("claimed %d, want p2, p3 and p4's notices", len(claims))
	}

	since := time.Date(2026, 10, 12, 0, 0, 0, 0, viewsShanghai)
	o, err := s.GetOverview(ctx, since, since.AddDate(0, 0, 30), now, viewsShanghai)
	if err != nil {
		t.Fatal(err)
	}
	var days []string
	for _, d := range o.Days {
		days = append(days, fmt.Sprintf("%s %s sent=%d failed=%d undelivered=%d", d.Day, d.Channel, d.Sent, d.Failed, d.Undelivered))
	}
	want := []string{"2026-11-09 sms sent=1 failed=0 undelivered=0", "2026-11-10 sms sent=0 failed=1 undelivered=0"}
	if strings.Join(days, "; ") != strings.Join(want, "; ") {
		t.Errorf("days = %v, want %v", days, want)
	}
	if o.DuePending != 1 || o.OldestDue == nil || o.OldestDue.ID != waiting || o.OldestDue.Kind != kinds.DueToday ||
		!o.OldestDue.NextAttemptAt.Equal(f.Add(10*time.Minute)) || !o.OldestDue.CreatedAt.Equal(f) {
		t.Errorf("due pending %d, oldest %+v; want 1, notice %d due at %s", o.DuePending, o.OldestDue, waiting, f.Add(10*time.Minute))
	}
	var queue []string
	for _, q := range o.Queue {
		queue = append(queue, fmt.Sprintf("%s %s %d", q.Status, q.Channel, q.Count))
	}
	if strings.Join(queue, "; ") != "pending sms 2" {
		t.Errorf("queue = %v, want [pending sms 2]", queue)
	}

	o, err = s.GetOverview(ctx, since, since.AddDate(0, 0, 30), late.Add(-time.Hour), viewsShanghai)
	if err != nil {
		t.Fatal(err)
	}
	if o.DuePending != 0 || o.OldestDue != nil {
		t.Errorf("before anything was due: due pending %d, oldest %+v; want none", o.DuePending, o.OldestDue)
	}
	o, err = s.GetOverview(ctx, f.Add(time.Hour), now, now, viewsShanghai)
	if err != nil || o.Days == nil || len(o.Days) != 0 {
		t.Errorf("a period with nothing sent or given up: days %+v, %v; want an empty list", o.Days, err)
	}
}

// Days are the report zone's calendar days, whatever its offset that day:
// New York leaves daylight saving time on 1 November 2026, so 04:30 UTC on
// 2 November is still 1 November there (23:30 EST), and 03:30 UTC on
// 1 November is 31 October (23:30 EDT).
func viewsTestOverviewDST(t *testing.T, s Store) {
	ctx := context.Background()
	ny := viewsZone("America/New_York")
	Customer(t, s, "c1")
	Plan(t, s, "p1", "c1", []repo.Date{repo.NewDate(2026, 11, 1)})
	Plan(t, s, "p2", "c1", []repo.Date{repo.NewDate(2026, 11, 2)})
	for _, at := range []time.Time{time.Date(2026, 11, 1, 3, 30, 0, 0, time.UTC), time.Date(2026, 11, 2, 4, 30, 0, 0, time.UTC)} {
		viewsScan(t, s, at, viewsDueToday)
		if claims := viewsDispatch(t, s, at, nil); len(claims) != 1 {
			t.Fatalf("sent %d at %s, want 1", len(claims), at)
		}
	}
	for _, tt := range []struct {
		since time.Time
		want  string
	}{
		{time.Date(2026, 10, 31, 0, 0, 0, 0, ny), "2026-10-31 sms 1; 2026-11-01 sms 1"},
		{time.Date(2026, 11, 1, 0, 0, 0, 0, ny), "2026-11-01 sms 1"},
	} {
		o, err := s.GetOverview(ctx, tt.since, time.Date(2026, 11, 3, 0, 0, 0, 0, ny), tt.since, ny)
		if err != nil {
			t.Fatal(err)
		}
		var days []string
		for _, d := range o.Days {
			days = append(days, fmt.Sprintf("%s %s %d", d.Day, d.Channel, d.Sent))
		}
		if got := strings.Join(days, "; "); got != tt.want {
			t.Errorf("since %s: days = %s, want %s", tt.since, got, tt.want)
		}
	}
}
