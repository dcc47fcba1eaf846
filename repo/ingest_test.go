package repo_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"duebell/repo"
	"duebell/repo/repotest"
)

var ingestT0 = time.Date(2025, 3, 10, 8, 0, 0, 0, time.UTC)

type ingestBundle struct {
	r   *repo.Repo
	ctx context.Context
}

func ingestSetup(t *testing.T) ingestBundle {
	t.Helper()
	return ingestBundle{r: repotest.New(t), ctx: context.Background()}
}

func (b ingestBundle) count(t *testing.T, table string) int {
	t.Helper()
	var n int
	if err := b.r.DB().GetContext(b.ctx, &n, `SELECT count(*) FROM `+table); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

func (b ingestBundle) customer(t *testing.T, ref string, mod func(*repo.Customer)) repo.Customer {
	t.Helper()
	c := repo.Customer{Ref: ref, Name: "Li Lei", Phone: "+8613812345678", Email: "li@example.com",
		Locale: "zh-CN", Timezone: "Asia/Shanghai"}
	if mod != nil {
		mod(&c)
	}
	out, err := b.r.UpsertCustomer(b.ctx, c, ingestT0)
	if err != nil {
		t.Fatalf("upsert customer: %v", err)
	}
	return out
}

func ingestPlan(ref, customerRef string, periods int) repo.Plan {
	p := repo.Plan{Ref: ref, CustomerRef: customerRef, Merchant: "Shop", Title: "Phone", Currency: "CNY",
		Total: int64(periods) * 10000, Periods: periods, Status: repo.PlanActive, RepayMethod: "manual"}
	for i := 1; i <= periods; i++ {
		p.Installments = append(p.Installments, repo.Installment{
			Seq: i, DueDate: repo.NewDate(2025, time.Month(3+i), 15), Amount: 10000, Status: repo.InstallmentPending})
	}
	return p
}

func (b ingestBundle) plan(t *testing.T, p repo.Plan) repo.Plan {
	t.Helper()
	out, err := b.r.UpsertPlan(b.ctx, p, ingestT0)
	if err != nil {
		t.Fatalf("upsert plan: %v", err)
	}
	return out
}

func TestUpsertCustomerIdempotent(t *testing.T) {
	t.Parallel()
	b := ingestSetup(t)
	first := b.customer(t, "c1", nil)
	c := first
	c.Name, c.SMSOptOut = "Han Meimei", true
	later := ingestT0.Add(time.Hour)
	second, err := b.r.UpsertCustomer(b.ctx, c, later)
	if err != nil {
		t.Fatal(err)
	}
	if second.ID != first.ID || second.Name != "Han Meimei" || !second.SMSOptOut {
		t.Errorf("second upsert = %+v", second)
	}
	if !second.CreatedAt.Equal(ingestT0) || !second.UpdatedAt.Equal(later) {
		t.Errorf("created_at %v updated_at %v, want %v and %v", second.CreatedAt, second.UpdatedAt, ingestT0, later)
	}
	if n := b.count(t, "customers"); n != 1 {
		t.Errorf("customers = %d, want 1", n)
	}
	got, err := b.r.GetCustomer(b.ctx, "c1")
	if err != nil || got.Name != "Han Meimei" {
		t.Errorf("GetCustomer = %+v, %v", got, err)
	}
	if _, err := b.r.GetCustomer(b.ctx, "nobody"); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("GetCustomer(unknown) error = %v, want ErrNotFound", err)
	}
}

