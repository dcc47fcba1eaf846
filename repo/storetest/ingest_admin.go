package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"duebell/repo"
)

func ingestLinkTarget(t *testing.T, s Store) {
	ctx := context.Background()
	ingestOnePlan(t, s)
	if _, err := s.GetLinkTarget(ctx, 1); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("link target of a missing notice: %v, want ErrNotFound", err)
	}
	if _, err := s.RecordPayment(ctx, repo.PaymentInput{PlanRef: "p1", Seq: 2, Amount: 50000, Now: Now,
		ConfirmChannels: []string{"sms"}}); err != nil {
		t.Fatal(err)
	}
	if lt, err := s.GetLinkTarget(ctx, 1); err != nil || lt != (repo.LinkTarget{PlanRef: "p1", Seq: 2}) {
		t.Errorf("link target = %+v, %v; want p1 installment 2", lt, err)
	}
}

func ingestConsoleSessions(t *testing.T, s Store) {
	ctx := context.Background()
	if revoked, err := s.ConsoleSessionRevoked(ctx, "a"); err != nil || revoked {
		t.Fatalf("a session never logged out: revoked %v, %v", revoked, err)
	}
	if err := s.RevokeConsoleSession(ctx, "a", Now.Add(time.Hour), Now); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeConsoleSession(ctx, "a", Now.Add(time.Hour), Now.Add(time.Minute)); err != nil {
		t.Fatalf("logging out twice: %v", err)
	}
	if revoked, err := s.ConsoleSessionRevoked(ctx, "a"); err != nil || !revoked {
		t.Errorf("logged-out session: revoked %v, %v; want true", revoked, err)
	}
	if revoked, err := s.ConsoleSessionRevoked(ctx, "b"); err != nil || revoked {
		t.Errorf("another session: revoked %v, %v; want false", revoked, err)
	}
	// A revocation past its session's expiry is pruned by the next one
	// (the session has ended anyway); one not yet expired stays.
	if err := s.RevokeConsoleSession(ctx, "c", Now.Add(3*time.Hour), Now.Add(30*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeConsoleSession(ctx, "b", Now.Add(4*time.Hour), Now.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]bool{"a": false, "b": true, "c": true} {
		if revoked, err := s.ConsoleSessionRevoked(ctx, id); err != nil || revoked != want {
			t.Errorf("session %s: revoked %v, %v; want %v", id, revoked, err, want)
		}
	}
}

func ingestAuditLog(t *testing.T, s Store) {
	ctx := context.Background()
	if all, err := s.ListAudit(ctx, time.Time{}, "", 0); err != nil || all == nil || len(all) != 0 {
		t.Fatalf("empty log = %#v, %v; want an empty list", all, err)
	}
	for _, e := range []repo.AuditEntry{
		{At: Now, Actor: "alice", Action: "resend", Target: "notification:1", Detail: json.RawMessage(`{"reason":"outage"}`)},
		{At: Now.Add(time.Minute), Actor: "bob", Action: "resend", Target: "notification:2"},
		{At: Now.Add(time.Minute), Actor: "alice", Action: "bulk_resend", Target: "notifications", Detail: json.RawMessage(`{"n": 3}`)},
		{At: Now.Add(-time.Hour), Actor: "bob", Action: "resend", Target: "notification:3", Detail: json.RawMessage(`null`)},
	} {
		if err := s.AppendAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	all, err := s.ListAudit(ctx, time.Time{}, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	// Newest first; entries at the same instant, the later written first.
	want := []string{"notifications", "notification:2", "notification:1", "notification:3"}
	if len(all) != len(want) {
		t.Fatalf("ListAudit = %+v, want %d entries", all, len(want))
	}
	for i, e := range all {
		if e.Target != want[i] || e.ID == 0 {
			t.Errorf("entry %d = %+v, want target %s", i, e, want[i])
		}
	}
	for _, i := range []int{1, 3} {
		if string(all[i].Detail) != "{}" {
			t.Errorf("entry %s: detail %s, want {} for none", all[i].Target, all[i].Detail)
		}
	}
	var detail struct{ Reason string }
	if err := json.Unmarshal(all[2].Detail, &detail); err != nil || detail.Reason != "outage" ||
		!all[2].At.Equal(Now) || all[2].Actor != "alice" || all[2].Action != "resend" {
		t.Errorf("alice's entry = %+v (%v)", all[2], err)
	}
	alice, err := s.ListAudit(ctx, Now, "alice", 10)
	if err != nil || len(alice) != 2 || alice[0].Action != "bulk_resend" || alice[1].Action != "resend" {
		t.Errorf("ListAudit(alice since %v) = %+v, %v", Now, alice, err)
	}
	if since, err := s.ListAudit(ctx, Now.Add(30*time.Second), "", 10); err != nil || len(since) != 2 {
		t.Errorf("ListAudit(since) = %+v, %v; want the two at %v", since, err, Now.Add(time.Minute))
	}
	if one, err := s.ListAudit(ctx, time.Time{}, "bob", 1); err != nil || len(one) != 1 || one[0].Target != "notification:2" {
		t.Errorf("ListAudit(bob, 1) = %+v, %v; want bob's newest", one, err)
	}
	if none, err := s.ListAudit(ctx, time.Time{}, "carol", 10); err != nil || len(none) != 0 {
		t.Errorf("ListAudit(carol) = %+v, %v", none, err)
	}
	if err := s.AppendAudit(ctx, repo.AuditEntry{At: Now, Actor: "x", Action: "y", Detail: json.RawMessage(`{bad`)}); err == nil {
		t.Errorf("an entry with invalid JSON detail was written")
	}
}

// ingestAuditDatabaseClock: an entry without an instant is stamped with
// the store's clock.
func ingestAuditDatabaseClock(t *testing.T, s Store) {
	ctx := context.Background()
	before := time.Now().Add(-time.Minute)
	if err := s.AppendAudit(ctx, repo.AuditEntry{Actor: "alice", Action: "resend", Target: "notification:1"}); err != nil {
		t.Fatal(err)
	}
	after := time.Now().Add(time.Minute)
	got, err := s.ListAudit(ctx, before, "alice", 10)
	if err != nil || len(got) != 1 || got[0].At.Before(before) || got[0].At.After(after) {
		t.Errorf("ListAudit = %+v, %v; want one entry stamped between %v and %v", got, err, before, after)
	}
}

// ingestAuditLimit: no limit means 100, newest first.
func ingestAuditLimit(t *testing.T, s Store) {
	ctx := context.Background()
	for i := range 101 {
		if err := s.AppendAudit(ctx, repo.AuditEntry{At: Now.Add(time.Duration(i) * time.Second), Actor: "alice",
			Action: "resend", Target: fmt.Sprintf("notification:%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.ListAudit(ctx, time.Time{}, "", -1)
	if err != nil || len(got) != 100 || got[0].Target != "notification:100" || got[99].Target != "notification:1" {
		t.Errorf("ListAudit(no limit) = %d entries (%v), want the newest 100", len(got), err)
	}
}
