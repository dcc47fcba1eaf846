package repo_test

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"duebell/repo"
	"duebell/scheduler"
)

func (b supportBundle) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	if err := b.r.DB().GetContext(b.ctx, &n, query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func (b supportBundle) settle(t *testing.T, p repo.Plan, seq int) {
	t.Helper()
	if _, err := b.r.RecordPayment(b.ctx, repo.PaymentInput{PlanRef: p.Ref, Seq: seq, Amount: 50000, Now: supportT0}); err != nil {
		t.Fatal(err)
	}
}

func TestResendQueuesACopyToTheContactOnFile(t *testing.T) {
	t.Parallel()
	b := supportSetup(t)
	orig := b.notice(t, b.p1, 1, "due_soon", "sms", supportT0)
	b.dispatch(t, supportT0.Add(time.Minute), "aliyun", repo.StatusFailed)
	at := supportT0.Add(time.Hour)

	res, err := b.r.Resend(b.ctx, repo.ResendInput{ID: orig, Reason: "客户来电说没收到", Actor: "alice", Now: at})
	if err != nil {
		t.Fatal(err)
	}
	n := res.Notification
	if res.Replayed || n.ID <= orig || n.ResendOf == nil || *n.ResendOf != orig || n.DedupKey != nil ||
		n.RequestedBy != "alice" || n.ResendReason != "客户来电说没收到" || n.Forced ||
		n.Status != "pending" || n.Channel != "sms" || n.Kind != "due_soon" || n.Stage != "due_soon" || n.StageOffset != nil ||
		n.InstallmentID == nil || *n.InstallmentID != b.p1.Installments[0].ID || n.CustomerID != b.c1.ID ||
		!n.NotBefore.Equal(at) || !n.NextAttemptAt.Equal(at) || n.Recipient != "" || n.Body != "" || n.Attempts != 0 {
		t.Errorf("resend = %+v", n)
	}
	// The dispatcher picks it up and sends it to the phone on file.
	claims, err := b.r.ClaimNotifications(b.ctx, "w", at, time.Minute, 10, 0)
	if err != nil || len(claims) != 1 || claims[0].ID != n.ID || claims[0].Customer.Phone != b.c1.Phone {
		t.Fatalf("claim after resend = %+v, %v", claims, err)
	}

	var audit []repo.AuditEntry
	if err := b.r.DB().SelectContext(b.ctx, &audit, `SELECT * FROM audit_log`); err != nil {
		t.Fatal(err)
	}
	var detail map[string]any
	if len(audit) == 1 {
		_ = json.Unmarshal(audit[0].Detail, &detail)
	}
	if len(audit) != 1 || audit[0].Actor != "alice" || audit[0].Action != repo.ActionResend ||
		audit[0].Target != "notification:"+strconv.FormatInt(orig, 10) || !audit[0].At.Equal(at) ||
		detail["reason"] != "客户来电说没收到" || detail["resend_id"] != float64(n.ID) || detail["channel"] != "sms" {
		t.Errorf("audit = %+v detail %v", audit, detail)
	}

	// Another channel may be chosen; the address is still the one on file.
	res, err = b.r.Resend(b.ctx, repo.ResendInput{ID: orig, Channel: "email", Reason: "改发邮件", Actor: "alice", Now: at})
	if err != nil || res.Notification.Channel != "email" {
		t.Errorf("resend by email = %+v, %v", res.Notification, err)
	}
}

func TestResendRefusals(t *testing.T) {
	t.Parallel()
	b := supportSetup(t)
	sent := b.notice(t, b.p1, 1, "due_soon", "sms", supportT0)
	b.dispatch(t, supportT0, "aliyun", repo.StatusSent)
	queued := b.notice(t, b.p1, 2, "due_soon", "sms", supportT0.Add(time.Hour))
	in := func(id int64) repo.ResendInput {
		return repo.ResendInput{ID: id, Reason: "why", Actor: "ops", Now: supportT0.Add(2 * time.Hour)}
	}
	for _, tt := range []struct {
		name string
		mod  func(*repo.ResendInput)
		want error
		msg  string
	}{
		{"unknown id", func(i *repo.ResendInput) { i.ID = 424242 }, repo.ErrNotFound, "notification 424242"},
		{"no reason", func(i *repo.ResendInput) { i.Reason = "  " }, repo.ErrInvalid, "reason"},
		{"no actor", func(i *repo.ResendInput) { i.Actor = "" }, repo.ErrInvalid, "actor"},
		{"bad channel", func(i *repo.ResendInput) { i.Channel = "push" }, repo.ErrInvalid, "channel"},
		{"reason too long", func(i *repo.ResendInput) { i.Reason = strings.Repeat("长", 501) }, repo.ErrInvalid, "reason"},
		{"bad key", func(i *repo.ResendInput) { i.IdempotencyKey = "a b" }, repo.ErrInvalid, "idempotency"},
		{"still queued", func(i *repo.ResendInput) { i.ID = queued }, repo.ErrConflict, "still queued"},
	} {
		i := in(sent)
		tt.mod(&i)
		_, err := b.r.Resend(b.ctx, i)
		if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: %v, want %v mentioning %q", tt.name, err, tt.want, tt.msg)
		}
	}

	// Opted out of email: refused even with force.
	b.c1.EmailOptOut = true
	if _, err := b.r.UpsertCustomer(b.ctx, b.c1, supportT0); err != nil {
		t.Fatal(err)
	}
	i := in(sent)
	i.Channel, i.Force = "email", true
	if _, err := b.r.Resend(b.ctx, i); !errors.Is(err, repo.ErrConflict) || !strings.Contains(err.Error(), "opted out of email") {
		t.Errorf("opted-out channel: %v", err)
	}
	if n := b.count(t, `SELECT count(*) FROM notifications WHERE resend_of IS NOT NULL`); n != 0 {
		t.Errorf("%d resends queued by refused requests", n)
	}
	if n := b.count(t, `SELECT count(*) FROM audit_log`); n != 0 {
		t.Errorf("%d audit rows for refused requests", n)
	}
}

