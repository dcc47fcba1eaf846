package repo_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"duebell/repo"
	"duebell/repo/repotest"
)

// TestResendMatchingOutage seeds a provider outage: SMS that failed between
// 10:00 and 11:00, around them SMS that failed earlier, email that failed in
// the window, SMS that went out. A dry run and the real run agree; settled
// installments, opted-out customers and a second notice about the same
// installment are skipped; one audit row records the action.
func TestResendMatchingOutage(t *testing.T) {
	t.Parallel()
	b := supportSetup(t)
	start, end := supportT0, supportT0.Add(time.Hour)

	var want []int64
	// Twelve customers whose SMS failed in the outage.
	for i := range 12 {
		ref := fmt.Sprintf("o%02d", i)
		repotest.Customer(t, b.r, ref)
		p := repotest.Plan(t, b.r, "plan-"+ref, ref, []repo.Date{repo.NewDate(2026, 11, 12), repo.NewDate(2026, 12, 12)})
		want = append(want, b.notice(t, p, 1, "due_soon", "sms", start.Add(-time.Hour)))
	}
	// c1: the due_soon and, later, the due_today SMS for one installment both failed: resent once.
	b.notice(t, b.p1, 1, "due_soon", "sms", start.Add(-time.Hour))
	b.dispatch(t, start.Add(10*time.Minute), "aliyun", repo.StatusFailed)
	newest := b.notice(t, b.p1, 1, "due_today", "sms", start)
	want = append(want, newest)
	// c2: failed in the window, but the installment has been paid since.
	b.notice(t, b.p2, 1, "due_soon", "sms", start)
	// c1's email failed in the window too: another channel.
	b.notice(t, b.p1, 1, "due_soon", "email", start)
	b.dispatch(t, start.Add(50*time.Minute), "aliyun", repo.StatusFailed)
	b.settle(t, b.p2, 1)
	// Before the window: failed, but not in the outage.
	b.notice(t, b.p1, 2, "due_soon", "sms", start.Add(-3*time.Hour))
	b.dispatch(t, start.Add(-2*time.Hour), "aliyun", repo.StatusFailed)
	// In the window but sent.
	b.notice(t, b.p1, 3, "due_soon", "sms", start)
	b.dispatch(t, start.Add(20*time.Minute), "aliyun", repo.StatusSent)
	// In the window, failed at the other provider.
	b.notice(t, b.p1, 3, "overdue", "sms", start)
	b.dispatch(t, start.Add(30*time.Minute), "tencent", repo.StatusFailed)

	in := repo.BulkResendInput{
		Filter: repo.BulkFilter{Status: "failed", Channel: "sms", Provider: "aliyun", Since: start, Until: end},
		Reason: "阿里云短信故障 10:00-11:00", Actor: "ops", DryRun: true, Now: end.Add(time.Hour)}
	before := b.count(t, `SELECT count(*) FROM notifications`)
	dry, err := b.r.ResendMatching(b.ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	wantSkipped := map[string]int{"duplicate": 1, "installment paid": 1}
	if !dry.DryRun || dry.Count != len(want) || dry.Matched != len(want)+2 || fmt.Sprint(dry.Skipped) != fmt.Sprint(wantSkipped) {
		t.Errorf("dry run = count %d matched %d skipped %v, want %d, %d, %v", dry.Count, dry.Matched, dry.Skipped,
			len(want), len(want)+2, wantSkipped)
	}
	sort.Slice(want, func(i, j int) bool { return want[i] > want[j] })
	if fmt.Sprint(ids(dry.Sample)) != fmt.Sprint(want[:repo.BulkSampleSize]) {
		t.Errorf("sample = %v, want the newest ten %v", ids(dry.Sample), want[:10])
	}
	if n := b.count(t, `SELECT count(*) FROM notifications`); n != before {
		t.Errorf("dry run wrote %d notices", n-before)
	}
	if n := b.count(t, `SELECT count(*) FROM audit_log`); n != 0 {
		t.Errorf("dry run wrote %d audit rows", n)
	}

	in.DryRun = false
	real, err := b.r.ResendMatching(b.ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if real.DryRun || real.Count != dry.Count || real.Matched != dry.Matched || fmt.Sprint(real.Skipped) != fmt.Sprint(dry.Skipped) {
		t.Errorf("real run = %+v, dry run said %+v", real, dry)
	}
	var resent []int64
	if err := b.r.DB().SelectContext(b.ctx, &resent, `SELECT resend_of FROM notifications
		WHERE resend_of IS NOT NULL AND requested_by = 'ops' AND resend_reason = $1 AND status = 'pending'
		  AND dedup_key IS NULL AND NOT forced AND channel = 'sms' ORDER BY resend_of DESC`, in.Reason); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(resent) != fmt.Sprint(want) {
		t.Errorf("resent originals %v, want %v", resent, want)
	}
	var audit []repo.AuditEntry
	if err := b.r.DB().SelectContext(b.ctx, &audit, `SELECT * FROM audit_log`); err != nil {
		t.Fatal(err)
	}
	var detail struct {
		Filter  map[string]any `json:"filter"`
		Reason  string         `json:"reason"`
		Count   int            `json:"count"`
		Skipped map[string]int `json:"skipped"`
	}
	if len(audit) == 1 {
		_ = json.Unmarshal(audit[0].Detail, &detail)
	}
	if len(audit) != 1 || audit[0].Action != repo.ActionBulkResend || audit[0].Actor != "ops" ||
		detail.Count != len(want) || detail.Reason != in.Reason || detail.Filter["status"] != "failed" ||
		detail.Filter["provider"] != "aliyun" || detail.Skipped["duplicate"] != 1 {
		t.Errorf("audit = %+v, detail %+v", audit, detail)
	}

	// Run again (a second click): everything is already resent.
	again, err := b.r.ResendMatching(b.ctx, in)
	if err != nil || again.Count != 0 || again.Skipped["already resent"] != len(want) {
		t.Errorf("second run = %+v, %v; want nothing resent", again, err)
	}
}

// TestResendMatchingBatches queues more than one batch in one action.
func TestResendMatchingBatches(t *testing.T) {
	t.Parallel()
	b := supportSetup(t)
	const n = 2500
	if _, err := b.r.DB().ExecContext(b.ctx, `
		INSERT INTO notifications (customer_id, plan_id, installment_id, kind, stage, channel, locale, status,
			not_before, next_attempt_at, created_at, updated_at, provider)
		SELECT $1, $2, $3, 'plan_cancelled', 'ev' || g, 'sms', 'zh-CN', 'failed', $4, $4, $4, $4, 'aliyun'
		FROM generate_series(1, $5) g`, b.c1.ID, b.p1.ID, nil, supportT0, n); err != nil {
		t.Fatal(err)
	}
	// Each is about a distinct event, so none collapse.
	if _, err := b.r.DB().ExecContext(b.ctx, `
		WITH ev AS (INSERT INTO channel_events (ref, kind, scope, occurred_at)
			SELECT 'e' || g, 'plan_cancelled', 'all', $1 FROM generate_series(1, $2) g RETURNING id)
		UPDATE notifications n SET event_id = ev.id
		FROM (SELECT id, row_number() OVER (ORDER BY id) rn FROM ev) ev,
		     (SELECT id, row_number() OVER (ORDER BY id) rn FROM notifications) nn
		WHERE nn.id = n.id AND nn.rn = ev.rn`, supportT0, n); err != nil {
		t.Fatal(err)
	}
	res, err := b.r.ResendMatching(b.ctx, repo.BulkResendInput{
		Filter: repo.BulkFilter{Status: "failed", Since: supportT0, Until: supportT0.Add(time.Minute)},
		Reason: "outage", Actor: "ops", Now: supportT0.Add(time.Hour)})
	if err != nil || res.Count != n {
		t.Fatalf("bulk = count %d skipped %v, %v; want %d", res.Count, res.Skipped, err, n)
	}
	if got := b.count(t, `SELECT count(DISTINCT resend_of) FROM notifications WHERE resend_of IS NOT NULL`); got != n {
		t.Errorf("%d originals resent, want %d", got, n)
	}
	if got := b.count(t, `SELECT count(*) FROM audit_log`); got != 1 {
		t.Errorf("%d audit rows, want 1", got)
	}
}

func TestBulkFilterValidate(t *testing.T) {
	t.Parallel()
	ok := repo.BulkFilter{Status: "failed", Since: supportT0, Until: supportT0.Add(time.Hour)}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*repo.BulkFilter){
		"no status":      func(f *repo.BulkFilter) { f.Status = "" },
		"pending":        func(f *repo.BulkFilter) { f.Status = "pending" },
		"unknown status": func(f *repo.BulkFilter) { f.Status = "lost" },
		"bad channel":    func(f *repo.BulkFilter) { f.Channel = "fax" },
		"no since":       func(f *repo.BulkFilter) { f.Since = time.Time{} },
		"no until":       func(f *repo.BulkFilter) { f.Until = time.Time{} },
		"empty window":   func(f *repo.BulkFilter) { f.Until = f.Since },
	} {
		f := ok
		mod(&f)
		if err := f.Validate(); !errors.Is(err, repo.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}