func TestUpsertPlanIdempotent(t *testing.T) {
	t.Parallel()
	b := ingestSetup(t)
	b.customer(t, "c1", nil)
	p := ingestPlan("p1", "c1", 3)
	p.Installments[0].Paid = 10000 // pending but fully paid: stored as paid
	first := b.plan(t, p)

	if first.CustomerRef != "c1" || len(first.Installments) != 3 {
		t.Fatalf("plan = %+v", first)
	}
	i1 := first.Installments[0]
	if i1.Status != repo.InstallmentPaid || i1.PaidAt == nil || !i1.PaidAt.Equal(ingestT0) {
		t.Errorf("installment 1 = %+v, want paid at %v", i1, ingestT0)
	}
	if first.Installments[1].Status != repo.InstallmentPending || first.Installments[1].PaidAt != nil {
		t.Errorf("installment 2 = %+v, want pending", first.Installments[1])
	}

	p.Title = "Phone 2"
	p.Installments[2].DueDate = repo.NewDate(2025, 7, 1)
	second, err := b.r.UpsertPlan(b.ctx, p, ingestT0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if second.ID != first.ID || second.Title != "Phone 2" || second.Installments[2].DueDate.String() != "2025-07-01" {
		t.Errorf("second upsert = %+v", second)
	}
	for i := range second.Installments {
		if second.Installments[i].ID != first.Installments[i].ID {
			t.Errorf("installment %d id changed", i+1)
		}
	}
	if pa := second.Installments[0].PaidAt; pa == nil || !pa.Equal(ingestT0) {
		t.Errorf("paid_at of an already paid installment = %v, want it kept at %v", pa, ingestT0)
	}
	if n := b.count(t, "plans"); n != 1 {
		t.Errorf("plans = %d, want 1", n)
	}
	if n := b.count(t, "installments"); n != 3 {
		t.Errorf("installments = %d, want 3", n)
	}
	got, err := b.r.GetPlan(b.ctx, "p1")
	if err != nil || got.CustomerRef != "c1" || len(got.Installments) != 3 || got.Installments[2].Seq != 3 {
		t.Errorf("GetPlan = %+v, %v", got, err)
	}
	if _, err := b.r.GetPlan(b.ctx, "nope"); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("GetPlan(unknown) error = %v, want ErrNotFound", err)
	}
}

func TestUpsertPlanRefusals(t *testing.T) {
	t.Parallel()
	b := ingestSetup(t)
	b.customer(t, "c1", nil)
	b.customer(t, "c2", nil)
	b.plan(t, ingestPlan("p1", "c1", 3))

	tests := []struct {
		name string
		plan repo.Plan
		want error
	}{
		{"unknown customer", ingestPlan("p2", "nobody", 3), repo.ErrNotFound},
		{"moved to another customer", ingestPlan("p1", "c2", 3), repo.ErrConflict},
		{"installment removed", ingestPlan("p1", "c1", 2), repo.ErrConflict},
	}
	for _, tt := range tests {
		tt.plan.Title = "changed"
		_, err := b.r.UpsertPlan(b.ctx, tt.plan, ingestT0.Add(time.Hour))
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: error = %v, want %v", tt.name, err, tt.want)
		}
	}
	got, err := b.r.GetPlan(b.ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Title != "Phone" || got.CustomerRef != "c1" || len(got.Installments) != 3 || !got.UpdatedAt.Equal(ingestT0) {
		t.Errorf("plan changed by a refused upsert: %+v", got)
	}
	if n := b.count(t, "plans"); n != 1 {
		t.Errorf("plans = %d, want 1", n)
	}
}

type noticeRow struct {
	DedupKey      string    `db:"dedup_key"`
	Kind          string    `db:"kind"`
	Stage         string    `db:"stage"`
	StageOffset   *int      `db:"stage_offset"`
	Channel       string    `db:"channel"`
	Locale        string    `db:"locale"`
	Status        string    `db:"status"`
	StatusReason  string    `db:"status_reason"`
	NotBefore     time.Time `db:"not_before"`
	NextAttemptAt time.Time `db:"next_attempt_at"`
	CreatedAt     time.Time `db:"created_at"`
}

