package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"duebell/kinds"
	"duebell/repo"
)

// The dispatcher's store methods: claim, finish, rescue, extend, the SMS
// cap's counts, digests, collection limits and the queue's gauges.

var (
	dispatchLoc, _ = time.LoadLocation("Asia/Shanghai")
	// dispatchScanAt queues the due_soon notices of bills due on the 24th;
	// they go out from the window's opening (09:00).
	dispatchScanAt = dispatchAt(21, 8, 0)
	dispatchSendAt = dispatchAt(21, 10, 0)
	dispatchDue24  = repo.NewDate(2026, 11, 24)
)

// dispatchAt is day d of November 2026, h:m in Shanghai.
func dispatchAt(d, h, m int) time.Time { return time.Date(2026, 11, d, h, m, 0, 0, dispatchLoc) }

func dispatchStage(channels ...string) []repo.Stage {
	return []repo.Stage{{Name: "due_soon", OffsetDays: -3, Kind: "due_soon", Channels: channels}}
}

// dispatchQueue runs the due-date scan at at with stages.
func dispatchQueue(t *testing.T, s Store, at time.Time, stages []repo.Stage) {
	t.Helper()
	if _, err := s.QueueDueReminders(context.Background(), at, stages); err != nil {
		t.Fatalf("scan at %v: %v", at, err)
	}
}

// dispatchBills stores customer ref with one plan of n bills due on the 24th.
func dispatchBills(t *testing.T, s Store, ref string, n int, edit ...func(*repo.Customer)) repo.Customer {
	t.Helper()
	c := Customer(t, s, ref, edit...)
	dues := make([]repo.Date, n)
	for i := range dues {
		dues[i] = dispatchDue24
	}
	Plan(t, s, "p-"+ref, ref, dues)
	return c
}

func dispatchClaim(t *testing.T, s Store, owner string, at time.Time, limit, smsCap int) []repo.Claim {
	t.Helper()
	claims, err := s.ClaimNotifications(context.Background(), owner, at, at, 2*time.Minute, limit, smsCap)
	if err != nil {
		t.Fatalf("claim by %s at %v: %v", owner, at, err)
	}
	return claims
}

func dispatchFinish(t *testing.T, s Store, owner string, at time.Time, outs ...repo.Outcome) {
	t.Helper()
	if err := s.FinishNotifications(context.Background(), owner, at, outs); err != nil {
		t.Fatalf("finish by %s: %v", owner, err)
	}
}

