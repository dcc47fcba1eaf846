package repo_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"duebell/repo"
	"duebell/repo/repotest"
)

// smsOnly is a one-stage policy that queues one SMS per installment.
var smsOnly = []repo.Stage{{Name: "due_soon", OffsetDays: -3, Kind: "due_soon", Channels: []string{"sms"}}}

var (
	rcScanAt = shanghai(2026, 11, 21, 8)
	rcSendAt = shanghai(2026, 11, 21, 10)
)

// receiptSetup queues n SMS notices (one customer, n installments due the
// same day) and claims them for worker "w1"; it returns their ids.
func receiptSetup(t *testing.T, n int) (*repo.Repo, []int64) {
	t.Helper()
	r := repotest.New(t)
	repotest.Customer(t, r, "c1")
	dues := make([]repo.Date, n)
	for i := range dues {
		dues[i] = repo.NewDate(2026, 11, 24)
	}
	repotest.Plan(t, r, "p1", "c1", dues)
	if _, err := r.QueueDueReminders(context.Background(), rcScanAt, smsOnly); err != nil {
		t.Fatal(err)
	}
	claims, err := r.ClaimNotifications(context.Background(), "w1", rcSendAt, 2*time.Minute, 100, 0)
	if err != nil || len(claims) != n {
		t.Fatalf("claim: %d notices, %v", len(claims), err)
	}
	ids := make([]int64, n)
	for i, c := range claims {
		ids[i] = c.ID
	}
	return r, ids
}

func sentOutcome(id int64, provider, msgID string, at time.Time) repo.Outcome {
	return repo.Outcome{ID: id, Status: repo.StatusSent, Provider: provider, ProviderMsgID: msgID, SentAt: &at,
		Attempt: &repo.Attempt{N: 1, Channel: "sms", Provider: provider, StartedAt: at, FinishedAt: at,
			Outcome: repo.OutcomeSent, ProviderMsgID: msgID}}
}

func finish(t *testing.T, r *repo.Repo, at time.Time, outs ...repo.Outcome) {
	t.Helper()
	if err := r.FinishNotifications(context.Background(), "w1", at, outs); err != nil {
		t.Fatal(err)
	}
}

func receipt(t *testing.T, r *repo.Repo, at time.Time, rc repo.Receipt) repo.ReceiptResult {
	t.Helper()
	if rc.Raw == "" {
		rc.Raw = `{"test":true}`
	}
	res, err := r.RecordReceipt(context.Background(), rc, at)
	if err != nil {
		t.Fatalf("record receipt %+v: %v", rc, err)
	}
	return res
}

