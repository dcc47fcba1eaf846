package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"duebell/repo"
)

// The receipts area: SMS delivery receipts, provider opt-out reports,
// provider circuits, and fallback notices for SMS that did not go out.

// receiptsSMSOnly is a one-stage policy that queues one SMS per installment.
var receiptsSMSOnly = []repo.Stage{{Name: "due_soon", OffsetDays: -3, Kind: "due_soon", Channels: []string{"sms"}}}

var (
	receiptsShanghai = func() *time.Location {
		loc, err := time.LoadLocation("Asia/Shanghai")
		if err != nil {
			panic(err)
		}
		return loc
	}()
	// The scan queues due_soon on the 21st for installments due on the 24th;
	// the dispatcher sends within the window, at 10:00.
	receiptsScanAt = time.Date(2026, 11, 21, 8, 0, 0, 0, receiptsShanghai)
	receiptsSendAt = time.Date(2026, 11, 21, 10, 0, 0, 0, receiptsShanghai)
	receiptsDue    = repo.NewDate(2026, 11, 24)
)

// receiptsClaimed queues, for customer c1, n SMS notices (n installments
// due the same day) and claims them for worker "w1"; it returns their ids.
func receiptsClaimed(t *testing.T, s Store, n int) []int64 {
	t.Helper()
	Customer(t, s, "c1")
	dues := make([]repo.Date, n)
	for i := range dues {
		dues[i] = receiptsDue
	}
	Plan(t, s, "p1", "c1", dues)
	return receiptsScanAndClaim(t, s, n)
}

// receiptsScanAndClaim runs the scan and claims want notices for "w1".
func receiptsScanAndClaim(t *testing.T, s Store, want int) []int64 {
	t.Helper()
	if _, err := s.QueueDueReminders(context.Background(), receiptsScanAt, receiptsSMSOnly); err != nil {
		t.Fatal(err)
	}
	claims, err := s.ClaimNotifications(context.Background(), "w1", receiptsSendAt, receiptsSendAt, 2*time.Minute, 100, 0)
	if err != nil || len(claims) != want {
		t.Fatalf("claim: %d notices, %v; want %d", len(claims), err, want)
	}
	ids := make([]int64, len(claims))
	for i, c := range claims {
		ids[i] = c.ID
	}
	return ids
}

func receiptsSent(id int64, provider, msgID string, at time.Time) repo.Outcome {
	return repo.Outcome{ID: id, Status: repo.StatusSent, Provider: provider, ProviderMsgID: msgID, SentAt: &at,
		Attempt: &repo.Attempt{N: 1, Channel: "sms", Provider: provider, StartedAt: at, FinishedAt: at,
			Outcome: repo.OutcomeSent, ProviderMsgID: msgID}}
}

// receiptsRetry is a try through aliyun at at that ended outcome (unknown:
// no answer after the whole request, so the provider may have sent it;
// transient: it refused) with code, the notice pending for a retry.
func receiptsRetry(id int64, at time.Time, outcome, code string) repo.Outcome {
	return repo.Outcome{ID: id, Status: repo.StatusPending, NextAttemptAt: at.Add(time.Minute), LastError: code,
		Attempt: &repo.Attempt{N: 1, Channel: "sms", Provider: "aliyun", StartedAt: at, FinishedAt: at, Outcome: outcome, Code: code}}
}

func receiptsFailed(id int64, provider string, at time.Time) repo.Outcome {
	return repo.Outcome{ID: id, Status: repo.StatusFailed, Reason: "permanent: invalid number", Provider: provider,
		LastError: "invalid number", Attempt: &repo.Attempt{N: 1, Channel: "sms", Provider: provider, StartedAt: at,
			FinishedAt: at, Outcome: repo.OutcomePermanent, Code: "isv.MOBILE_NUMBER_ILLEGAL", Error: "invalid number"}}
}

func receiptsFinish(t *testing.T, s Store, at time.Time, outs ...repo.Outcome) {
	t.Helper()
	if err := s.FinishNotifications(context.Background(), "w1", at, outs); err != nil {
		t.Fatal(err)
	}
}

func receiptsRecord(t *testing.T, s Store, at time.Time, rc repo.Receipt) repo.ReceiptResult {
	t.Helper()
	if rc.Raw == "" {
		rc.Raw = `{"test":true}`
	}
	res, err := s.RecordReceipt(context.Background(), rc, at)
	if err != nil {
		t.Fatalf("record receipt %+v: %v", rc, err)
	}
	if res.ReceiptID == 0 {
		t.Fatalf("receipt %+v not stored: %+v", rc, res)
	}
	return res
}