func dispatchNotice(t *testing.T, s Store, id int64) repo.Notification {
	t.Helper()
	n, err := s.GetNotification(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func dispatchAttempts(t *testing.T, s Store, id int64) []repo.Attempt {
	t.Helper()
	as, err := s.ListAttempts(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return as
}

// dispatchSent is the outcome of a try that reached provider as msgID at at.
func dispatchSent(c repo.Claim, provider, msgID string, at time.Time) repo.Outcome {
	return repo.Outcome{ID: c.ID, Status: repo.StatusSent, Provider: provider, ProviderMsgID: msgID, SentAt: &at,
		Attempt: &repo.Attempt{N: c.Attempts, Channel: c.Channel, Provider: provider, StartedAt: at, FinishedAt: at,
			Outcome: repo.OutcomeSent, ProviderMsgID: msgID}}
}

func dispatchIDs(claims []repo.Claim) []int64 {
	ids := make([]int64, len(claims))
	for i, c := range claims {
		ids[i] = c.ID
	}
	return ids
}

func init() {
	register("Dispatch", func(t *testing.T, open Opener) {
		t.Run("ClaimLeasesDueNoticesOldestFirst", func(t *testing.T) { dispatchTestClaim(t, open(t)) })
		t.Run("FinishRecordsEachTryAndItsOutcome", func(t *testing.T) { dispatchTestFinish(t, open(t)) })
		t.Run("FinishWithoutTheLeaseOnlyLogsTheTry", func(t *testing.T) { dispatchTestLostLease(t, open(t)) })
		t.Run("FinishOfAnOlderClaimLeavesALaterOneAlone", func(t *testing.T) { dispatchTestOlderClaim(t, open(t)) })
		t.Run("RescueLogsTheLostTryAsUnknown", func(t *testing.T) { dispatchTestRescue(t, open(t)) })
		t.Run("RescueSkipsAReminderWhoseBillMovedInFlight", func(t *testing.T) { dispatchTestRescueMovedBill(t, open(t)) })
		t.Run("ExtendLeasesKeepsALiveWorkersNotices", func(t *testing.T) { dispatchTestExtend(t, open(t)) })
		t.Run("SMSCapCounts", func(t *testing.T) { dispatchTestSMSCap(t, open(t)) })
		t.Run("PinnedClaimLeasesOnTheLeaseClock", func(t *testing.T) { dispatchTestPinnedLease(t, open(t)) })
		t.Run("ConfirmationCarriesTheSettlingPayment", func(t *testing.T) { dispatchTestPaymentAmount(t, open(t)) })
		t.Run("ReloadClaimReadsTheDataAsItIsNow", func(t *testing.T) { dispatchTestReload(t, open(t)) })
		t.Run("QueueDepthAndNextDue", func(t *testing.T) { dispatchTestGauges(t, open(t)) })
		t.Run("UnknownNotice", func(t *testing.T) { dispatchTestUnknown(t, open(t)) })
		t.Run("OldestDue", func(t *testing.T) { dispatchTestOldestDue(t, open(t)) })
		t.Run("DigestLeaderListsItsBills", func(t *testing.T) { dispatchTestDigest(t, open(t)) })
		t.Run("DigestHandedOverGoesOutThroughTheBillsOwnNotice", func(t *testing.T) { dispatchTestHandOver(t, open(t)) })
		t.Run("FinishRecordsTheBillANoticeToldOf", func(t *testing.T) { dispatchTestTold(t, open(t)) })
		t.Run("CollectionCounts", func(t *testing.T) { dispatchTestCollection(t, open(t)) })
		t.Run("ServiceClosedCarriesOutstandingAtClaim", func(t *testing.T) { dispatchTestOutstanding(t, open(t)) })
		t.Run("ReceiptBeforeSentIsAppliedByFinish", func(t *testing.T) { dispatchTestReceipts(t, open) })
	})
}

// Due notices are leased oldest due first (not oldest created), each to one
// owner, with what the dispatcher needs to re-check and render them; nothing
// is leased before its time.
func dispatchTestClaim(t *testing.T, s Store) {
	// A scan queues notices due from its own time: c2's, queued after
	// c1's by a scan that ran as of an earlier time, are due first.
	dispatchBills(t, s, "c1", 2)
	dispatchQueue(t, s, dispatchAt(21, 8, 30), dispatchStage("sms"))
	dispatchBills(t, s, "c2", 1)
	dispatchQueue(t, s, dispatchScanAt, dispatchStage("sms"))

	if got := dispatchClaim(t, s, "w0", dispatchScanAt.Add(-time.Second), 10, 0); len(got) != 0 {
		t.Fatalf("claimed %d notices before any was due", len(got))
	}
	first := dispatchClaim(t, s, "w1", dispatchSendAt, 1, 0)
	if len(first) != 1 || first[0].Customer.Ref != "c2" {
		t.Fatalf("first claim %+v, want c2's notice (due earliest, queued last)", first)
	}
	rest := dispatchClaim(t, s, "w2", dispatchSendAt, 10, 0)
	if len(rest) != 2 || rest[0].ID > rest[1].ID || !rest[0].NextAttemptAt.Equal(rest[1].NextAttemptAt) {
		t.Fatalf("second claim %v, want c1's two notices in id order", dispatchIDs(rest))
	}
	if !first[0].NextAttemptAt.Before(rest[0].NextAttemptAt) {
		t.Errorf("the Tokyo notice is due %v, not before %v", first[0].NextAttemptAt, rest[0].NextAttemptAt)
	}
	c := rest[0]
	if c.Status != repo.StatusSending || c.LeaseOwner == nil || *c.LeaseOwner != "w2" || c.Attempts != 1 ||
		c.LeaseExpiresAt == nil || !c.LeaseExpiresAt.Equal(dispatchSendAt.Add(2*time.Minute)) || !c.UpdatedAt.Equal(dispatchSendAt) {
		t.Errorf("claim: status %s owner %v attempts %d lease %v updated %v", c.Status, c.LeaseOwner, c.Attempts,
			c.LeaseExpiresAt, c.UpdatedAt)
	}
	if c.Customer.Ref != "c1" || c.Customer.Phone != "+8613812345678" || c.Customer.Timezone != "Asia/Shanghai" ||
		c.Plan.Ref != "p-c1" || c.Plan.Currency != "CNY" || c.Installment.Seq != 1 ||
		c.Installment.DueDate != dispatchDue24 || c.Installment.Amount != 50000 || c.Installment.Status != "pending" ||
		string(c.EventPayload) != "{}" || c.Outstanding != 0 || c.SMSSent != 0 || c.SMSOldest != nil {
		t.Errorf("claim carries %+v / %+v / %+v payload %s", c.Customer, c.Plan, c.Installment, c.EventPayload)
	}
	if n := dispatchNotice(t, s, c.ID); n.Status != repo.StatusSending || n.LeaseOwner == nil || *n.LeaseOwner != "w2" {
		t.Errorf("stored claim: %s %v", n.Status, n.LeaseOwner)
	}
	if got := dispatchClaim(t, s, "w3", dispatchSendAt.Add(time.Minute), 10, 0); len(got) != 0 {
		t.Errorf("notices leased twice: %v", dispatchIDs(got))
	}
}

// A claim pinned to another instant than the lease clock's (dispatch
// --once --at, a replay or a run ahead of time) leases until the lease
// clock's now + lease, and counts the SMS other workers hold on a lease
// live by that clock: a lease is never measured against the pinned instant.
func dispatchTestPinnedLease(t *testing.T, s Store) {
	dispatchBills(t, s, "c1", 2)
	dispatchQueue(t, s, dispatchScanAt, dispatchStage("sms"))
	at, wall := dispatchSendAt.AddDate(1, 0, 0), dispatchSendAt // pinned a year ahead of the lease clock
	first, err := s.ClaimNotifications(context.Background(), "w1", at, wall, 2*time.Minute, 1, 3)
	if err != nil || len(first) != 1 {
		t.Fatalf("claim: %d, %v", len(first), err)
	}
	if n := dispatchNotice(t, s, first[0].ID); n.LeaseExpiresAt == nil || !n.LeaseExpiresAt.Equal(wall.Add(2*time.Minute)) ||
		!n.UpdatedAt.Equal(at) {
		t.Errorf("lease until %v, updated %v; want the lease clock's %v + 2m, updated at the pinned %v",
			n.LeaseExpiresAt, n.UpdatedAt, wall, at)
	}
	second, err := s.ClaimNotifications(context.Background(), "w2", at, wall.Add(time.Minute), 2*time.Minute, 1, 3)
	if err != nil || len(second) != 1 || second[0].SMSInFlight != 1 {
		t.Fatalf("second claim %+v (%v), want c1's other SMS with w1's, live on the lease clock, in flight", second, err)
	}
}

// One attempt row per try; a retry keeps its next time and error; a
// deferral gives the attempt back and keeps the last error; a permanent
// failure ends the notice; content and provider fields stick once set.
func dispatchTestFinish(t *testing.T, s Store) {
	ctx := context.Background()
	dispatchBills(t, s, "c1", 1)
	dispatchQueue(t, s, dispatchScanAt, dispatchStage("sms", "email"))
	claims := dispatchClaim(t, s, "w1", dispatchSendAt, 10, 0)
	if len(claims) != 2 {
		t.Fatalf("claimed %d, want an SMS and an email", len(claims))
	}
	var sms, email repo.Claim
	for _, c := range claims {
		if c.Channel == "sms" {
			sms = c
		} else {
			email = c
		}
	}
	retryAt := dispatchSendAt.Add(time.Minute)
	sentAt := dispatchSendAt.Add(2 * time.Second)
	emailOut := dispatchSent(email, "smtp", "<n1@duebell>", sentAt)
	emailOut.Template, emailOut.Recipient, emailOut.Subject, emailOut.Body = "due_soon", "c1@example.net", "还款提醒", "请还款"
	dispatchFinish(t, s, "w1", dispatchSendAt.Add(3*time.Second),
		repo.Outcome{ID: sms.ID, Status: repo.StatusPending, Reason: "retry: 503", NextAttemptAt: retryAt,
			Template: "due_soon", Body: "短信正文", Provider: "aliyun", LastError: "503 gateway unavailable",
			Attempt: &repo.Attempt{N: 1, Channel: "sms", Provider: "aliyun", StartedAt: dispatchSendAt,
				FinishedAt: dispatchSendAt.Add(time.Second), Outcome: repo.OutcomeTransient, Code: "503",
				Error: "gateway unavailable"}},
		emailOut)

	e := dispatchNotice(t, s, email.ID)
	if e.Status != repo.StatusSent || e.Provider != "smtp" || e.ProviderMsgID != "<n1@duebell>" || e.SentAt == nil ||
		!e.SentAt.Equal(sentAt) || e.Recipient != "c1@example.net" || e.Subject != "还款提醒" || e.Body != "请还款" ||
		e.LeaseOwner != nil || e.LeaseExpiresAt != nil || !e.UpdatedAt.Equal(dispatchSendAt.Add(3*time.Second)) {
		t.Errorf("sent email: %+v", e)
	}
	// The same group written again (the connection dropped after the
	// commit, before its reply): nothing changes, the try stands once.
	dispatchFinish(t, s, "w1", dispatchSendAt.Add(4*time.Second), emailOut)
	if as := dispatchAttempts(t, s, email.ID); len(as) != 1 || as[0].Outcome != repo.OutcomeSent ||
		as[0].ProviderMsgID != "<n1@duebell>" || as[0].Channel != "email" || !as[0].StartedAt.Equal(sentAt) {
		t.Errorf("email attempts %+v", as)
	}
	n := dispatchNotice(t, s, sms.ID)
	if n.Status != repo.StatusPending || n.StatusReason != "retry: 503" || !n.NextAttemptAt.Equal(retryAt) ||
		n.Attempts != 1 || n.LastError != "503 gateway unavailable" || n.Body != "短信正文" || n.LeaseOwner != nil {
		t.Errorf("retried SMS: %+v", n)
	}
	if got := dispatchClaim(t, s, "w1", retryAt.Add(-time.Second), 10, 0); len(got) != 0 {
		t.Errorf("retry claimed before its time")
	}

	// The retry falls outside the send window: deferred, not tried.
	again := dispatchClaim(t, s, "w1", retryAt, 10, 0)
	if len(again) != 1 || again[0].ID != sms.ID || again[0].Attempts != 2 || again[0].Body != "短信正文" {
		t.Fatalf("retry claim %+v", again)
	}
	tomorrow := dispatchAt(22, 9, 0)
	dispatchFinish(t, s, "w1", retryAt, repo.Outcome{ID: sms.ID, Status: repo.StatusPending, Deferred: true,
		NextAttemptAt: tomorrow, Reason: "waiting: send window"})
	n = dispatchNotice(t, s, sms.ID)
	if n.Attempts != 1 || !n.NextAttemptAt.Equal(tomorrow) || n.LastError != "503 gateway unavailable" ||
		n.StatusReason != "waiting: send window" || n.Provider != "aliyun" || n.Template != "due_soon" {
		t.Errorf("deferred SMS: attempts %d next %v error %q reason %q provider %q", n.Attempts, n.NextAttemptAt,
			n.LastError, n.StatusReason, n.Provider)
	}
	if as := dispatchAttempts(t, s, sms.ID); len(as) != 1 {
		t.Errorf("a deferral logged an attempt: %+v", as)
	}

	// A release with no time (zero NextAttemptAt) keeps the time it has.
	dispatchClaim(t, s, "w1", tomorrow, 10, 0)
	dispatchFinish(t, s, "w1", tomorrow, repo.Outcome{ID: sms.ID, Status: repo.StatusPending, Deferred: true})
	if n := dispatchNotice(t, s, sms.ID); !n.NextAttemptAt.Equal(tomorrow) || n.Attempts != 1 {
		t.Errorf("release without a time: next %v attempts %d", n.NextAttemptAt, n.Attempts)
	}

	last := dispatchClaim(t, s, "w1", tomorrow, 10, 0)
	if len(last) != 1 || last[0].Attempts != 2 {
		t.Fatalf("claim after deferral: %+v", last)
	}
	dispatchFinish(t, s, "w1", tomorrow.Add(time.Second), repo.Outcome{ID: sms.ID, Status: repo.StatusFailed,
		Reason: "rejected by provider", LastError: "invalid number",
		Attempt: &repo.Attempt{N: 2, Channel: "sms", Provider: "aliyun", StartedAt: tomorrow, FinishedAt: tomorrow,
			Outcome: repo.OutcomePermanent, Code: "isv.MOBILE_NUMBER_ILLEGAL", Error: "invalid number"}})
	n = dispatchNotice(t, s, sms.ID)
	if n.Status != repo.StatusFailed || n.LastError != "invalid number" || n.Attempts != 2 {
		t.Errorf("failed SMS: %s %q attempts %d", n.Status, n.LastError, n.Attempts)
	}
	as := dispatchAttempts(t, s, sms.ID)
	if len(as) != 2 || as[0].N != 1 || as[0].Outcome != repo.OutcomeTransient || as[0].Code != "503" ||
		as[1].N != 2 || as[1].Outcome != repo.OutcomePermanent || as[1].Code != "isv.MOBILE_NUMBER_ILLEGAL" {
		t.Errorf("SMS attempts %+v", as)
	}
	if got := dispatchClaim(t, s, "w1", tomorrow.Add(time.Hour), 10, 0); len(got) != 0 {
		t.Errorf("a failed notice was claimed again")
	}
	if err := s.FinishNotifications(ctx, "w1", tomorrow, nil); err != nil {
		t.Errorf("finishing nothing: %v", err)
	}
}

// A worker that lost its lease cannot overwrite the new holder's state; its
// try is still in the log.
func dispatchTestLostLease(t *testing.T, s Store) {
	dispatchBills(t, s, "c1", 1)
	dispatchQueue(t, s, dispatchScanAt, dispatchStage("sms"))
	c := dispatchClaim(t, s, "w1", dispatchSendAt, 10, 0)
	if len(c) != 1 {
		t.Fatalf("claimed %d", len(c))
	}
	dispatchFinish(t, s, "w2", dispatchSendAt, dispatchSent(c[0], "aliyun", "biz-1", dispatchSendAt))
	n := dispatchNotice(t, s, c[0].ID)
	if n.Status != repo.StatusSending || n.LeaseOwner == nil || *n.LeaseOwner != "w1" || n.ProviderMsgID != "" || n.SentAt != nil {
		t.Errorf("another owner's finish changed the notice: %s %v %q", n.Status, n.LeaseOwner, n.ProviderMsgID)
	}
	if as := dispatchAttempts(t, s, c[0].ID); len(as) != 1 || as[0].ProviderMsgID != "biz-1" {
		t.Errorf("the try is not logged: %+v", as)
	}
}

// A worker cut off past its lease, whose notice another worker rescued and
// it then claimed again itself: the outcome of its older claim (a release,
// or a try whose answer came late) is written after the new claim and must
// not end it, though the owner is the same; its try is still logged. The
// outcome of the new claim is written.
func dispatchTestOlderClaim(t *testing.T, s Store) {
	ctx := context.Background()
	dispatchBills(t, s, "c1", 1)
	dispatchQueue(t, s, dispatchScanAt, dispatchStage("sms"))
	old := dispatchClaim(t, s, "w1", dispatchSendAt, 10, 0)
	if len(old) != 1 {
		t.Fatalf("claimed %d", len(old))
	}
	later := dispatchSendAt.Add(2*time.Minute + time.Second)
	if n, err := s.RescueExpired(ctx, later, "w2", nil); err != nil || n != 1 {
		t.Fatalf("rescued %d (%v), want w1's notice", n, err)
	}
	again := dispatchClaim(t, s, "w1", later, 10, 0)
	if len(again) != 1 || again[0].Attempts == old[0].Attempts {
		t.Fatalf("claimed again %d, attempts %d then %d: want the notice, its count moved on", len(again),
			old[0].Attempts, again[0].Attempts)
	}
	released := repo.Outcome{ID: old[0].ID, Claim: old[0].Attempts, Status: repo.StatusPending, Deferred: true}
	tried := dispatchSent(old[0], "aliyun", "late", dispatchSendAt)
	tried.Claim = old[0].Attempts
	dispatchFinish(t, s, "w1", later, released)
	dispatchFinish(t, s, "w1", later, tried)
	n := dispatchNotice(t, s, old[0].ID)
	if n.Status != repo.StatusSending || n.LeaseOwner == nil || *n.LeaseOwner != "w1" || n.Attempts != again[0].Attempts ||
		n.ProviderMsgID != "" {
		t.Errorf("the older claim's outcomes ended the later claim: %s owner %v attempts %d %q", n.Status, n.LeaseOwner,
			n.Attempts, n.ProviderMsgID)
	}
	if as := dispatchAttempts(t, s, old[0].ID); len(as) != 2 || as[1].ProviderMsgID != "late" {
		t.Errorf("attempts %+v, want the rescue's unknown and the late try logged", as)
	}
	now := dispatchSent(again[0], "aliyun", "now", later)
	now.Claim = again[0].Attempts
	dispatchFinish(t, s, "w1", later, now)
	if n := dispatchNotice(t, s, old[0].ID); n.Status != repo.StatusSent || n.ProviderMsgID != "now" {
		t.Errorf("the later claim's outcome left %s %q, want sent \"now\"", n.Status, n.ProviderMsgID)
	}
}

// An expired lease returns its notice to the queue, first in line, and logs
// the lost try with an unknown outcome; a late finish by the lost worker
// changes nothing.
func dispatchTestRescue(t *testing.T, s Store) {
	ctx := context.Background()
	dispatchBills(t, s, "c1", 1)
	dispatchQueue(t, s, dispatchScanAt, dispatchStage("sms"))
	c := dispatchClaim(t, s, "crashed", dispatchSendAt, 10, 0)
	if len(c) != 1 {
		t.Fatalf("claimed %d", len(c))
	}
	// A later notice, due after the rescued one.
	dispatchBills(t, s, "c2", 1)
	dispatchQueue(t, s, dispatchAt(21, 10, 1), dispatchStage("sms"))

	if n, err := s.RescueExpired(ctx, dispatchSendAt.Add(2*time.Minute), "", nil); err != nil || n != 0 {
		t.Fatalf("rescued %d (%v) at the lease's expiry, want 0", n, err)
	}
	rescueAt := dispatchSendAt.Add(2*time.Minute + time.Second)
	// A live dispatcher never rescues its own notices: their outcomes are
	// still to be written.
	if n, err := s.RescueExpired(ctx, rescueAt, "crashed", nil); err != nil || n != 0 {
		t.Fatalf("the owner rescued %d (%v) of its own notices, want 0", n, err)
	}
	// The lost try names the provider it may have reached: the one its
	// channel sends through (the notice's own column is written with an
	// outcome, and a first try has none).
	if n, err := s.RescueExpired(ctx, rescueAt, "w2", map[string]string{"sms": "aliyun", "email": "smtp"}); err != nil || n != 1 {
		t.Fatalf("rescued %d (%v), want 1", n, err)
	}
	n := dispatchNotice(t, s, c[0].ID)
	if n.Status != repo.StatusPending || n.LeaseOwner != nil || n.LeaseExpiresAt != nil || n.Attempts != 1 ||
		n.StatusReason != "lease expired: outcome of the last try unknown" || !n.NextAttemptAt.Equal(c[0].NextAttemptAt) {
		t.Errorf("rescued notice: %+v", n)
	}
	as := dispatchAttempts(t, s, c[0].ID)
	if len(as) != 1 || as[0].N != 1 || as[0].Outcome != repo.OutcomeUnknown || as[0].Channel != "sms" || as[0].Provider != "aliyun" ||
		!as[0].StartedAt.Equal(dispatchSendAt) || !as[0].FinishedAt.Equal(rescueAt) ||
		as[0].Error != "lease expired: the worker stopped before recording the outcome; the message may have gone out" {
		t.Errorf("rescue attempts %+v", as)
	}
	if n, _ := s.RescueExpired(ctx, rescueAt.Add(time.Hour), "", nil); n != 0 {
		t.Errorf("rescued %d again", n)
	}

	again := dispatchClaim(t, s, "w2", rescueAt, 1, 0)
	if len(again) != 1 || again[0].ID != c[0].ID || again[0].Attempts != 2 {
		t.Fatalf("after rescue claimed %v, want the rescued notice first", dispatchIDs(again))
	}
	dispatchFinish(t, s, "w2", rescueAt, dispatchSent(again[0], "aliyun", "biz-2", rescueAt))
	dispatchFinish(t, s, "crashed", rescueAt.Add(time.Minute), repo.Outcome{ID: c[0].ID, Status: repo.StatusFailed, Reason: "stale"})
	if n := dispatchNotice(t, s, c[0].ID); n.Status != repo.StatusSent || n.ProviderMsgID != "biz-2" {
		t.Errorf("stale finish overwrote the rescuer's result: %s %q", n.Status, n.ProviderMsgID)
	}
	if as := dispatchAttempts(t, s, c[0].ID); len(as) != 2 || as[0].Outcome != repo.OutcomeUnknown || as[1].Outcome != repo.OutcomeSent {
		t.Errorf("attempts %+v, want #1 unknown and #2 sent", as)
	}
}

// A reminder whose bill a push moved a month later while it was being sent
// gave its key up (migration 053): when its lease runs out it is not tried
// again for the old date but skipped, and the new date's scan queues the
// stage afresh.
func dispatchTestRescueMovedBill(t *testing.T, s Store) {
	ctx := context.Background()
	dispatchBills(t, s, "c1", 1)
	dispatchQueue(t, s, dispatchScanAt, dispatchStage("sms"))
	c := dispatchClaim(t, s, "crashed", dispatchSendAt, 10, 0)
	if len(c) != 1 {
		t.Fatalf("claimed %d", len(c))
	}
	Plan(t, s, "p-c1", "c1", []repo.Date{repo.NewDate(2026, 12, 24)})
	rescueAt := dispatchSendAt.Add(2*time.Minute + time.Second)
	if n, err := s.RescueExpired(ctx, rescueAt, "w2", nil); err != nil || n != 1 {
		t.Fatalf("rescued %d (%v), want 1", n, err)
	}
	if n := dispatchNotice(t, s, c[0].ID); n.Status != repo.StatusSkipped || n.StatusReason != repo.MovedInFlightReason {
		t.Errorf("a rescued reminder of a bill moved in flight: %s %q, want skipped %q", n.Status, n.StatusReason, repo.MovedInFlightReason)
	}
	if as := dispatchAttempts(t, s, c[0].ID); len(as) != 1 || as[0].Outcome != repo.OutcomeUnknown {
		t.Errorf("attempts %+v, want the lost try as unknown", as)
	}
	res, err := s.QueueDueReminders(ctx, dispatchScanAt.AddDate(0, 0, 30), dispatchStage("sms"))
	if err != nil || res.Total() != 1 {
		t.Errorf("the new date's scan queued %d (%v), want its due_soon", res.Total(), err)
	}
}

// Extending moves only the owner's leases, never earlier; an extended lease
// is not rescued. It names the notices whose leases it extended: one the
// owner claimed and does not find there (its lease ran out, another worker
// rescued and claimed it) is no longer the owner's to send, and one the
// owner finished is no longer held.
func dispatchTestExtend(t *testing.T, s Store) {
	ctx := context.Background()
	dispatchBills(t, s, "c1", 4)
	dispatchQueue(t, s, dispatchScanAt, dispatchStage("sms"))
	mine := dispatchClaim(t, s, "w1", dispatchSendAt, 3, 0)
	theirs := dispatchClaim(t, s, "w2", dispatchSendAt, 1, 0)
	if len(mine) != 3 || len(theirs) != 1 {
		t.Fatalf("claims %d, %d", len(mine), len(theirs))
	}
	extend := func(owner string, at time.Time, lease time.Duration) []int64 {
		t.Helper()
		ids, err := s.ExtendLeases(ctx, owner, at, lease)
		if err != nil {
			t.Fatalf("extend %s's leases: %v", owner, err)
		}
		return ids
	}
	if got, want := extend("w1", dispatchSendAt.Add(time.Minute), 2*time.Minute), slices.Sorted(slices.Values(dispatchIDs(mine))); !slices.Equal(got, want) {
		t.Fatalf("extended %v, want w1's %v", got, want)
	}
	want := dispatchSendAt.Add(3 * time.Minute)
	if n := dispatchNotice(t, s, mine[0].ID); n.LeaseExpiresAt == nil || !n.LeaseExpiresAt.Equal(want) {
		t.Errorf("lease %v, want %v", n.LeaseExpiresAt, want)
	}
	// An older clock never shortens a lease.
	extend("w1", dispatchSendAt.Add(-time.Hour), 2*time.Minute)
	if n := dispatchNotice(t, s, mine[0].ID); n.LeaseExpiresAt == nil || !n.LeaseExpiresAt.Equal(want) {
		t.Errorf("lease moved back to %v", n.LeaseExpiresAt)
	}
	if n, err := s.RescueExpired(ctx, dispatchSendAt.Add(2*time.Minute+time.Second), "", nil); err != nil || n != 1 {
		t.Fatalf("rescued %d (%v), want only w2's", n, err)
	}
	if n := dispatchNotice(t, s, mine[0].ID); n.Status != repo.StatusSending {
		t.Errorf("an extended lease was rescued: %s", n.Status)
	}
	if n := dispatchNotice(t, s, theirs[0].ID); n.Status != repo.StatusPending {
		t.Errorf("w2's lease was extended by w1: %s", n.Status)
	}
	if ids := extend("nobody", dispatchSendAt, time.Minute); len(ids) != 0 {
		t.Errorf("extended %v for an owner holding nothing", ids)
	}

	// w1 is cut off past its lease: w3 rescues and claims its notices
	// (theirs, rescued above, with them). w1 finished one of them first.
	dispatchFinish(t, s, "w1", dispatchSendAt.Add(2*time.Minute), dispatchSent(mine[2], "aliyun", "m-3", dispatchSendAt))
	late := want.Add(time.Second)
	if n, err := s.RescueExpired(ctx, late, "w3", nil); err != nil || n != 2 {
		t.Fatalf("rescued %d (%v), want w1's 2 unfinished", n, err)
	}
	taken := dispatchClaim(t, s, "w3", late, 10, 0)
	if len(taken) != 3 {
		t.Fatalf("w3 claimed %d, want w1's 2 and w2's 1", len(taken))
	}
	// w1's extension, when it reaches the database again, goes through but
	// names none of them: w1 holds nothing any more.
	if ids := extend("w1", late, 2*time.Minute); len(ids) != 0 {
		t.Errorf("w1 extended %v after w3 took its notices over, want none", ids)
	}
	if got, want := extend("w3", late, 2*time.Minute), slices.Sorted(slices.Values(dispatchIDs(taken))); !slices.Equal(got, want) {
		t.Errorf("w3 extended %v, want %v (in id order)", got, want)
	}
	for _, c := range taken {
		if n := dispatchNotice(t, s, c.ID); n.LeaseOwner == nil || *n.LeaseOwner != "w3" {
			t.Errorf("notice %d leased to %v after w1's extension, want w3", c.ID, n.LeaseOwner)
		}
	}
}

// With the cap on, an SMS claim counts the customer's SMS sent in the 24
// hours before it (and the earliest of them) and the customer's other SMS
// held right now by a live lease, not this claim's own; other customers
// and email count nothing; with the cap off nothing is counted.
func dispatchTestSMSCap(t *testing.T, s Store) {
	dispatchBills(t, s, "c1", 5)
	dispatchQueue(t, s, dispatchScanAt, dispatchStage("sms"))
	dispatchBills(t, s, "c2", 1) // queued after c1's, in line after them
	dispatchQueue(t, s, dispatchScanAt.Add(time.Minute), dispatchStage("sms"))
	at := dispatchSendAt
	sent := dispatchClaim(t, s, "w1", at, 2, 0) // c1's first two
	if len(sent) != 2 || sent[0].Customer.Ref != "c1" || sent[1].Customer.Ref != "c1" {
		t.Fatalf("claimed %v", dispatchIDs(sent))
	}
	long := at.Add(-25 * time.Hour)
	recent := at.Add(-time.Hour)
	dispatchFinish(t, s, "w1", at, dispatchSent(sent[0], "aliyun", "old", long), dispatchSent(sent[1], "aliyun", "new", recent))
	if other := dispatchClaim(t, s, "other", at, 1, 3); len(other) != 1 || other[0].Customer.Ref != "c1" ||
		other[0].SMSSent != 1 || other[0].SMSInFlight != 0 {
		t.Fatalf("other's claim %+v", other)
	}
	claims := dispatchClaim(t, s, "w1", at.Add(time.Minute), 10, 3)
	if len(claims) != 3 {
		t.Fatalf("claimed %d, want c1's last two and c2's", len(claims))
	}
	var c1 repo.Claim
	for _, c := range claims {
		switch c.Customer.Ref {
		case "c1":
			c1 = c
			if c.SMSSent != 1 || c.SMSOldest == nil || !c.SMSOldest.Equal(recent) || c.SMSInFlight != 1 {
				t.Errorf("c1's counts: sent %d oldest %v in flight %d, want 1, %v, 1", c.SMSSent, c.SMSOldest, c.SMSInFlight, recent)
			}
		case "c2":
			if c.SMSSent != 0 || c.SMSOldest != nil || c.SMSInFlight != 0 {
				t.Errorf("c2's counts: %d %v %d", c.SMSSent, c.SMSOldest, c.SMSInFlight)
			}
		}
	}
	// The cap off: no counts, though c1 has an SMS out and one in flight.
	dispatchFinish(t, s, "w1", at.Add(time.Minute), repo.Outcome{ID: c1.ID, Status: repo.StatusPending,
		Deferred: true, NextAttemptAt: at.Add(time.Minute)})
	if off := dispatchClaim(t, s, "w3", at.Add(2*time.Minute), 10, 0); len(off) != 1 || off[0].SMSSent != 0 ||
		off[0].SMSOldest != nil || off[0].SMSInFlight != 0 {
		t.Errorf("cap off: %+v", off)
	}
	// An email notice of c1 carries no SMS counts.
	Plan(t, s, "p-mail", "c1", []repo.Date{dispatchDue24})
	dispatchQueue(t, s, at, dispatchStage("email"))
	if mail := dispatchClaim(t, s, "w4", at.Add(3*time.Minute), 10, 3); len(mail) == 0 || mail[0].Channel != "email" ||
		mail[0].SMSSent != 0 || mail[0].SMSOldest != nil || mail[0].SMSInFlight != 0 {
		t.Errorf("email claim: %+v", mail)
	}
}

// QueueDepth counts pending and sending notices by status and channel;
// NextDue is the earliest pending notice's time.
func dispatchTestGauges(t *testing.T, s Store) {
	ctx := context.Background()
	if _, ok, err := s.NextDue(ctx); ok || err != nil {
		t.Fatalf("next due on an empty queue: %v, %v", ok, err)
	}
	if d, err := s.QueueDepth(ctx); err != nil || len(d) != 0 {
		t.Fatalf("depth of an empty queue: %v, %v", d, err)
	}
	dispatchBills(t, s, "c1", 2)
	dispatchQueue(t, s, dispatchScanAt, dispatchStage("sms", "email"))
	next, ok, err := s.NextDue(ctx)
	if err != nil || !ok || next.After(dispatchSendAt) || next.Before(dispatchScanAt) {
		t.Fatalf("next due %v %v %v", next, ok, err)
	}
	c := dispatchClaim(t, s, "w1", next, 1, 0)
	if len(c) != 1 {
		t.Fatal("nothing due at NextDue")
	}
	d, err := s.QueueDepth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"pending/email": 2, "pending/sms": 2, "sending/" + c[0].Channel: 1}
	want["pending/"+c[0].Channel]--
	var got []string
	for _, sc := range d {
		got = append(got, fmt.Sprintf("%s/%s=%d", sc.Status, sc.Channel, sc.Count))
	}
	var wantS []string
	for _, k := range []string{"pending/email", "pending/sms", "sending/email", "sending/sms"} {
		if want[k] > 0 {
			wantS = append(wantS, fmt.Sprintf("%s=%d", k, want[k]))
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(wantS) {
		t.Errorf("depth %v, want %v", got, wantS)
	}
	dispatchFinish(t, s, "w1", next, dispatchSent(c[0], "p", "m", next))
	dispatchFinish(t, s, "w1", next, repo.Outcome{ID: c[0].ID, Status: repo.StatusFailed}) // lease gone: no-op
	// A retry moved later: NextDue follows the earliest remaining.
	rest := dispatchClaim(t, s, "w1", next, 10, 0)
	var outs []repo.Outcome
	for i, r := range rest {
		outs = append(outs, repo.Outcome{ID: r.ID, Status: repo.StatusPending, Deferred: true,
			NextAttemptAt: next.Add(time.Duration(i+1) * time.Hour)})
	}
	dispatchFinish(t, s, "w1", next, outs...)
	if got, ok, err := s.NextDue(ctx); err != nil || !ok || !got.Equal(next.Add(time.Hour)) {
		t.Errorf("next due %v %v %v, want %v", got, ok, err, next.Add(time.Hour))
	}
}

func dispatchTestUnknown(t *testing.T, s Store) {
	ctx := context.Background()
	if _, err := s.GetNotification(ctx, 424242); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("get unknown notice: %v, want ErrNotFound", err)
	}
	if as, err := s.ListAttempts(ctx, 424242); err != nil || len(as) != 0 {
		t.Errorf("attempts of an unknown notice: %v, %v", as, err)
	}
	if items, err := s.DigestItems(ctx, 424242); err != nil || len(items) != 0 {
		t.Errorf("digest of an unknown notice: %v, %v", items, err)
	}
	if n, err := s.RescueExpired(ctx, dispatchSendAt, "", nil); err != nil || n != 0 {
		t.Errorf("rescue on an empty queue: %d, %v", n, err)
	}
}

// OldestDue: a pending notice counts from its next attempt, a sending one
// from its lease's expiry, and a channel with nothing due reads 0.
func dispatchTestOldestDue(t *testing.T, s Store) {
	ctx := context.Background()
	dispatchBills(t, s, "c1", 2)
	dispatchQueue(t, s, dispatchScanAt, dispatchStage("sms"))
	oldest := func(at time.Time) map[string]float64 {
		t.Helper()
		ages, err := s.OldestDue(ctx, at, []string{"sms", "email"})
		if err != nil {
			t.Fatal(err)
		}
		if len(ages) != 2 || ages[0].Channel != "email" || ages[1].Channel != "sms" {
			t.Errorf("ages %+v, want email then sms", ages)
		}
		out := map[string]float64{}
		for _, a := range ages {
			out[a.Channel] = a.Seconds
		}
		return out
	}
	due, ok, err := s.NextDue(ctx)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if got := oldest(due.Add(-time.Second)); got["sms"] != 0 || got["email"] != 0 {
		t.Errorf("before anything is due: %v", got)
	}
	if got := oldest(due.Add(90*time.Second + 500*time.Millisecond)); got["sms"] != 90.5 || got["email"] != 0 {
		t.Errorf("90.5s after the due time: %v, want sms 90.5", got)
	}
	claimAt := due.Add(time.Hour)
	if claims := dispatchClaim(t, s, "w1", claimAt, 1, 0); len(claims) != 1 {
		t.Fatalf("claimed %d", len(claims))
	}
	// One pending (due an hour ago), one leased.
	if got := oldest(claimAt.Add(time.Minute)); got["sms"] != 3660 {
		t.Errorf("one waiting since due: %v, want 3660", got)
	}
	dispatchClaim(t, s, "w1", claimAt.Add(time.Minute), 1, 0)
	if got := oldest(claimAt.Add(time.Minute + 30*time.Second)); got["sms"] != 0 {
		t.Errorf("while leased: %v, want 0", got)
	}
	if got := oldest(claimAt.Add(5 * time.Minute)); got["sms"] != 180 {
		t.Errorf("first lease expired 3 minutes ago: %v, want sms 180", got)
	}
	if ages, err := s.OldestDue(ctx, claimAt, nil); err != nil || len(ages) != 0 {
		t.Errorf("no channels: %v, %v", ages, err)
	}
}

// A digest goes out as its leader alone; the leader lists every bill of the
// group by due date, and a member lists nothing.
func dispatchTestDigest(t *testing.T, s Store) {
	ctx := context.Background()
	Customer(t, s, "c1")
	Plan(t, s, "p1", "c1", []repo.Date{dispatchDue24})
	Plan(t, s, "p2", "c1", []repo.Date{dispatchDue24})
	Plan(t, s, "p3", "c1", []repo.Date{dispatchDue24})
	stages := dispatchStage("sms")
	stages[0].DigestChannels = []string{"sms"}
	dispatchQueue(t, s, dispatchScanAt, stages)
	claims := dispatchClaim(t, s, "w1", dispatchSendAt, 10, 0)
	if len(claims) != 1 || !claims[0].LeadsDigest() || claims[0].Plan.Ref != "p1" {
		t.Fatalf("claimed %d, want only the digest's leader", len(claims))
	}
	items, err := s.DigestItems(ctx, claims[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range items {
		got = append(got, fmt.Sprintf("%s/%d %s %d", it.Plan.Ref, it.Installment.Seq, it.Installment.DueDate, it.Installment.Amount))
	}
	want := []string{"p1/1 2026-11-24 50000", "p2/1 2026-11-24 50000", "p3/1 2026-11-24 50000"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("digest items %v, want %v", got, want)
	}
	if items[0].NotificationID != claims[0].ID || items[1].NotificationID == claims[0].ID {
		t.Errorf("items' notices %d, %d (leader %d)", items[0].NotificationID, items[1].NotificationID, claims[0].ID)
	}
	if member, err := s.DigestItems(ctx, items[1].NotificationID); err != nil || len(member) != 0 {
		t.Errorf("a member lists %d bills (%v), want none", len(member), err)
	}
}

// dispatchDigest stores customer ref with one plan per ref in plans, each
// with one bill due on the 24th, queues their due_soon SMS as one digest
// and claims its leader (the first plan's notice) for owner w1.
func dispatchDigest(t *testing.T, s Store, ref string, plans ...string) (repo.Claim, []repo.DigestItem) {
	t.Helper()
	Customer(t, s, ref)
	for _, p := range plans {
		Plan(t, s, p, ref, []repo.Date{dispatchDue24})
	}
	stages := dispatchStage("sms")
	stages[0].DigestChannels = []string{"sms"}
	dispatchQueue(t, s, dispatchScanAt, stages)
	claims := dispatchClaim(t, s, "w1", dispatchSendAt, 10, 0)
	if len(claims) != 1 || !claims[0].LeadsDigest() || claims[0].Plan.Ref != plans[0] {
		t.Fatalf("claimed %d, want only the digest's leader", len(claims))
	}
	items, err := s.DigestItems(context.Background(), claims[0].ID)
	if err != nil || len(items) != len(plans) {
		t.Fatalf("digest items %v, %v", items, err)
	}
	return claims[0], items
}

// A leader whose own bill dropped out hands its digest over: the first
// bill still to be told gets its own notice back, pending now and leading
// the others (on its own when it is the only one), and is claimed as any
// notice is, so the message goes out through the row of a bill it names.
// A finish without the lease moves nothing.
func dispatchTestHandOver(t *testing.T, s Store) {
	ctx := context.Background()
	leader, items := dispatchDigest(t, s, "c1", "p1", "p2", "p3")
	at := dispatchSendAt.Add(time.Minute)
	// p1's bill was paid (a scan would queue its stage again were it not:
	// a notice suppressed as paid gives up its key).
	if _, err := s.RecordPayment(ctx, repo.PaymentInput{PlanRef: "p1", Seq: 1, Amount: 50000, Now: at}); err != nil {
		t.Fatal(err)
	}
	handOver := repo.Outcome{ID: leader.ID, Status: repo.StatusSuppressed, Reason: "installment paid",
		HandOver: []int64{items[1].NotificationID, items[2].NotificationID}}
	dispatchFinish(t, s, "w2", at, handOver) // not w2's: nothing moves
	if n := dispatchNotice(t, s, items[1].NotificationID); n.Status != repo.StatusSkipped || *n.DigestOf != leader.ID {
		t.Fatalf("handed over without the lease: %s, digest of %d", n.Status, *n.DigestOf)
	}
	dispatchFinish(t, s, "w1", at, handOver)
	if n := dispatchNotice(t, s, leader.ID); n.Status != repo.StatusSuppressed || n.StatusReason != "installment paid" {
		t.Errorf("leader %s %q", n.Status, n.StatusReason)
	}
	lead, member := dispatchNotice(t, s, items[1].NotificationID), dispatchNotice(t, s, items[2].NotificationID)
	if lead.Status != repo.StatusPending || !lead.LeadsDigest() || !lead.NextAttemptAt.Equal(at) || lead.StatusReason != "" {
		t.Errorf("p2's notice %s %q, next %v, digest of %v: want pending now, leading", lead.Status, lead.StatusReason,
			lead.NextAttemptAt, lead.DigestOf)
	}
	if member.Status != repo.StatusSkipped || *member.DigestOf != lead.ID || member.StatusReason != fmt.Sprintf("in digest #%d", lead.ID) {
		t.Errorf("p3's notice %s %q", member.Status, member.StatusReason)
	}
	if got, err := s.DigestItems(ctx, lead.ID); err != nil || len(got) != 2 || got[0].Plan.Ref != "p2" || got[1].Plan.Ref != "p3" {
		t.Errorf("the new digest lists %+v, %v; want p2 and p3", got, err)
	}
	claims := dispatchClaim(t, s, "w1", at, 10, 0)
	if len(claims) != 1 || claims[0].ID != lead.ID || claims[0].Plan.Ref != "p2" || !claims[0].LeadsDigest() {
		t.Fatalf("claimed %+v, want p2's notice, leading the digest", claims)
	}
	if target, err := s.GetLinkTarget(ctx, lead.ID); err != nil || target.PlanRef != "p2" || target.Seq != 1 {
		t.Errorf("its link's target %+v, %v", target, err)
	}

	// One bill left: its notice goes on its own.
	leader, items = dispatchDigest(t, s, "c2", "q1", "q2")
	dispatchFinish(t, s, "w1", at, repo.Outcome{ID: leader.ID, Status: repo.StatusSkipped, Reason: "superseded by due_today",
		HandOver: []int64{items[1].NotificationID}})
	if n := dispatchNotice(t, s, items[1].NotificationID); n.Status != repo.StatusPending || n.DigestOf != nil {
		t.Errorf("q2's notice %s, digest of %v: want pending on its own", n.Status, n.DigestOf)
	}
}

// An outcome naming another bill than its notice's (a resend of a digest
// whose first bill dropped out) records the notice as telling of that bill:
// its link verifies to it. Without the lease it records nothing.
func dispatchTestTold(t *testing.T, s Store) {
	ctx := context.Background()
	leader, items := dispatchDigest(t, s, "c1", "p1", "p2")
	dispatchFinish(t, s, "w1", dispatchSendAt, dispatchSent(leader, "aliyun", "m1", dispatchSendAt))
	at := dispatchSendAt.Add(time.Hour)
	res, err := s.Resend(ctx, repo.ResendInput{ID: leader.ID, Reason: "客户说没收到", Actor: "ops", Now: at})
	if err != nil {
		t.Fatal(err)
	}
	claims := dispatchClaim(t, s, "w1", at, 10, 0)
	if len(claims) != 1 || claims[0].ID != res.Notification.ID {
		t.Fatalf("claimed %+v, want the resend", claims)
	}
	p2 := items[1]
	told := dispatchSent(claims[0], "aliyun", "m2", at)
	told.PlanID, told.InstallmentID = p2.Plan.ID, p2.Installment.ID
	dispatchFinish(t, s, "w2", at, told) // not w2's
	if target, err := s.GetLinkTarget(ctx, claims[0].ID); err != nil || target.PlanRef != "p1" {
		t.Errorf("recorded without the lease: %+v, %v", target, err)
	}
	dispatchFinish(t, s, "w1", at, told)
	n := dispatchNotice(t, s, claims[0].ID)
	if target, err := s.GetLinkTarget(ctx, n.ID); err != nil || target.PlanRef != "p2" || target.Seq != 1 ||
		n.PlanID == nil || *n.PlanID != p2.Plan.ID || n.InstallmentID == nil || *n.InstallmentID != p2.Installment.ID {
		t.Errorf("the resend tells of %+v (%v), want p2's installment 1", target, err)
	}
}

// CollectionCounts: per customer whose collection notices the owner holds,
// their sent times after since, the held ids, and others' live holds;
// other kinds count nothing. CollectionSent lists the sent times.
func dispatchTestCollection(t *testing.T, s Store) {
	ctx := context.Background()
	overdue := []repo.Stage{{Name: "overdue_1", OffsetDays: 1, Kind: kinds.Overdue, Channels: []string{"sms"}}}
	c1 := Customer(t, s, "c1")
	Plan(t, s, "p1", "c1", []repo.Date{repo.NewDate(2026, 11, 20), repo.NewDate(2026, 11, 20), repo.NewDate(2026, 11, 20),
		repo.NewDate(2026, 11, 20)})
	dispatchQueue(t, s, dispatchScanAt, overdue)
	at := dispatchSendAt
	first := dispatchClaim(t, s, "w1", at, 1, 0)
	if len(first) != 1 || first[0].Kind != kinds.Overdue {
		t.Fatalf("claimed %+v", first)
	}
	sentAt := at.Add(time.Second)
	dispatchFinish(t, s, "w1", sentAt, dispatchSent(first[0], "aliyun", "m1", sentAt))
	dispatchClaim(t, s, "other", at.Add(time.Minute), 1, 0)
	// A worker gone since 09:00: its lease has run out.
	if gone := dispatchClaim(t, s, "gone", dispatchAt(21, 9, 0), 1, 0); len(gone) != 1 {
		t.Fatalf("gone claimed %d", len(gone))
	}
	held := dispatchClaim(t, s, "w1", at.Add(2*time.Minute), 10, 0)
	if len(held) != 1 {
		t.Fatalf("w1 holds %d, want the last", len(held))
	}
	now := at.Add(2*time.Minute + 30*time.Second)
	counts, err := s.CollectionCounts(ctx, "w1", now, at.Add(-24*time.Hour), kinds.Collection())
	if err != nil {
		t.Fatal(err)
	}
	c, ok := counts[c1.ID]
	if len(counts) != 1 || !ok {
		t.Fatalf("counts %+v", counts)
	}
	if len(c.Sent) != 1 || !c.Sent[0].Equal(sentAt) || fmt.Sprint(c.Held) != fmt.Sprint(dispatchIDs(held)) ||
		c.InFlight != 1 || c.CustomerID != c1.ID {
		t.Errorf("c1's counts %+v, want sent %v, held %v, one in flight", c, sentAt, dispatchIDs(held))
	}
	// Sent before since is not counted; others' expired leases are not in flight.
	counts, err = s.CollectionCounts(ctx, "w1", at.Add(10*time.Minute), sentAt, kinds.Collection())
	if err != nil || len(counts[c1.ID].Sent) != 0 || counts[c1.ID].InFlight != 0 {
		t.Errorf("later counts %+v, %v", counts, err)
	}
	if counts, err := s.CollectionCounts(ctx, "w1", now, at.Add(-24*time.Hour), []string{"due_soon"}); err != nil || len(counts) != 0 {
		t.Errorf("counts of other kinds %+v, %v", counts, err)
	}
	if counts, err := s.CollectionCounts(ctx, "nobody", now, at.Add(-24*time.Hour), kinds.Collection()); err != nil || len(counts) != 0 {
		t.Errorf("counts of an owner holding nothing %+v, %v", counts, err)
	}
	// The worker gone since 09:00 may have reached the borrower: once its
	// lease is rescued, the try (unknown) counts as a contact that day,
	// unless w1 holds the notice again to try it anew.
	rescueAt := at.Add(3 * time.Minute)
	if n, err := s.RescueExpired(ctx, rescueAt, "w1", nil); err != nil || n < 1 {
		t.Fatalf("rescued %d, %v", n, err)
	}
	counts, err = s.CollectionCounts(ctx, "w1", rescueAt, at.Add(-24*time.Hour), kinds.Collection())
	if c := counts[c1.ID]; err != nil || len(c.Sent) != 2 || !c.Sent[0].Equal(dispatchAt(21, 9, 0)) || !c.Sent[1].Equal(sentAt) {
		t.Errorf("counts after the rescue %+v, %v, want the lost try (09:00) and the send", c, err)
	}
	again := dispatchClaim(t, s, "w1", rescueAt, 10, 0)
	counts, err = s.CollectionCounts(ctx, "w1", rescueAt, at.Add(-24*time.Hour), kinds.Collection())
	if c := counts[c1.ID]; err != nil || len(again) == 0 || len(c.Sent) != 1 {
		t.Errorf("counts once w1 holds the rescued notice again %+v, %v, want only the send", c, err)
	}
	got, err := s.CollectionSent(ctx, c1.ID, at.Add(-24*time.Hour), kinds.Collection())
	if err != nil || len(got) != 1 || !got[0].Equal(sentAt) {
		t.Errorf("collection sent %v, %v", got, err)
	}
	if got, err := s.CollectionSent(ctx, c1.ID, sentAt, kinds.Collection()); err != nil || got == nil || len(got) != 0 {
		t.Errorf("collection sent after the last: %#v, %v, want an empty list", got, err)
	}
}

// A service_closed notice reports, as of its claim, what is still unpaid on
// the customer's active plans in its plan's currency (a plan in dollars is
// not added to yuan); a customer with none owes 0.
func dispatchTestOutstanding(t *testing.T, s Store) {
	ctx := context.Background()
	at := time.Date(2026, 11, 20, 2, 0, 0, 0, time.UTC)
	dues := []repo.Date{dispatchDue24, repo.NewDate(2026, 12, 24)}
	Customer(t, s, "c1")
	Customer(t, s, "c2")
	Plan(t, s, "p1", "c1", dues, func(p *repo.Plan) { p.Installments[0].Paid = 20000 })
	Plan(t, s, "p2", "c1", []repo.Date{repo.NewDate(2026, 11, 30)})
	Plan(t, s, "usd", "c1", []repo.Date{repo.NewDate(2026, 12, 30)}, func(p *repo.Plan) { p.Currency = "USD" })
	Plan(t, s, "done", "c2", dues, func(p *repo.Plan) { p.Status = repo.PlanClosed })
	for _, c := range []string{"c1", "c2"} {
		if _, _, err := s.RecordEvent(ctx, repo.EventInput{Ref: "closed-" + c, Kind: repo.EventServiceClosed,
			Scope: repo.ScopeCustomer, CustomerRef: c, OccurredAt: at, Now: at, Payload: repo.JSONObject(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.ProcessChannelEvents(ctx, at, 0, []string{"sms", "email"}); err != nil {
		t.Fatal(err)
	}
	// 300.00 + 500.00 on p1 and 500.00 on p2 are unpaid; paying p2 after the
	// scan lowers what the claim reports.
	if _, err := s.RecordPayment(ctx, repo.PaymentInput{PlanRef: "p2", Seq: 1, Amount: 50000, Now: at}); err != nil {
		t.Fatal(err)
	}
	claims := dispatchClaim(t, s, "w1", at, 10, 0)
	got := map[string]string{}
	for _, c := range claims {
		got[c.Customer.Ref+"/"+c.Channel] = fmt.Sprintf("%s %d %d %t", c.Plan.Ref, c.Installment.Seq, c.Outstanding,
			len(c.EventPayload) > 0)
	}
	want := map[string]string{"c1/sms": "p1 1 80000 true", "c1/email": "p1 1 80000 true",
		"c2/sms": " 0 0 true", "c2/email": " 0 0 true"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("claims\n got %v\nwant %v", got, want)
	}
}

// Receipts that arrive while a notice is being sent are applied when the
// finish records it as sent: matched by out-id or message id, delivered
// winning over undelivered, every one marked applied.
func dispatchTestReceipts(t *testing.T, open Opener) {
	for _, tc := range []struct {
		name string
		rcs  []repo.Receipt // OutID "id" stands for the notice's id
		want string
	}{
		{"by out-id", []repo.Receipt{{Provider: "aliyun", ProviderMsgID: "biz-1", OutID: "id", Status: "delivered", Code: "DELIVERED"}},
			"delivered per aliyun receipt (code DELIVERED)"},
		{"by message id only", []repo.Receipt{{Provider: "aliyun", ProviderMsgID: "biz-1", Status: "undelivered", Code: "MK:0001"}},
			"undelivered per aliyun receipt (code MK:0001)"},
		{"twice, delivered wins", []repo.Receipt{
			{Provider: "aliyun", ProviderMsgID: "biz-1", Status: "undelivered", Code: "MK:0001"},
			{Provider: "aliyun", ProviderMsgID: "biz-1", Status: "delivered"},
			{Provider: "aliyun", ProviderMsgID: "biz-1", Status: "delivered", Code: "LATE"}},
			"delivered per aliyun receipt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			ctx := context.Background()
			dispatchBills(t, s, "c1", 2)
			dispatchQueue(t, s, dispatchScanAt, dispatchStage("sms"))
			claims := dispatchClaim(t, s, "w1", dispatchSendAt, 10, 0)
			if len(claims) != 2 {
				t.Fatalf("claimed %d", len(claims))
			}
			id := claims[0].ID
			reported := dispatchSendAt.Add(time.Second)
			for _, rc := range tc.rcs {
				if rc.OutID == "id" {
					rc.OutID = strconv.FormatInt(id, 10)
				}
				rc.Raw, rc.ReportedAt = `{"test":true}`, &reported
				if res, err := s.RecordReceipt(ctx, rc, dispatchSendAt.Add(time.Second)); err != nil || res.Applied {
					t.Fatalf("receipt while sending: %+v, %v", res, err)
				}
			}
			// An unrelated receipt from another provider stays unapplied.
			if _, err := s.RecordReceipt(ctx, repo.Receipt{Provider: "tencent", ProviderMsgID: "biz-1", Status: "undelivered",
				Raw: "{}"}, dispatchSendAt.Add(time.Second)); err != nil {
				t.Fatal(err)
			}
			finishAt := dispatchSendAt.Add(2 * time.Second)
			dispatchFinish(t, s, "w1", finishAt, dispatchSent(claims[0], "aliyun", "biz-1", dispatchSendAt),
				dispatchSent(claims[1], "aliyun", "biz-2", dispatchSendAt))
			n := dispatchNotice(t, s, id)
			wantStatus := repo.StatusDelivered
			if tc.name == "by message id only" {
				wantStatus = repo.StatusUndelivered
			}
			if n.Status != wantStatus || n.StatusReason != tc.want || n.ProviderMsgID != "biz-1" || n.SentAt == nil ||
				!n.UpdatedAt.Equal(finishAt) {
				t.Fatalf("after finish: %s (%q) updated %v, want %s (%q)", n.Status, n.StatusReason, n.UpdatedAt, wantStatus, tc.want)
			}
			if wantStatus == repo.StatusDelivered && (n.DeliveredAt == nil || !n.DeliveredAt.Equal(reported)) {
				t.Errorf("delivered at %v, want %v", n.DeliveredAt, reported)
			}
			if wantStatus == repo.StatusUndelivered && (n.DeliveredAt != nil || n.DeliveryCode != "MK:0001") {
				t.Errorf("undelivered: at %v code %q", n.DeliveredAt, n.DeliveryCode)
			}
			rcs, err := s.ListReceipts(ctx, id)
			if err != nil || len(rcs) != len(tc.rcs) {
				t.Fatalf("matched receipts %d (%v), want %d", len(rcs), err, len(tc.rcs))
			}
			for _, rc := range rcs {
				if rc.AppliedAt == nil || !rc.AppliedAt.Equal(finishAt) {
					t.Errorf("receipt %d applied at %v", rc.ID, rc.AppliedAt)
				}
			}
			if n := dispatchNotice(t, s, claims[1].ID); n.Status != repo.StatusSent {
				t.Errorf("the other notice moved to %s", n.Status)
			}
		})
	}
}

// A confirmation's claim carries what the settling payment brought (300.00
// of a 500.00 bill, 200.00 having been paid the day before), which the
// message names; Installment.Paid is all that was paid.
func dispatchTestPaymentAmount(t *testing.T, s Store) {
	ctx := context.Background()
	dispatchBills(t, s, "c1", 1)
	pay := func(amount int64, at time.Time) {
		t.Helper()
		if _, err := s.RecordPayment(ctx, repo.PaymentInput{PlanRef: "p-c1", Seq: 1, Amount: amount, PaidAt: at, Now: at,
			ConfirmChannels: []string{"sms"}}); err != nil {
			t.Fatal(err)
		}
	}
	pay(20000, dispatchAt(20, 10, 0))
	pay(30000, dispatchAt(21, 10, 0))
	claims := dispatchClaim(t, s, "w1", dispatchAt(21, 10, 1), 10, 0)
	if len(claims) != 1 || claims[0].Kind != kinds.PaymentReceived || claims[0].PaymentAmount != 30000 ||
		claims[0].Installment.Paid != 50000 {
		t.Fatalf("claims %+v, want the confirmation of a 300.00 payment on a bill paid 500.00", claims)
	}
}

// A claim read again shows its bill and customer as they are now.
func dispatchTestReload(t *testing.T, s Store) {
	ctx := context.Background()
	dispatchBills(t, s, "c1", 1)
	dispatchQueue(t, s, dispatchScanAt, dispatchStage("sms"))
	claims := dispatchClaim(t, s, "w1", dispatchSendAt, 10, 0)
	if len(claims) != 1 || claims[0].Installment.Status != repo.InstallmentPending {
		t.Fatalf("claims %+v", claims)
	}
	if _, err := s.RecordPayment(ctx, repo.PaymentInput{PlanRef: "p-c1", Seq: 1, Amount: 50000, PaidAt: dispatchSendAt,
		Now: dispatchSendAt}); err != nil {
		t.Fatal(err)
	}
	c, err := s.ReloadClaim(ctx, claims[0].ID)
	if err != nil || c.ID != claims[0].ID || c.Installment.Status != repo.InstallmentPaid || c.Customer.Ref != "c1" ||
		c.Plan.Ref != "p-c1" || c.Status != repo.StatusSending {
		t.Errorf("reloaded %+v (%v), want the claim with its bill paid", c, err)
	}
	if _, err := s.ReloadClaim(ctx, 1<<40); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("unknown notice: %v, want not found", err)
	}
}