func noticeByID(t *testing.T, r *repo.Repo, id int64) repo.Notification {
	t.Helper()
	n, err := r.GetNotification(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestReceiptAfterSentDeliversOnceAndNeverRegresses(t *testing.T) {
	t.Parallel()
	r, ids := receiptSetup(t, 1)
	id := ids[0]
	finish(t, r, rcSendAt, sentOutcome(id, "aliyun", "biz-1", rcSendAt))

	reported := rcSendAt.Add(5 * time.Second)
	res := receipt(t, r, rcSendAt.Add(10*time.Second), repo.Receipt{Provider: "aliyun", ProviderMsgID: "biz-1",
		OutID: strconv.FormatInt(id, 10), Status: repo.ReceiptDelivered, Code: "DELIVERED", ReportedAt: &reported})
	if !res.Applied || res.NotificationID != id || res.Status != repo.StatusDelivered {
		t.Fatalf("first receipt: %+v", res)
	}
	n := noticeByID(t, r, id)
	if n.Status != "delivered" || n.DeliveryCode != "DELIVERED" || n.DeliveredAt == nil || !n.DeliveredAt.Equal(reported) ||
		n.StatusReason != "delivered per aliyun receipt (code DELIVERED)" {
		t.Fatalf("after delivered receipt: %s %q code %q at %v", n.Status, n.StatusReason, n.DeliveryCode, n.DeliveredAt)
	}

	// The same receipt again, then a late undelivered one: stored, not applied.
	if res := receipt(t, r, rcSendAt.Add(time.Minute), repo.Receipt{Provider: "aliyun", ProviderMsgID: "biz-1",
		Status: repo.ReceiptDelivered, Code: "DELIVERED"}); res.Applied || res.Status != "delivered" {
		t.Errorf("duplicate: %+v", res)
	}
	if res := receipt(t, r, rcSendAt.Add(time.Hour), repo.Receipt{Provider: "aliyun", ProviderMsgID: "biz-1",
		Status: repo.ReceiptUndelivered, Code: "MK:0001"}); res.Applied || res.Status != "delivered" {
		t.Errorf("late undelivered: %+v", res)
	}
	if n := noticeByID(t, r, id); n.Status != "delivered" || n.DeliveryCode != "DELIVERED" {
		t.Errorf("delivered notice changed to %s (%s)", n.Status, n.DeliveryCode)
	}
	rcs, err := r.ListReceipts(context.Background(), id)
	if err != nil || len(rcs) != 3 || rcs[2].Code != "MK:0001" || rcs[2].AppliedAt == nil || rcs[0].Raw == "" {
		t.Fatalf("stored receipts %+v, %v", rcs, err)
	}
}

func TestReceiptUndeliveredThenDelivered(t *testing.T) {
	t.Parallel()
	r, ids := receiptSetup(t, 1)
	id := ids[0]
	finish(t, r, rcSendAt, sentOutcome(id, "twilio", "SM1", rcSendAt))
	res := receipt(t, r, rcSendAt.Add(time.Minute), repo.Receipt{Provider: "twilio", ProviderMsgID: "SM1",
		Status: repo.ReceiptUndelivered, Code: "30003"})
	if !res.Applied || res.Status != "undelivered" {
		t.Fatalf("undelivered: %+v", res)
	}
	if n := noticeByID(t, r, id); n.StatusReason != "undelivered per twilio receipt (code 30003)" || n.DeliveryCode != "30003" || n.DeliveredAt != nil {
		t.Fatalf("undelivered notice: %q %q %v", n.StatusReason, n.DeliveryCode, n.DeliveredAt)
	}
	// An intermediate report is stored and changes nothing.
	if res := receipt(t, r, rcSendAt.Add(2*time.Minute), repo.Receipt{Provider: "twilio", ProviderMsgID: "SM1",
		Status: repo.ReceiptProgress, ProviderStatus: "sent"}); res.Applied || res.Status != "undelivered" {
		t.Fatalf("progress: %+v", res)
	}
	// The carrier retried and got through.
	if res := receipt(t, r, rcSendAt.Add(time.Hour), repo.Receipt{Provider: "twilio", ProviderMsgID: "SM1",
		Status: repo.ReceiptDelivered}); !res.Applied || res.Status != "delivered" {
		t.Fatalf("delivered after undelivered: %+v", res)
	}
}

func TestReceiptBeforeSentIsAppliedByFinish(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		rcs   []repo.Receipt // %d in OutID is the notice id
		match bool           // matched at once (by out-id)
		want  string
	}{
		{"by out-id", []repo.Receipt{{Provider: "aliyun", ProviderMsgID: "biz-1", OutID: "%d", Status: "delivered", Code: "DELIVERED"}},
			true, "delivered"},
		{"by message id only", []repo.Receipt{{Provider: "aliyun", ProviderMsgID: "biz-1", Status: "undelivered", Code: "MK:0001"}},
			false, "undelivered"},
		{"twice, delivered wins", []repo.Receipt{
			{Provider: "aliyun", ProviderMsgID: "biz-1", Status: "delivered", Code: "DELIVERED"},
			{Provider: "aliyun", ProviderMsgID: "biz-1", Status: "undelivered", Code: "MK:0001"}}, false, "delivered"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, ids := receiptSetup(t, 1)
			id := ids[0]
			for _, rc := range tc.rcs {
				if strings.Contains(rc.OutID, "%d") {
					rc.OutID = fmt.Sprintf(rc.OutID, id)
				}
				res := receipt(t, r, rcSendAt.Add(time.Second), rc)
				if res.Applied || (res.NotificationID == id) != tc.match || res.Deferred != tc.match {
					t.Fatalf("receipt while sending: %+v", res)
				}
			}
			if n := noticeByID(t, r, id); n.Status != "sending" {
				t.Fatalf("a receipt moved a notice still sending: %s", n.Status)
			}
			finish(t, r, rcSendAt.Add(2*time.Second), sentOutcome(id, "aliyun", "biz-1", rcSendAt))
			n := noticeByID(t, r, id)
			if n.Status != tc.want || n.ProviderMsgID != "biz-1" || n.SentAt == nil {
				t.Fatalf("after finish: %s (%q), want %s", n.Status, n.StatusReason, tc.want)
			}
			rcs, _ := r.ListReceipts(context.Background(), id)
			if len(rcs) != len(tc.rcs) {
				t.Fatalf("matched receipts %d, want %d", len(rcs), len(tc.rcs))
			}
			for _, rc := range rcs {
				if rc.AppliedAt == nil {
					t.Errorf("receipt %d left unapplied", rc.ID)
				}
			}
		})
	}
}