// TestResendSettled: a reminder whose installment is paid, or whose plan is
// cancelled, is refused unless forced; the forced resend is flagged so the
// dispatcher's re-check lets it through. Other kinds are not reminders and
// go again regardless (a payment confirmation is about a paid installment).
func TestResendSettled(t *testing.T) {
	t.Parallel()
	b := supportSetup(t)
	var reminders []int64
	for _, kind := range []string{scheduler.KindDueSoon, scheduler.KindDueToday, scheduler.KindOverdue} {
		reminders = append(reminders, b.notice(t, b.p1, 1, kind, "sms", supportT0))
	}
	confirm := b.notice(t, b.p1, 1, scheduler.KindPaymentReceived, "sms", supportT0)
	cancelled := b.notice(t, b.p2, 1, scheduler.KindOverdue, "sms", supportT0)
	b.dispatch(t, supportT0, "aliyun", repo.StatusSent)
	b.settle(t, b.p1, 1)
	b.p2.Status = repo.PlanCancelled
	if _, err := b.r.UpsertPlan(b.ctx, b.p2, supportT0); err != nil {
		t.Fatal(err)
	}
	in := func(id int64, force bool) repo.ResendInput {
		return repo.ResendInput{ID: id, Reason: "客户要求", Actor: "ops", Force: force, Now: supportT0.Add(time.Hour)}
	}
	for _, id := range reminders {
		if _, err := b.r.Resend(b.ctx, in(id, false)); !errors.Is(err, repo.ErrConflict) || !strings.Contains(err.Error(), "installment paid") {
			t.Errorf("resend of paid reminder %d: %v, want conflict", id, err)
		}
	}
	if _, err := b.r.Resend(b.ctx, in(cancelled, false)); !errors.Is(err, repo.ErrConflict) || !strings.Contains(err.Error(), "plan cancelled") {
		t.Errorf("resend for cancelled plan: %v, want conflict", err)
	}
	if res, err := b.r.Resend(b.ctx, in(confirm, false)); err != nil || res.Notification.Forced {
		t.Errorf("resend of a payment confirmation: %+v, %v", res.Notification, err)
	}
	res, err := b.r.Resend(b.ctx, in(reminders[0], true))
	if err != nil || !res.Notification.Forced || res.Notification.Status != "pending" {
		t.Fatalf("forced resend = %+v, %v", res.Notification, err)
	}
	claims, err := b.r.ClaimNotifications(b.ctx, "w", supportT0.Add(time.Hour), time.Minute, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	var forced int
	for _, c := range claims {
		if c.Forced {
			forced++
		}
	}
	if len(claims) != 2 || forced != 1 {
		t.Errorf("claimed %d notices, %d forced; want the confirmation and the forced reminder", len(claims), forced)
	}
}

func TestResendIdempotencyKey(t *testing.T) {
	t.Parallel()
	b := supportSetup(t)
	orig := b.notice(t, b.p1, 1, "due_soon", "sms", supportT0)
	other := b.notice(t, b.p1, 1, "due_soon", "email", supportT0)
	b.dispatch(t, supportT0, "aliyun", repo.StatusFailed)
	in := repo.ResendInput{ID: orig, Reason: "double click", Actor: "ops", IdempotencyKey: "k-1", Now: supportT0.Add(time.Hour)}

	// A double click: both requests at once, one notice.
	var wg sync.WaitGroup
	results := make([]repo.ResendResult, 6)
	errs := make([]error, 6)
	for i := range results {
		wg.Go(func() { results[i], errs[i] = b.r.Resend(b.ctx, in) })
	}
	wg.Wait()
	replays := 0
	for i, res := range results {
		if errs[i] != nil {
			t.Fatalf("request %d: %v", i, errs[i])
		}
		if res.Notification.ID != results[0].Notification.ID {
			t.Errorf("request %d got notice %d, request 0 got %d", i, res.Notification.ID, results[0].Notification.ID)
		}
		if res.Replayed {
			replays++
		}
	}
	if replays != len(results)-1 {
		t.Errorf("%d replays of %d requests, want all but one", replays, len(results))
	}
	if n := b.count(t, `SELECT count(*) FROM notifications WHERE resend_of = $1`, orig); n != 1 {
		t.Errorf("%d resends for one key, want 1", n)
	}
	if n := b.count(t, `SELECT count(*) FROM audit_log`); n != 1 {
		t.Errorf("%d audit rows for one key, want 1", n)
	}

	// The same key from another actor is another request.
	in2 := in
	in2.Actor = "bob"
	if res, err := b.r.Resend(b.ctx, in2); err != nil || res.Replayed {
		t.Errorf("bob with alice's key: %+v, %v", res, err)
	}
	// The same key for another notice is refused, not answered wrongly.
	in3 := in
	in3.ID = other
	if _, err := b.r.Resend(b.ctx, in3); !errors.Is(err, repo.ErrConflict) || !strings.Contains(err.Error(), "idempotency key") {
		t.Errorf("key reused for another notice: %v", err)
	}
	// A refused request does not use up its key.
	b.settle(t, b.p1, 1)
	in4 := in
	in4.IdempotencyKey = "k-2"
	if _, err := b.r.Resend(b.ctx, in4); !errors.Is(err, repo.ErrConflict) {
		t.Fatalf("paid: %v", err)
	}
	in4.Force = true
	if res, err := b.r.Resend(b.ctx, in4); err != nil || res.Replayed || !res.Notification.Forced {
		t.Errorf("forced retry with the refused request's key: %+v, %v", res, err)
	}
}