func (b ingestBundle) notices(t *testing.T) []noticeRow {
	t.Helper()
	var out []noticeRow
	if err := b.r.DB().SelectContext(b.ctx, &out, `
		SELECT dedup_key, kind, stage, stage_offset, channel, locale, status, status_reason,
			not_before, next_attempt_at, created_at
		FROM notifications ORDER BY channel`); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRecordPaymentSettlesAndQueues(t *testing.T) {
	t.Parallel()
	b := ingestSetup(t)
	b.customer(t, "c1", func(c *repo.Customer) { c.Locale = "en" })
	plan := b.plan(t, ingestPlan("p1", "c1", 2))
	paidAt := ingestT0.Add(-2 * time.Hour)
	now := ingestT0.Add(time.Minute)

	res, err := b.r.RecordPayment(b.ctx, repo.PaymentInput{PlanRef: "p1", Seq: 1, Amount: 10000, PaidAt: paidAt,
		Ref: "pay-1", Now: now, ConfirmChannels: []string{"sms", "email"}})
	if err != nil {
		t.Fatal(err)
	}
	in := res.Installment
	if !res.Settled || res.Replayed || res.Queued != 2 || in.Status != repo.InstallmentPaid ||
		in.Paid != 10000 || in.PaidAt == nil || !in.PaidAt.Equal(paidAt) {
		t.Fatalf("result = %+v (installment %+v)", res, in)
	}
	ns := b.notices(t)
	if len(ns) != 2 {
		t.Fatalf("notifications = %+v, want one per channel", ns)
	}
	for _, n := range ns {
		wantKey := jsonInt(plan.Installments[0].ID) + ":payment_received:" + n.Channel
		if n.DedupKey != wantKey || n.Kind != "payment_received" || n.Stage != "payment_received" ||
			n.StageOffset != nil || n.Locale != "en" || n.Status != repo.StatusPending || n.StatusReason != "" ||
			!n.NotBefore.Equal(paidAt) || !n.NextAttemptAt.Equal(paidAt) || !n.CreatedAt.Equal(now) {
			t.Errorf("notice = %+v, want key %s, pending, not_before %v", n, wantKey, paidAt)
		}
	}

	// A later payment on the settled installment is an overpayment: refused, nothing more queued.
	_, err = b.r.RecordPayment(b.ctx, repo.PaymentInput{PlanRef: "p1", Seq: 1, Amount: 5, Now: now,
		ConfirmChannels: []string{"sms", "email"}})
	if !errors.Is(err, repo.ErrConflict) || !strings.Contains(err.Error(), "exceeds the 0 still due") {
		t.Errorf("overpayment: %v, want a conflict", err)
	}
	if n := b.count(t, "notifications"); n != 2 {
		t.Errorf("notifications = %d, want 2", n)
	}
}

func jsonInt(n int64) string { return strconv.FormatInt(n, 10) }

func TestRecordPaymentOptedOutChannelSuppressed(t *testing.T) {
	t.Parallel()
	b := ingestSetup(t)
	b.customer(t, "c1", func(c *repo.Customer) { c.SMSOptOut = true })
	b.plan(t, ingestPlan("p1", "c1", 1))

	res, err := b.r.RecordPayment(b.ctx, repo.PaymentInput{PlanRef: "p1", Seq: 1, Amount: 10000, PaidAt: ingestT0,
		Now: ingestT0, ConfirmChannels: []string{"sms", "email"}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Settled || res.Queued != 1 {
		t.Errorf("result = %+v, want settled with 1 queued", res)
	}
	ns := b.notices(t)
	if len(ns) != 2 || ns[0].Channel != "email" || ns[0].Status != repo.StatusPending ||
		ns[1].Channel != "sms" || ns[1].Status != repo.StatusSuppressed || ns[1].StatusReason != "opted_out" {
		t.Errorf("notices = %+v, want email pending and sms suppressed opted_out", ns)
	}
}

func TestRecordPaymentPartialDoesNotSettle(t *testing.T) {
	t.Parallel()
	b := ingestSetup(t)
	b.customer(t, "c1", nil)
	b.plan(t, ingestPlan("p1", "c1", 1))
	in := repo.PaymentInput{PlanRef: "p1", Seq: 1, Amount: 4000, PaidAt: ingestT0, Now: ingestT0, ConfirmChannels: []string{"sms"}}

	res, err := b.r.RecordPayment(b.ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if res.Settled || res.Queued != 0 || res.Installment.Status != repo.InstallmentPending ||
		res.Installment.Paid != 4000 || res.Installment.PaidAt != nil {
		t.Errorf("partial payment = %+v", res)
	}
	if n := b.count(t, "notifications"); n != 0 {
		t.Errorf("notifications = %d, want 0", n)
	}
	in.Amount, in.PaidAt = 6000, ingestT0.Add(time.Hour)
	res, err = b.r.RecordPayment(b.ctx, in)
	if err != nil || !res.Settled || res.Queued != 1 || res.Installment.Paid != 10000 || !res.Installment.PaidAt.Equal(in.PaidAt) {
		t.Errorf("second payment = %+v, %v; want it to settle", res, err)
	}
	if n := b.count(t, "payments"); n != 2 {
		t.Errorf("payments = %d, want 2", n)
	}
}

func TestRecordPaymentReplayByRef(t *testing.T) {
	t.Parallel()
	b := ingestSetup(t)
	b.customer(t, "c1", nil)
	b.plan(t, ingestPlan("p1", "c1", 1))
	in := repo.PaymentInput{PlanRef: "p1", Seq: 1, Amount: 10000, PaidAt: ingestT0, Ref: "pay-1", Now: ingestT0,
		ConfirmChannels: []string{"sms"}}
	first, err := b.r.RecordPayment(b.ctx, in)
	if err != nil || !first.Settled {
		t.Fatalf("first = %+v, %v", first, err)
	}

	in.Now, in.PaidAt = ingestT0.Add(time.Hour), ingestT0.Add(time.Hour)
	again, err := b.r.RecordPayment(b.ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Replayed || again.Settled || again.Queued != 0 || again.Installment.Paid != 10000 ||
		!again.Installment.PaidAt.Equal(ingestT0) {
		t.Errorf("replay = %+v, want the stored state unchanged", again)
	}
	in.Amount = 9999
	if _, err := b.r.RecordPayment(b.ctx, in); !errors.Is(err, repo.ErrConflict) {
		t.Errorf("same ref, other amount: error = %v, want ErrConflict", err)
	}
	if n := b.count(t, "payments"); n != 1 {
		t.Errorf("payments = %d, want 1", n)
	}
	if n := b.count(t, "notifications"); n != 1 {
		t.Errorf("notifications = %d, want 1", n)
	}
}

func TestRecordPaymentUnknown(t *testing.T) {
	t.Parallel()
	b := ingestSetup(t)
	b.customer(t, "c1", nil)
	b.plan(t, ingestPlan("p1", "c1", 1))
	for _, in := range []repo.PaymentInput{
		{PlanRef: "nope", Seq: 1, Amount: 1, Now: ingestT0},
		{PlanRef: "p1", Seq: 2, Amount: 1, Now: ingestT0},
	} {
		if _, err := b.r.RecordPayment(b.ctx, in); !errors.Is(err, repo.ErrNotFound) {
			t.Errorf("RecordPayment(%s, %d) error = %v, want ErrNotFound", in.PlanRef, in.Seq, err)
		}
	}
	if n := b.count(t, "payments"); n != 0 {
		t.Errorf("payments = %d, want 0", n)
	}
}

func TestAudit(t *testing.T) {
	t.Parallel()
	b := ingestSetup(t)
	if err := b.r.AppendAudit(b.ctx, repo.AuditEntry{At: ingestT0, Actor: "alice", Action: "resend", Target: "notification:1",
		Detail: json.RawMessage(`{"reason":"outage"}`)}); err != nil {
		t.Fatal(err)
	}
	if err := repo.Audit(b.ctx, b.r.DB(), ingestT0.Add(time.Minute), "bob", "resend", "notification:2", nil); err != nil {
		t.Fatal(err)
	}
	all, err := b.r.ListAudit(b.ctx, time.Time{}, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].Actor != "bob" || string(all[0].Detail) != "{}" {
		t.Fatalf("ListAudit = %+v", all)
	}
	alice, err := b.r.ListAudit(b.ctx, ingestT0, "alice", 10)
	if err != nil {
		t.Fatal(err)
	}
	var detail struct{ Reason string }
	if len(alice) != 1 || json.Unmarshal(alice[0].Detail, &detail) != nil || detail.Reason != "outage" ||
		!alice[0].At.Equal(ingestT0) || alice[0].Target != "notification:1" {
		t.Errorf("ListAudit(alice) = %+v", alice)
	}
	if later, _ := b.r.ListAudit(b.ctx, ingestT0.Add(30*time.Second), "", 10); len(later) != 1 || later[0].Actor != "bob" {
		t.Errorf("ListAudit(since) = %+v", later)
	}
}

// TestRecordPaymentConcurrentReplays sends the same payment from many
// goroutines, as a lender retrying on timeouts would: one payment, one notice.
func TestRecordPaymentConcurrentReplays(t *testing.T) {
	t.Parallel()
	b := ingestSetup(t)
	b.customer(t, "c1", nil)
	b.plan(t, ingestPlan("p1", "c1", 1))
	in := repo.PaymentInput{PlanRef: "p1", Seq: 1, Amount: 10000, PaidAt: ingestT0, Ref: "pay-1", Now: ingestT0,
		ConfirmChannels: []string{"sms"}}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		settled int
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := b.r.RecordPayment(b.ctx, in)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if res.Settled {
				settled++
			}
		}()
	}
	wg.Wait()
	if settled != 1 {
		t.Errorf("settled by %d calls, want 1", settled)
	}
	if n := b.count(t, "payments"); n != 1 {
		t.Errorf("payments = %d, want 1", n)
	}
	if n := b.count(t, "notifications"); n != 1 {
		t.Errorf("notifications = %d, want 1", n)
	}
}
