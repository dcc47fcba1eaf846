package repo_test

import (
	"context"
	"testing"
	"time"

	"duebell/repo"
	"duebell/repo/repotest"
)

// A provider's unsubscribe report opts the customer out once, audited once,
// and a customer push keeps it.
func TestOptOutSMSOnceAndKeptByPushes(t *testing.T) {
	t.Parallel()
	r := repotest.New(t)
	ctx := context.Background()
	c := repotest.Customer(t, r, "c1")
	at := shanghai(2026, 11, 21, 10)
	in := repo.OptOutSMSInput{CustomerID: c.ID, NotificationID: 7, Provider: "tencent",
		Code: "FailedOperation.PhoneNumberInBlacklist", Reason: "unsubscribed at tencent (FailedOperation.PhoneNumberInBlacklist)", Now: at}
	for i, want := range []bool{true, false} {
		if changed, err := r.OptOutSMS(ctx, in); err != nil || changed != want {
			t.Fatalf("call %d: changed %v, %v; want %v", i+1, changed, err, want)
		}
	}
	audit, err := r.ListAudit(ctx, time.Time{}, "", 10)
	if err != nil || len(audit) != 1 || audit[0].Action != "customer.sms_opt_out" || audit[0].Actor != "duebell" {
		t.Fatalf("audit %+v, %v", audit, err)
	}
	c.SMSOptOut = false
	if got, err := r.UpsertCustomer(ctx, c, at.Add(time.Hour)); err != nil || !got.SMSOptOut || got.SMSOptOutReason != in.Reason {
		t.Fatalf("after a push: %+v, %v", got, err)
	}
	// A lender's own opt-out stays theirs to clear.
	repotest.Customer(t, r, "c2", func(c *repo.Customer) { c.SMSOptOut = true })
	c2 := repotest.Customer(t, r, "c2")
	if c2.SMSOptOut {
		t.Fatalf("lender-set opt-out could not be cleared: %+v", c2)
	}
}

// A circuit reopened while open keeps when it first opened; closed and
// opened again, it starts afresh.
func TestCircuitRows(t *testing.T) {
	t.Parallel()
	r := repotest.New(t)
	ctx := context.Background()
	at := shanghai(2026, 11, 21, 10)
	open := func(when time.Time) {
		t.Helper()
		if err := r.OpenCircuit(ctx, repo.Circuit{Provider: "aliyun", Channel: "sms", OpenedAt: when,
			ProbeAt: when.Add(10 * time.Minute), Code: "isv.AMOUNT_NOT_ENOUGH", UpdatedAt: when}); err != nil {
			t.Fatal(err)
		}
	}
	list := func() []repo.Circuit {
		t.Helper()
		cs, err := r.OpenCircuits(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return cs
	}
	open(at)
	open(at.Add(10 * time.Minute))
	if cs := list(); len(cs) != 1 || !cs[0].OpenedAt.Equal(at) || !cs[0].ProbeAt.Equal(at.Add(20*time.Minute)) {
		t.Fatalf("reopened while open: %+v", cs)
	}
	if err := r.CloseCircuit(ctx, "aliyun", at.Add(21*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if cs := list(); len(cs) != 0 {
		t.Fatalf("closed circuit listed: %+v", cs)
	}
	open(at.Add(time.Hour))
	if cs := list(); len(cs) != 1 || !cs[0].OpenedAt.Equal(at.Add(time.Hour)) {
		t.Fatalf("opened again: %+v", cs)
	}
}