func TestReceiptForUnknownOrContradictingIDStaysUnmatched(t *testing.T) {
	t.Parallel()
	r, ids := receiptSetup(t, 1)
	id := ids[0]
	finish(t, r, rcSendAt, sentOutcome(id, "aliyun", "biz-1", rcSendAt))
	for _, rc := range []repo.Receipt{
		{Provider: "aliyun", ProviderMsgID: "biz-404", Status: "delivered"},
		{Provider: "aliyun", OutID: "999999", Status: "delivered"},
		{Provider: "aliyun", OutID: "not-ours", Status: "delivered"},
		// Our out-id but another message: someone else's SMS, or an older try.
		{Provider: "aliyun", ProviderMsgID: "biz-2", OutID: strconv.FormatInt(id, 10), Status: "undelivered"},
		// Our message id, reported by another provider.
		{Provider: "tencent", ProviderMsgID: "biz-1", Status: "undelivered"},
	} {
		if res := receipt(t, r, rcSendAt.Add(time.Minute), rc); res.NotificationID != 0 || res.Applied {
			t.Errorf("receipt %+v matched: %+v", rc, res)
		}
	}
	if n := noticeByID(t, r, id); n.Status != "sent" {
		t.Errorf("notice moved to %s", n.Status)
	}
	var stored int
	if err := r.DB().Get(&stored, `SELECT count(*) FROM sms_receipts WHERE notification_id IS NULL`); err != nil || stored != 5 {
		t.Errorf("unmatched receipts stored: %d, %v", stored, err)
	}
}

func TestDeliveredReceiptSettlesARetryAfterATimeout(t *testing.T) {
	t.Parallel()
	r, ids := receiptSetup(t, 1)
	id := ids[0]
	// The provider took the message but our request timed out: a retry is due.
	finish(t, r, rcSendAt, repo.Outcome{ID: id, Status: repo.StatusPending, NextAttemptAt: rcSendAt.Add(time.Minute),
		LastError: "timeout", Attempt: &repo.Attempt{N: 1, Channel: "sms", Provider: "aliyun", StartedAt: rcSendAt,
			FinishedAt: rcSendAt, Outcome: repo.OutcomeTransient, Code: "timeout"}})
	res := receipt(t, r, rcSendAt.Add(30*time.Second), repo.Receipt{Provider: "aliyun", ProviderMsgID: "biz-9",
		OutID: strconv.FormatInt(id, 10), Status: "delivered", Code: "DELIVERED"})
	if !res.Applied || res.Status != "delivered" {
		t.Fatalf("receipt for a notice awaiting retry: %+v", res)
	}
	n := noticeByID(t, r, id)
	if n.Status != "delivered" || n.ProviderMsgID != "biz-9" || n.SentAt == nil {
		t.Fatalf("notice %s msg %q sent_at %v", n.Status, n.ProviderMsgID, n.SentAt)
	}
	// Not sent twice.
	if claims, _ := r.ClaimNotifications(context.Background(), "w2", rcSendAt.Add(2*time.Minute), time.Minute, 10, 0); len(claims) != 0 {
		t.Fatalf("delivered notice claimed again")
	}
}

// TestReceiptsRacingFinishAreNeverLost posts each receipt at the same time as
// the dispatcher records its notice as sent: whichever commits first, the
// notice ends delivered and the receipt applied.
func TestReceiptsRacingFinishAreNeverLost(t *testing.T) {
	t.Parallel()
	const n = 24
	r, ids := receiptSetup(t, n)
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i, id := range ids {
		msg := fmt.Sprintf("sid-%d", i)
		wg.Go(func() {
			errs <- r.FinishNotifications(context.Background(), "w1", rcSendAt, []repo.Outcome{sentOutcome(id, "tencent", msg, rcSendAt)})
		})
		wg.Go(func() {
			rc := repo.Receipt{Provider: "tencent", ProviderMsgID: msg, Status: "delivered", Raw: "{}"}
			if i%2 == 0 {
				rc.OutID = strconv.FormatInt(id, 10)
			}
			_, err := r.RecordReceipt(context.Background(), rc, rcSendAt)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var left []string
	if err := r.DB().Select(&left, `SELECT id || ' ' || status FROM notifications WHERE status <> 'delivered'`); err != nil {
		t.Fatal(err)
	}
	var unapplied int
	if err := r.DB().Get(&unapplied, `SELECT count(*) FROM sms_receipts WHERE applied_at IS NULL OR notification_id IS NULL`); err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 || unapplied > 0 {
		t.Fatalf("not delivered: %v; receipts unapplied: %d", left, unapplied)
	}
}
