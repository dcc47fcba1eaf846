package repo_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"duebell/repo"
)

// TestOverviewCountsByDayInZone: a send at 23:30 UTC counts on the next
// day in Shanghai; failures count on the day they were given up; the queue
// reports the pending notice waiting longest past its time.
func TestOverviewCountsByDayInZone(t *testing.T) {
	t.Parallel()
	b := supportSetup(t)
	sh, _ := time.LoadLocation("Asia/Shanghai")
	late := time.Date(2026, 11, 8, 23, 30, 0, 0, time.UTC) // 2026-11-09 07:30 in Shanghai
	b.notice(t, b.p1, 1, "due_soon", "sms", late)
	b.dispatch(t, late, "aliyun", repo.StatusSent)
	if _, err := b.r.DB().Exec(`UPDATE notifications SET sent_at = updated_at WHERE status = 'sent'`); err != nil {
		t.Fatal(err)
	}
	b.notice(t, b.p2, 1, "due_today", "sms", supportT0.Add(-time.Hour))
	b.dispatch(t, supportT0.Add(-time.Hour), "aliyun", repo.StatusFailed)
	waiting := b.notice(t, b.p1, 2, "due_soon", "email", supportT0.Add(-20*time.Minute))
	b.notice(t, b.p1, 3, "due_soon", "email", supportT0.Add(time.Hour)) // not due yet

	since := time.Date(2026, 10, 12, 0, 0, 0, 0, sh)
	o, err := b.r.GetOverview(b.ctx, since, since.AddDate(0, 0, 30), supportT0, sh)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]repo.DayCount{}
	for _, d := range o.Days {
		got[d.Day.Format("2006-01-02")+" "+d.Channel] = d
	}
	if d := got["2026-11-09 sms"]; d.Sent != 1 || d.Failed != 0 {
		t.Errorf("2026-11-09 sms = %+v, want 1 sent (07:30 in Shanghai)", d)
	}
	if d := got["2026-11-10 sms"]; d.Sent != 0 || d.Failed != 1 {
		t.Errorf("2026-11-10 sms = %+v, want 1 failed", d)
	}
	if o.DuePending != 1 || o.OldestDue == nil || o.OldestDue.ID != waiting {
		t.Errorf("due pending %d, oldest %+v; want 1, notice %d", o.DuePending, o.OldestDue, waiting)
	}
	var pending int64
	for _, q := range o.Queue {
		if q.Status == "pending" {
			pending += q.Count
		}
	}
	if pending != 2 {
		t.Errorf("queue pending = %d, want 2", pending)
	}
}

// TestFindCustomers: support types what the caller says.
func TestFindCustomers(t *testing.T) {
	t.Parallel()
	b := supportSetup(t)
	for q, want := range map[string][]string{
		"139 0000 1111": {"c2"}, "+86 139-0000-1111": {"c2"}, "008613900001111": {"c2"}, "13900001111": {"c2"},
		"C1@EXAMPLE.NET": {"c1"}, "c1": {"c1"}, "p2": {"c2"}, "张": {"c1", "c2"}, "nobody": nil, "%": nil, "": nil,
	} {
		hits, err := b.r.FindCustomers(b.ctx, q)
		if err != nil {
			t.Fatalf("%q: %v", q, err)
		}
		var refs []string
		for _, h := range hits {
			refs = append(refs, h.Ref)
		}
		if len(refs) != len(want) || (len(want) > 0 && (refs[0] != want[0] || refs[len(refs)-1] != want[len(want)-1])) {
			t.Errorf("find %q = %v, want %v", q, refs, want)
		}
	}
}

// TestCustomerView: plans with installments, notices, payments and the
// audit entries of a resend belong to the customer, not their neighbour.
func TestCustomerView(t *testing.T) {
	t.Parallel()
	b := supportSetup(t)
	n1 := b.notice(t, b.p1, 1, "due_soon", "sms", supportT0.Add(-time.Hour))
	b.dispatch(t, supportT0.Add(-time.Hour), "aliyun", repo.StatusFailed)
	b.notice(t, b.p2, 1, "due_soon", "sms", supportT0)
	if _, err := b.r.Resend(b.ctx, repo.ResendInput{ID: n1, Reason: "客户来电", Actor: "ops", Now: supportT0}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.r.RecordPayment(b.ctx, repo.PaymentInput{PlanRef: "p1", Seq: 1, Amount: 50000, Now: supportT0}); err != nil {
		t.Fatal(err)
	}
	v, err := b.r.GetCustomerView(b.ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Plans) != 1 || len(v.Plans[0].Installments) != 3 || v.Plans[0].Installments[0].Status != repo.InstallmentPaid {
		t.Errorf("plans = %+v", v.Plans)
	}
	if len(v.Notices) != 2 || len(v.Payments) != 1 || v.Payments[0].Amount != 50000 || len(v.Audit) != 1 || v.Audit[0].Actor != "ops" {
		t.Errorf("notices %d, payments %+v, audit %+v; want c1's 2 notices, 1 payment, 1 resend", len(v.Notices), v.Payments, v.Audit)
	}
	if _, err := b.r.GetCustomerView(b.ctx, "nobody"); err == nil {
		t.Errorf("unknown customer: no error")
	}
}

// TestDeleteCustomers: the demo's reset removes the customers and what was
// sent to them, and nobody else's.
func TestDeleteCustomers(t *testing.T) {
	t.Parallel()
	b := supportSetup(t)
	n1 := b.notice(t, b.p1, 1, "due_soon", "sms", supportT0)
	b.dispatch(t, supportT0, "aliyun", repo.StatusFailed)
	if _, err := b.r.Resend(b.ctx, repo.ResendInput{ID: n1, Reason: "r", Actor: "ops", Now: supportT0}); err != nil {
		t.Fatal(err)
	}
	b.notice(t, b.p2, 1, "due_soon", "sms", supportT0)
	n, err := b.r.DeleteCustomers(b.ctx, []string{"c1", "absent"})
	if err != nil || n != 1 {
		t.Fatalf("delete = %d, %v", n, err)
	}
	var left struct{ Customers, Notices, Attempts int }
	_ = b.r.DB().Get(&left.Customers, `SELECT count(*) FROM customers`)
	_ = b.r.DB().Get(&left.Notices, `SELECT count(*) FROM notifications`)
	_ = b.r.DB().Get(&left.Attempts, `SELECT count(*) FROM delivery_attempts`)
	if left.Customers != 1 || left.Notices != 1 || left.Attempts != 0 {
		t.Errorf("left %+v, want c2 and its one notice", left)
	}
}

// TestOptOutHistory: every change of an opt-out flag is kept, whether the
// API's upsert or a lender's own UPDATE (with another search_path) made it.
func TestOptOutHistory(t *testing.T) {
	t.Parallel()
	b := supportSetup(t)
	c := b.c1
	c.SMSOptOut = true
	if _, err := b.r.UpsertCustomer(b.ctx, c, supportT0); err != nil {
		t.Fatal(err)
	}
	if _, err := b.r.UpsertCustomer(b.ctx, c, supportT0.Add(time.Minute)); err != nil { // no change: no row
		t.Fatal(err)
	}
	tx, err := b.r.DB().Beginx()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`SET LOCAL search_path = public`); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`UPDATE `+b.r.Schema()+`.customers SET sms_opt_out = false, email_opt_out = true,
		updated_at = $1 WHERE ref = 'c1'`, supportT0.Add(time.Hour)); err != nil {
		t.Fatalf("a lender's direct update: %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	v, err := b.r.GetCustomerView(b.ctx, "c1")
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