func receiptsNotice(t *testing.T, s Store, id int64) repo.Notification {
	t.Helper()
	n, err := s.GetNotification(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func receiptsList(t *testing.T, s Store, id int64) []repo.Receipt {
	t.Helper()
	rcs, err := s.ListReceipts(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return rcs
}

// receiptsFallbackOf returns the fallback notice the SMS notice smsID names
// in its status_reason ("…; fallback: email notice N").
func receiptsFallbackOf(t *testing.T, s Store, smsID int64) repo.Notification {
	t.Helper()
	reason := receiptsNotice(t, s, smsID).StatusReason
	_, after, ok := strings.Cut(reason, "; fallback: email notice ")
	id, err := strconv.ParseInt(after, 10, 64)
	if !ok || err != nil {
		t.Fatalf("sms notice %d names no fallback: %q", smsID, reason)
	}
	f := receiptsNotice(t, s, id)
	if f.FallbackOf == nil || *f.FallbackOf != smsID || f.Channel != "email" || f.Stage != "due_soon" {
		t.Fatalf("fallback %d of %d: %+v", id, smsID, f)
	}
	return f
}

func init() {
	register("Receipts", func(t *testing.T, open Opener) {
		t.Run("DeliveredAfterSentAppliesOnceAndNeverRegresses", func(t *testing.T) {
			t.Parallel()
			s := open(t)
			id := receiptsClaimed(t, s, 1)[0]
			receiptsFinish(t, s, receiptsSendAt, receiptsSent(id, "aliyun", "biz-1", receiptsSendAt))

			reported := receiptsSendAt.Add(5 * time.Second)
			res := receiptsRecord(t, s, receiptsSendAt.Add(10*time.Second), repo.Receipt{Provider: "aliyun", ProviderMsgID: "biz-1",
				OutID: strconv.FormatInt(id, 10), Status: repo.ReceiptDelivered, Code: "DELIVERED", ReportedAt: &reported})
			if !res.Applied || res.Deferred || res.NotificationID != id || res.Status != repo.StatusDelivered {
				t.Fatalf("first receipt: %+v", res)
			}
			n := receiptsNotice(t, s, id)
			if n.Status != "delivered" || n.DeliveryCode != "DELIVERED" || n.DeliveredAt == nil || !n.DeliveredAt.Equal(reported) ||
				n.StatusReason != "delivered per aliyun receipt (code DELIVERED)" || n.SentAt == nil || !n.SentAt.Equal(receiptsSendAt) {
				t.Fatalf("after delivered receipt: %s %q code %q delivered %v sent %v", n.Status, n.StatusReason, n.DeliveryCode,
					n.DeliveredAt, n.SentAt)
			}
			// The same receipt again, then a late undelivered one: stored, not applied.
			if res := receiptsRecord(t, s, receiptsSendAt.Add(time.Minute), repo.Receipt{Provider: "aliyun", ProviderMsgID: "biz-1",
				Status: repo.ReceiptDelivered, Code: "DELIVERED"}); res.Applied || res.Status != "delivered" || res.NotificationID != id {
				t.Errorf("duplicate: %+v", res)
			}
			if res := receiptsRecord(t, s, receiptsSendAt.Add(time.Hour), repo.Receipt{Provider: "aliyun", ProviderMsgID: "biz-1",
				Status: repo.ReceiptUndelivered, Code: "MK:0001"}); res.Applied || res.Status != "delivered" {
				t.Errorf("late undelivered: %+v", res)
			}
			if n := receiptsNotice(t, s, id); n.Status != "delivered" || n.DeliveryCode != "DELIVERED" || !n.DeliveredAt.Equal(reported) {
				t.Errorf("delivered notice changed to %s (%s)", n.Status, n.DeliveryCode)
			}
			rcs := receiptsList(t, s, id)
			if len(rcs) != 3 || rcs[0].Code != "DELIVERED" || rcs[2].Code != "MK:0001" || rcs[2].AppliedAt == nil ||
				rcs[0].Raw == "" || rcs[0].ReportedAt == nil || !rcs[0].ReportedAt.Equal(reported) || rcs[1].ReportedAt != nil ||
				!rcs[2].ReceivedAt.Equal(receiptsSendAt.Add(time.Hour)) || rcs[0].OutID != strconv.FormatInt(id, 10) {
				t.Fatalf("stored receipts %+v", rcs)
			}
		})

		t.Run("UndeliveredThenDelivered", func(t *testing.T) {
			t.Parallel()
			s := open(t)
			id := receiptsClaimed(t, s, 1)[0]
			receiptsFinish(t, s, receiptsSendAt, receiptsSent(id, "twilio", "SM1", receiptsSendAt))
			res := receiptsRecord(t, s, receiptsSendAt.Add(time.Minute), repo.Receipt{Provider: "twilio", ProviderMsgID: "SM1",
				Status: repo.ReceiptUndelivered, Code: "30003"})
			if !res.Applied || res.Status != "undelivered" {
				t.Fatalf("undelivered: %+v", res)
			}
			if n := receiptsNotice(t, s, id); n.Status != "undelivered" || n.StatusReason != "undelivered per twilio receipt (code 30003)" ||
				n.DeliveryCode != "30003" || n.DeliveredAt != nil {
				t.Fatalf("undelivered notice: %s %q %q %v", n.Status, n.StatusReason, n.DeliveryCode, n.DeliveredAt)
			}
			// An intermediate report is stored and changes nothing.
			if res := receiptsRecord(t, s, receiptsSendAt.Add(2*time.Minute), repo.Receipt{Provider: "twilio", ProviderMsgID: "SM1",
				Status: repo.ReceiptProgress, ProviderStatus: "sent"}); res.Applied || res.Deferred || res.Status != "undelivered" {
				t.Fatalf("progress: %+v", res)
			}
			// The carrier retried and got through; no code, no reported time.
			at := receiptsSendAt.Add(time.Hour)
			if res := receiptsRecord(t, s, at, repo.Receipt{Provider: "twilio", ProviderMsgID: "SM1",
				Status: repo.ReceiptDelivered}); !res.Applied || res.Status != "delivered" {
				t.Fatalf("delivered after undelivered: %+v", res)
			}
			n := receiptsNotice(t, s, id)
			if n.Status != "delivered" || n.StatusReason != "delivered per twilio receipt" || n.DeliveredAt == nil || !n.DeliveredAt.Equal(at) {
				t.Fatalf("delivered notice: %s %q %v", n.Status, n.StatusReason, n.DeliveredAt)
			}
			if rcs := receiptsList(t, s, id); len(rcs) != 3 || rcs[1].Status != "progress" || rcs[1].ProviderStatus != "sent" {
				t.Fatalf("stored receipts %+v", rcs)
			}
		})

		t.Run("BeforeSentAppliedByFinish", func(t *testing.T) {
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
					s := open(t)
					id := receiptsClaimed(t, s, 1)[0]
					for _, rc := range tc.rcs {
						if strings.Contains(rc.OutID, "%d") {
							rc.OutID = fmt.Sprintf(rc.OutID, id)
						}
						res := receiptsRecord(t, s, receiptsSendAt.Add(time.Second), rc)
						if res.Applied || (res.NotificationID == id) != tc.match || res.Deferred != tc.match {
							t.Fatalf("receipt while sending: %+v", res)
						}
					}
					if n := receiptsNotice(t, s, id); n.Status != "sending" {
						t.Fatalf("a receipt moved a notice still sending: %s", n.Status)
					}
					receiptsFinish(t, s, receiptsSendAt.Add(2*time.Second), receiptsSent(id, "aliyun", "biz-1", receiptsSendAt))
					n := receiptsNotice(t, s, id)
					if n.Status != tc.want || n.ProviderMsgID != "biz-1" || n.SentAt == nil || !strings.HasPrefix(n.StatusReason, tc.want+" per aliyun receipt") {
						t.Fatalf("after finish: %s (%q), want %s", n.Status, n.StatusReason, tc.want)
					}
					rcs := receiptsList(t, s, id)
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
		})

		t.Run("UnknownOrContradictingIDStaysUnmatched", func(t *testing.T) {
			t.Parallel()
			s := open(t)
			id := receiptsClaimed(t, s, 1)[0]
			receiptsFinish(t, s, receiptsSendAt, receiptsSent(id, "aliyun", "biz-1", receiptsSendAt))
			for _, rc := range []repo.Receipt{
				{Provider: "aliyun", ProviderMsgID: "biz-404", Status: "delivered"},
				{Provider: "aliyun", OutID: "999999", Status: "delivered"},
				{Provider: "aliyun", OutID: "not-ours", Status: "delivered"},
				{Provider: "aliyun", OutID: "-1", Status: "delivered"},
				// Our out-id but another message: someone else's SMS, or an older try.
				{Provider: "aliyun", ProviderMsgID: "biz-2", OutID: strconv.FormatInt(id, 10), Status: "undelivered"},
				// Our message id and out-id, reported by another provider.
				{Provider: "tencent", ProviderMsgID: "biz-1", OutID: strconv.FormatInt(id, 10), Status: "undelivered"},
			} {
				if res := receiptsRecord(t, s, receiptsSendAt.Add(time.Minute), rc); res.NotificationID != 0 || res.Applied ||
					res.Deferred || res.Status != "" {
					t.Errorf("receipt %+v matched: %+v", rc, res)
				}
			}
			if n := receiptsNotice(t, s, id); n.Status != "sent" {
				t.Errorf("notice moved to %s", n.Status)
			}
			if rcs := receiptsList(t, s, id); len(rcs) != 0 {
				t.Errorf("unmatched receipts listed with the notice: %+v", rcs)
			}
		})

		t.Run("DeliveredSettlesARetryAfterATimeout", func(t *testing.T) {
			t.Parallel()
			s := open(t)
			id := receiptsClaimed(t, s, 1)[0]
			// The provider took the message but our request timed out (no
			// answer after it had the whole message: unknown): a retry is due.
			receiptsFinish(t, s, receiptsSendAt, receiptsRetry(id, receiptsSendAt, repo.OutcomeUnknown, "timeout"))
			// An undelivered report for the pending retry waits: the retry may still get through.
			if res := receiptsRecord(t, s, receiptsSendAt.Add(10*time.Second), repo.Receipt{Provider: "aliyun", ProviderMsgID: "biz-8",
				OutID: strconv.FormatInt(id, 10), Status: "undelivered"}); res.Applied || !res.Deferred || res.Status != "pending" {
				t.Fatalf("undelivered for a notice awaiting retry: %+v", res)
			}
			at := receiptsSendAt.Add(30 * time.Second)
			res := receiptsRecord(t, s, at, repo.Receipt{Provider: "aliyun", ProviderMsgID: "biz-9",
				OutID: strconv.FormatInt(id, 10), Status: "delivered", Code: "DELIVERED"})
			if !res.Applied || res.Status != "delivered" || res.NotificationID != id {
				t.Fatalf("receipt for a notice awaiting retry: %+v", res)
			}
			n := receiptsNotice(t, s, id)
			if n.Status != "delivered" || n.Provider != "aliyun" || n.ProviderMsgID != "biz-9" || n.SentAt == nil || !n.SentAt.Equal(at) {
				t.Fatalf("notice %s provider %q msg %q sent_at %v", n.Status, n.Provider, n.ProviderMsgID, n.SentAt)
			}
			// Not sent twice.
			if claims, err := s.ClaimNotifications(context.Background(), "w2", receiptsSendAt.Add(2*time.Minute), receiptsSendAt.Add(2*time.Minute), time.Minute, 10, 0); err != nil || len(claims) != 0 {
				t.Fatalf("delivered notice claimed again: %d, %v", len(claims), err)
			}
		})

		// A receipt naming by out-id alone a notice that does not exist yet
		// is about another notice that had the id (a database restored,
		// another deployment on the same gateway): the notice that takes
		// the id later is not moved by it when it is sent.
		t.Run("StoredBeforeTheNoticeIsNotItsReceipt", func(t *testing.T) {
			t.Parallel()
			s := open(t)
			old := receiptsRecord(t, s, receiptsScanAt.Add(-24*time.Hour), repo.Receipt{Provider: "aliyun", OutID: "1",
				Status: "undelivered", Code: "MK:0001"})
			if old.NotificationID != 0 || old.ReceiptID == 0 {
				t.Fatalf("receipt for no notice: %+v, want it stored unmatched", old)
			}
			ids := receiptsClaimed(t, s, 1)
			if ids[0] != 1 {
				t.Skipf("the first notice is %d, not 1", ids[0])
			}
			receiptsFinish(t, s, receiptsSendAt, receiptsSent(1, "aliyun", "biz-1", receiptsSendAt))
			if n := receiptsNotice(t, s, 1); n.Status != "sent" {
				t.Fatalf("notice %s (%q) by a receipt stored a day before it was queued, want sent", n.Status, n.StatusReason)
			}
			// A receipt by out-id alone that came while it was being sent still applies.
			s2 := open(t)
			id := receiptsClaimed(t, s2, 1)[0]
			receiptsRecord(t, s2, receiptsSendAt.Add(time.Second), repo.Receipt{Provider: "aliyun", OutID: strconv.FormatInt(id, 10),
				Status: "undelivered", Code: "MK:0001"})
			receiptsFinish(t, s2, receiptsSendAt.Add(2*time.Second), receiptsSent(id, "aliyun", "biz-1", receiptsSendAt))
			if n := receiptsNotice(t, s2, id); n.Status != "undelivered" {
				t.Fatalf("notice %s, want undelivered by the receipt that came while it was sent", n.Status)
			}
		})

		// A try the provider refused (503) sent nothing: a delivered report
		// naming the notice's id is another sender's on a shared account
		// (its OutId the same number), and leaves the retry to go out.
		t.Run("DeliveredDoesNotSettleARetryTheProviderRefused", func(t *testing.T) {
			t.Parallel()
			s := open(t)
			id := receiptsClaimed(t, s, 1)[0]
			receiptsFinish(t, s, receiptsSendAt, receiptsRetry(id, receiptsSendAt, repo.OutcomeTransient, "503"))
			res := receiptsRecord(t, s, receiptsSendAt.Add(30*time.Second), repo.Receipt{Provider: "aliyun", ProviderMsgID: "other-app-1",
				OutID: strconv.FormatInt(id, 10), Status: "delivered", Code: "DELIVERED"})
			if res.Status == "delivered" {
				t.Fatalf("another sender's receipt settled a retry the provider refused: %+v", res)
			}
			if n := receiptsNotice(t, s, id); n.Status != "pending" {
				t.Fatalf("notice %s, want it still pending its retry", n.Status)
			}
			claims, err := s.ClaimNotifications(context.Background(), "w2", receiptsSendAt.Add(2*time.Minute), receiptsSendAt.Add(2*time.Minute), time.Minute, 10, 0)
			if err != nil || len(claims) != 1 || claims[0].ID != id {
				t.Fatalf("the retry claimed: %d, %v; want it", len(claims), err)
			}
		})

		// A provider posts a receipt again (its batch, after our answer was
		// late): the same report of the same message is stored once, and
		// the copy is weighed against the notice as the first one was.
		t.Run("PostedAgainStoredOnce", func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := open(t)
			ids := receiptsClaimed(t, s, 3)
			a, b, c := ids[0], ids[1], ids[2]
			receiptsFinish(t, s, receiptsSendAt, receiptsSent(a, "aliyun", "biz-1", receiptsSendAt),
				receiptsSent(b, "twilio", "SM2", receiptsSendAt))

			reported := receiptsSendAt.Add(5 * time.Second)
			delivered := repo.Receipt{Provider: "aliyun", ProviderMsgID: "biz-1", OutID: strconv.FormatInt(a, 10),
				Status: repo.ReceiptDelivered, ProviderStatus: "true", Code: "DELIVERED", ReportedAt: &reported, Raw: `{"biz_id":"biz-1"}`}
			first := receiptsRecord(t, s, receiptsSendAt.Add(10*time.Second), delivered)
			if !first.Applied || first.Duplicate {
				t.Fatalf("first receipt: %+v", first)
			}
			again := receiptsRecord(t, s, receiptsSendAt.Add(time.Minute), delivered)
			if want := (repo.ReceiptResult{ReceiptID: first.ReceiptID, NotificationID: a, Status: "delivered", Duplicate: true}); again != want {
				t.Errorf("posted again: %+v, want %+v", again, want)
			}
			batch, err := s.RecordReceipts(ctx, []repo.Receipt{delivered, delivered}, receiptsSendAt.Add(2*time.Minute))
			for i, r := range batch {
				if !r.Duplicate || r.ReceiptID != first.ReceiptID || r.Applied {
					t.Errorf("in a batch posted again, copy %d: %+v", i, r)
				}
			}
			if err != nil || len(batch) != 2 {
				t.Fatalf("batch: %d results, %v", len(batch), err)
			}
			// Not the same report: another time, or (Twilio's progress
			// reports, which carry none) another status of the provider's.
			later := reported.Add(time.Second)
			other := delivered
			other.ReportedAt = &later
			if r := receiptsRecord(t, s, receiptsSendAt.Add(3*time.Minute), other); r.Duplicate || r.ReceiptID == first.ReceiptID {
				t.Errorf("a report of another time taken for the first: %+v", r)
			}
			for _, st := range []string{"queued", "sent", "queued", "sent"} {
				receiptsRecord(t, s, receiptsSendAt.Add(time.Minute), repo.Receipt{Provider: "twilio", ProviderMsgID: "SM2",
					Status: repo.ReceiptProgress, ProviderStatus: st})
			}
			if rcs := receiptsList(t, s, a); len(rcs) != 2 || rcs[0].ID != first.ReceiptID || rcs[0].AppliedAt == nil ||
				!rcs[0].ReceivedAt.Equal(receiptsSendAt.Add(10*time.Second)) {
				t.Errorf("receipts of a: %+v, want the first and the later report", rcs)
			}
			if rcs := receiptsList(t, s, b); len(rcs) != 2 || rcs[0].ProviderStatus != "queued" || rcs[1].ProviderStatus != "sent" {
				t.Errorf("receipts of b: %+v, want queued and sent once each", rcs)
			}

			// A receipt that came while c was being sent waited; the send
			// timed out and waits for a retry. Posted again, the receipt
			// settles it, through the one row stored.
			rc := repo.Receipt{Provider: "aliyun", ProviderMsgID: "biz-3", OutID: strconv.FormatInt(c, 10),
				Status: repo.ReceiptDelivered, Code: "DELIVERED"}
			if r := receiptsRecord(t, s, receiptsSendAt.Add(time.Second), rc); !r.Deferred {
				t.Fatalf("receipt while sending: %+v", r)
			}
			receiptsFinish(t, s, receiptsSendAt.Add(2*time.Second), repo.Outcome{ID: c, Status: repo.StatusPending,
				NextAttemptAt: receiptsSendAt.Add(time.Hour), LastError: "timeout", Attempt: &repo.Attempt{N: 1, Channel: "sms",
					Provider: "aliyun", StartedAt: receiptsSendAt, FinishedAt: receiptsSendAt, Outcome: repo.OutcomeUnknown, Code: "timeout"}})
			if r := receiptsRecord(t, s, receiptsSendAt.Add(time.Minute), rc); !r.Duplicate || !r.Applied || r.Status != "delivered" {
				t.Errorf("receipt posted again for the retry: %+v, want it applied through the row stored", r)
			}
			if rcs := receiptsList(t, s, c); len(rcs) != 1 || rcs[0].AppliedAt == nil {
				t.Errorf("receipts of c: %+v, want one, applied", rcs)
			}

			// A receipt naming a message by our out-id alone (a webhook
			// gateway's) is stored once; one naming no message at all
			// cannot be told from another message's and is kept each time.
			for range 2 {
				receiptsRecord(t, s, receiptsSendAt.Add(time.Minute), repo.Receipt{Provider: "webhook", OutID: "gw-77",
					Status: repo.ReceiptUndelivered, ProviderStatus: "undelivered", Code: "BLACKLIST"})
				receiptsRecord(t, s, receiptsSendAt.Add(time.Minute), repo.Receipt{Provider: "aliyun", Status: repo.ReceiptDelivered,
					ProviderStatus: "true", ReportedAt: &reported})
			}
			if p, err := s.PurgeFinished(ctx, receiptsSendAt.Add(24*time.Hour), 100); err != nil || p.Receipts != 3 {
				t.Errorf("%d unmatched receipts stored (%v), want 3", p.Receipts, err)
			}
		})

		// Each receipt is posted at the same time as the dispatcher records
		// its notice as sent: whichever commits first, the notice ends
		// delivered and the receipt applied.
		t.Run("RacingFinishNeverLost", func(t *testing.T) {
			t.Parallel()
			const n = 24
			s := open(t)
			ids := receiptsClaimed(t, s, n)
			var wg sync.WaitGroup
			errs := make(chan error, 2*n)
			for i, id := range ids {
				msg := fmt.Sprintf("sid-%d", i)
				wg.Go(func() {
					errs <- s.FinishNotifications(context.Background(), "w1", receiptsSendAt,
						[]repo.Outcome{receiptsSent(id, "tencent", msg, receiptsSendAt)})
				})
				wg.Go(func() {
					rc := repo.Receipt{Provider: "tencent", ProviderMsgID: msg, Status: "delivered", Raw: "{}"}
					if i%2 == 0 {
						rc.OutID = strconv.FormatInt(id, 10)
					}
					_, err := s.RecordReceipt(context.Background(), rc, receiptsSendAt)
					errs <- err
				})
			}
			receiptsRaceEnds(t, s, &wg, errs, ids)
		})

		t.Run("InvalidRefusedAndNotStored", func(t *testing.T) {
			t.Parallel()
			s := open(t)
			id := receiptsClaimed(t, s, 1)[0]
			receiptsFinish(t, s, receiptsSendAt, receiptsSent(id, "aliyun", "biz-1", receiptsSendAt))
			for _, rc := range []repo.Receipt{
				{Provider: "aliyun", ProviderMsgID: "biz-1", OutID: strconv.FormatInt(id, 10), Status: "bogus", Raw: "{}"},
				{Provider: "aliyun", ProviderMsgID: "biz-1", Raw: "{}"},
				{ProviderMsgID: "biz-1", OutID: strconv.FormatInt(id, 10), Status: "delivered", Raw: "{}"},
			} {
				if res, err := s.RecordReceipt(context.Background(), rc, receiptsSendAt.Add(time.Minute)); !errors.Is(err, repo.ErrInvalid) ||
					res != (repo.ReceiptResult{}) {
					t.Errorf("receipt %+v: %+v, %v; want ErrInvalid", rc, res, err)
				}
			}
			if n := receiptsNotice(t, s, id); n.Status != "sent" {
				t.Errorf("notice moved to %s", n.Status)
			}
			if rcs := receiptsList(t, s, id); len(rcs) != 0 {
				t.Errorf("refused receipts stored: %+v", rcs)
			}
		})

		// A provider's unsubscribe report opts the customer out once,
		// audited once, and a customer push keeps it.
		t.Run("OptOutSMSOnceAuditedAndKeptByPushes", func(t *testing.T) {
			t.Parallel()
			s := open(t)
			ctx := context.Background()
			c := Customer(t, s, "c1")
			at := receiptsSendAt
			in := repo.OptOutInput{Channel: "sms", CustomerID: c.ID, NotificationID: 7, Provider: "tencent",
				Code: "FailedOperation.PhoneNumberInBlacklist", Reason: "unsubscribed at tencent (FailedOperation.PhoneNumberInBlacklist)", Now: at}
			for i, want := range []bool{true, false} {
				if changed, err := s.OptOut(ctx, in); err != nil || changed != want {
					t.Fatalf("call %d: changed %v, %v; want %v", i+1, changed, err, want)
				}
			}
			if changed, err := s.OptOut(ctx, repo.OptOutInput{Channel: "sms", CustomerID: c.ID + 1000, Reason: "x", Now: at}); err != nil || changed {
				t.Fatalf("unknown customer: changed %v, %v", changed, err)
			}
			got, err := s.GetCustomer(ctx, "c1")
			if err != nil || !got.SMSOptOut || got.SMSOptOutReason != in.Reason || got.EmailOptOut || !got.UpdatedAt.Equal(at) {
				t.Fatalf("opted-out customer: %+v, %v", got, err)
			}
			audit, err := s.ListAudit(ctx, time.Time{}, "", 10)
			if err != nil || len(audit) != 1 || audit[0].Action != "customer.sms_opt_out" || audit[0].Actor != "duebell" ||
				audit[0].Target != "customer:c1" || !audit[0].At.Equal(at) {
				t.Fatalf("audit %+v, %v", audit, err)
			}
			var detail map[string]any
			if err := json.Unmarshal(audit[0].Detail, &detail); err != nil || detail["reason"] != in.Reason ||
				detail["provider"] != "tencent" || detail["code"] != in.Code || detail["notification_id"] != float64(7) {
				t.Fatalf("audit detail %s, %v", audit[0].Detail, err)
			}
			c.SMSOptOut = false
			if got, err := s.UpsertCustomer(ctx, c, at.Add(time.Hour)); err != nil || !got.SMSOptOut || got.SMSOptOutReason != in.Reason {
				t.Fatalf("after a push: %+v, %v", got, err)
			}
			// A lender's own opt-out stays theirs to clear.
			Customer(t, s, "c2", func(c *repo.Customer) { c.SMSOptOut = true })
			if c2 := Customer(t, s, "c2"); c2.SMSOptOut {
				t.Fatalf("lender-set opt-out could not be cleared: %+v", c2)
			}
		})

		// A mail server's "no mailbox" opts the customer's email out while
		// they keep that address: not when a push changed it since the
		// claim, kept by a push of the same address whatever it says, and
		// ended, reason and all, by a push of a new one.
		t.Run("OptOutEmailLastsWhileTheAddressStays", func(t *testing.T) {
			t.Parallel()
			s := open(t)
			ctx := context.Background()
			c := Customer(t, s, "c1")
			at := receiptsSendAt
			in := repo.OptOutInput{Channel: "email", CustomerID: c.ID, NotificationID: 7, Address: "old@example.net",
				Provider: "smtp", Code: "550", Reason: "no mailbox at this address (smtp 550)", Now: at}
			if changed, err := s.OptOut(ctx, in); err != nil || changed {
				t.Fatalf("refused address no longer the customer's: changed %v, %v", changed, err)
			}
			in.Address = c.Email
			for i, want := range []bool{true, false} {
				if changed, err := s.OptOut(ctx, in); err != nil || changed != want {
					t.Fatalf("call %d: changed %v, %v; want %v", i+1, changed, err, want)
				}
			}
			audit, err := s.ListAudit(ctx, time.Time{}, "", 10)
			if err != nil || len(audit) != 1 || audit[0].Action != "customer.email_opt_out" || audit[0].Actor != "duebell" {
				t.Fatalf("audit %+v, %v", audit, err)
			}
			for _, keep := range []bool{false, true} {
				c.EmailOptOut, c.KeepEmailOptOut = false, keep
				if got, err := s.UpsertCustomer(ctx, c, at.Add(time.Hour)); err != nil || !got.EmailOptOut ||
					got.EmailOptOutReason != in.Reason || got.SMSOptOut {
					t.Fatalf("after a push of the same address (keep %v): %+v, %v", keep, got, err)
				}
			}
			c.Email, c.KeepEmailOptOut = "new@example.net", true
			if got, err := s.UpsertCustomer(ctx, c, at.Add(2*time.Hour)); err != nil || got.EmailOptOut || got.EmailOptOutReason != "" {
				t.Fatalf("after a push of a new address: %+v, %v", got, err)
			}
			// A new address the lender opts out stays opted out, as theirs.
			in.Address = c.Email
			if changed, err := s.OptOut(ctx, in); err != nil || !changed {
				t.Fatalf("new address refused: %v, %v", changed, err)
			}
			c.Email, c.EmailOptOut, c.KeepEmailOptOut = "third@example.net", true, false
			if got, err := s.UpsertCustomer(ctx, c, at.Add(3*time.Hour)); err != nil || !got.EmailOptOut || got.EmailOptOutReason != "" {
				t.Fatalf("after a push of a new address opted out: %+v, %v", got, err)
			}
		})

		// A circuit reopened while open keeps when it first opened; closed
		// and opened again, it starts afresh. Open circuits are listed by
		// provider.
		t.Run("CircuitKeepsFirstOpenedUntilClosed", func(t *testing.T) {
			t.Parallel()
			s := open(t)
			ctx := context.Background()
			at := receiptsSendAt
			openAt := func(provider string, when time.Time, code string) {
				t.Helper()
				if err := s.OpenCircuit(ctx, repo.Circuit{Provider: provider, Channel: "sms", OpenedAt: when,
					ProbeAt: when.Add(10 * time.Minute), Code: code, Error: "refused: " + code, UpdatedAt: when}); err != nil {
					t.Fatal(err)
				}
			}
			list := func() []repo.Circuit {
				t.Helper()
				cs, err := s.OpenCircuits(ctx)
				if err != nil {
					t.Fatal(err)
				}
				return cs
			}
			if cs := list(); len(cs) != 0 {
				t.Fatalf("new store has circuits: %+v", cs)
			}
			openAt("tencent", at, "LimitExceeded")
			openAt("aliyun", at, "isv.AMOUNT_NOT_ENOUGH")
			openAt("aliyun", at.Add(10*time.Minute), "isv.OUT_OF_SERVICE")
			cs := list()
			if len(cs) != 2 || cs[0].Provider != "aliyun" || cs[1].Provider != "tencent" {
				t.Fatalf("open circuits: %+v", cs)
			}
			if a := cs[0]; !a.OpenedAt.Equal(at) || !a.ProbeAt.Equal(at.Add(20*time.Minute)) || a.Code != "isv.OUT_OF_SERVICE" ||
				a.Error != "refused: isv.OUT_OF_SERVICE" || !a.UpdatedAt.Equal(at.Add(10*time.Minute)) || a.ClosedAt != nil || a.Channel != "sms" {
				t.Fatalf("reopened while open: %+v", a)
			}
			if err := s.CloseCircuit(ctx, "aliyun", at.Add(21*time.Minute)); err != nil {
				t.Fatal(err)
			}
			if err := s.CloseCircuit(ctx, "twilio", at.Add(21*time.Minute)); err != nil { // none: nothing to close
				t.Fatal(err)
			}
			if cs := list(); len(cs) != 1 || cs[0].Provider != "tencent" {
				t.Fatalf("after closing aliyun: %+v", cs)
			}
			openAt("aliyun", at.Add(time.Hour), "isv.AMOUNT_NOT_ENOUGH")
			if cs := list(); len(cs) != 2 || cs[0].Provider != "aliyun" || !cs[0].OpenedAt.Equal(at.Add(time.Hour)) || cs[0].ClosedAt != nil {
				t.Fatalf("opened again: %+v", cs)
			}
		})

		// An SMS that cannot go out (customer opted out of SMS, or the
		// provider refused it for good) gets one email fallback, however
		// many sweeps run at once; the fallback is suppressed when the
		// customer cannot be reached by email either.
		t.Run("FallbacksQueuedOnceUnderConcurrentSweeps", func(t *testing.T) {
			t.Parallel()
			s := open(t)
			ctx := context.Background()
			Customer(t, s, "c1", func(c *repo.Customer) { c.SMSOptOut = true })
			Customer(t, s, "c2", func(c *repo.Customer) { c.EmailOptOut = true })
			Customer(t, s, "c3")
			Customer(t, s, "c4", func(c *repo.Customer) { c.Email = "" })
			Customer(t, s, "c5")
			for _, c := range []string{"c1", "c2", "c3", "c4", "c5"} {
				Plan(t, s, "p-"+c, c, []repo.Date{receiptsDue})
			}
			// c1's SMS is suppressed at the scan; the others are claimed:
			// c5's goes out, the rest are refused for good.
			if _, err := s.QueueDueReminders(ctx, receiptsScanAt, receiptsSMSOnly); err != nil {
				t.Fatal(err)
			}
			claims, err := s.ClaimNotifications(ctx, "w1", receiptsSendAt, receiptsSendAt, 2*time.Minute, 100, 0)
			if err != nil || len(claims) != 4 {
				t.Fatalf("claim: %d, %v", len(claims), err)
			}
			sms := map[string]int64{}
			var outs []repo.Outcome
			for _, c := range claims {
				sms[c.Customer.Ref] = c.ID
				if c.Customer.Ref == "c5" {
					outs = append(outs, receiptsSent(c.ID, "aliyun", "biz-5", receiptsSendAt))
				} else {
					outs = append(outs, receiptsFailed(c.ID, "aliyun", receiptsSendAt))
				}
			}
			receiptsFinish(t, s, receiptsSendAt, outs...)

			at := receiptsSendAt.Add(time.Minute)
			var wg sync.WaitGroup
			counts := make(chan int, 8)
			for range 8 {
				wg.Go(func() {
					n, err := s.QueueFallbacks(ctx, at, receiptsScanAt, []string{"due_soon"}, "email")
					if err != nil {
						t.Error(err)
					}
					counts <- n
				})
			}
			wg.Wait()
			close(counts)
			total := 0
			for n := range counts {
				total += n
			}
			if total != 4 {
				t.Fatalf("queued %d fallbacks, want 4 (c1 to c4)", total)
			}
			// A failed SMS: a pending email, due at once, that names why.
			f3 := receiptsFallbackOf(t, s, sms["c3"])
			if f3.Status != "pending" || f3.StatusReason != fmt.Sprintf("fallback for sms notice %d (failed)", sms["c3"]) ||
				!f3.NextAttemptAt.Equal(at) || !f3.NotBefore.Equal(at) || !f3.CreatedAt.Equal(at) || f3.DedupKey == nil ||
				!strings.HasSuffix(*f3.DedupKey, ":due_soon:email") || f3.Kind != "due_soon" || f3.Locale != "zh-CN" {
				t.Fatalf("fallback of a failed sms: %+v", f3)
			}
			if n := receiptsNotice(t, s, sms["c3"]); n.Status != "failed" ||
				n.StatusReason != fmt.Sprintf("permanent: invalid number; fallback: email notice %d", f3.ID) {
				t.Fatalf("failed sms after its fallback: %s %q", n.Status, n.StatusReason)
			}
			// Opted out of email, or no email address: logged, suppressed.
			if f := receiptsFallbackOf(t, s, sms["c2"]); f.Status != "suppressed" || f.StatusReason != "opted_out" {
				t.Fatalf("fallback for a customer opted out of email: %s %q", f.Status, f.StatusReason)
			}
			if f := receiptsFallbackOf(t, s, sms["c4"]); f.Status != "suppressed" || f.StatusReason != "no_email" {
				t.Fatalf("fallback for a customer without email: %s %q", f.Status, f.StatusReason)
			}
			// The sent SMS has none.
			if n := receiptsNotice(t, s, sms["c5"]); n.Status != "sent" || strings.Contains(n.StatusReason, "fallback") {
				t.Fatalf("sent sms: %s %q", n.Status, n.StatusReason)
			}
			// The pending fallbacks are what the dispatcher claims next: c1's
			// (its SMS suppressed at the scan, opted out) and c3's.
			next, err := s.ClaimNotifications(ctx, "w2", at, at, time.Minute, 100, 0)
			if err != nil || len(next) != 2 {
				t.Fatalf("claim fallbacks: %d, %v", len(next), err)
			}
			for _, c := range next {
				if c.Channel != "email" || c.FallbackOf == nil || (c.Customer.Ref != "c1" && c.Customer.Ref != "c3") {
					t.Fatalf("claimed %+v", c.Notification)
				}
				if c.Customer.Ref == "c1" {
					smsN := receiptsNotice(t, s, *c.FallbackOf)
					if f := receiptsFallbackOf(t, s, smsN.ID); f.ID != c.ID ||
						f.StatusReason != fmt.Sprintf("fallback for sms notice %d (opted_out)", smsN.ID) ||
						smsN.Status != "suppressed" || smsN.StatusReason != fmt.Sprintf("opted_out; fallback: email notice %d", c.ID) {
						t.Fatalf("c1: sms %s %q, fallback %q", smsN.Status, smsN.StatusReason, f.StatusReason)
					}
				}
			}
			// A later sweep over the same notices queues nothing more.
			if n, err := s.QueueFallbacks(ctx, at.Add(time.Hour), receiptsScanAt, []string{"due_soon"}, "email"); err != nil || n != 0 {
				t.Fatalf("second sweep queued %d, %v", n, err)
			}
		})

		// An SMS undelivered per its receipt gets a fallback from the sweep
		// that covers when it settled, and only for the stages asked for.
		t.Run("FallbackAfterUndeliveredReceipt", func(t *testing.T) {
			t.Parallel()
			s := open(t)
			ctx := context.Background()
			id := receiptsClaimed(t, s, 1)[0]
			receiptsFinish(t, s, receiptsSendAt, receiptsSent(id, "aliyun", "biz-1", receiptsSendAt))
			settled := receiptsSendAt.Add(5 * time.Minute)
			receiptsRecord(t, s, settled, repo.Receipt{Provider: "aliyun", ProviderMsgID: "biz-1", Status: "undelivered", Code: "MK:0001"})
			at := settled.Add(time.Minute)
			for _, tc := range []struct {
				name   string
				since  time.Time
				stages []string
			}{
				{"settled before since", settled.Add(time.Second), []string{"due_soon"}},
				{"another stage", settled, []string{"due_today", "overdue_1"}},
				{"no stages", settled, nil},
			} {
				if n, err := s.QueueFallbacks(ctx, at, tc.since, tc.stages, "email"); err != nil || n != 0 {
					t.Fatalf("%s: queued %d, %v", tc.name, n, err)
				}
			}
			if n := receiptsNotice(t, s, id); n.StatusReason != "undelivered per aliyun receipt (code MK:0001)" {
				t.Fatalf("sms noted a fallback: %q", n.StatusReason)
			}
			if n, err := s.QueueFallbacks(ctx, at, settled, []string{"overdue_1", "due_soon"}, "email"); err != nil || n != 1 {
				t.Fatalf("queued %d, %v; want 1", n, err)
			}
			fb := receiptsFallbackOf(t, s, id)
			if fb.Status != "pending" || fb.StatusReason != fmt.Sprintf("fallback for sms notice %d (undelivered)", id) {
				t.Fatalf("fallback: %s %q", fb.Status, fb.StatusReason)
			}
			// The carrier then reports the SMS delivered after all: the
			// fallback not yet sent is withdrawn (the borrower has the
			// message; two would go).
			later := settled.Add(time.Minute)
			receiptsRecord(t, s, at.Add(time.Minute), repo.Receipt{Provider: "aliyun", ProviderMsgID: "biz-1", Status: "delivered",
				Code: "DELIVERED", ReportedAt: &later})
			if f, err := s.GetNotification(ctx, fb.ID); err != nil || f.Status != "suppressed" || f.StatusReason != repo.ReasonFallbackWithdrawn {
				t.Fatalf("fallback after the SMS was delivered after all: %s %q (%v)", f.Status, f.StatusReason, err)
			}
		})

		t.Run("FallbackChannelMustBeEmail", func(t *testing.T) {
			t.Parallel()
			s := open(t)
			for _, ch := range []string{"sms", "push", ""} {
				if n, err := s.QueueFallbacks(context.Background(), receiptsSendAt, receiptsScanAt, []string{"due_soon"}, ch); !errors.Is(err, repo.ErrInvalid) || n != 0 {
					t.Errorf("fallback on %q: %d, %v; want ErrInvalid", ch, n, err)
				}
			}
		})
	})
}

// receiptsRaceEnds waits for a race of receipts and finishes, then checks
// that it left every notice delivered with its one receipt applied.
func receiptsRaceEnds(t *testing.T, s Store, wg *sync.WaitGroup, errs chan error, ids []int64) {
	t.Helper()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range ids {
		if st := receiptsNotice(t, s, id).Status; st != "delivered" {
			t.Errorf("notice %d: %s, want delivered", id, st)
		}
		if rcs := receiptsList(t, s, id); len(rcs) != 1 || rcs[0].AppliedAt == nil {
			t.Errorf("notice %d: receipts %+v, want one applied", id, rcs)
		}
	}
}
