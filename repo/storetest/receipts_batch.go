package storetest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"duebell/repo"
)

// Receipt batches: a provider's batch (Aliyun and Tencent post many
// reports at once) is recorded in a few transactions, not one a
// receipt, and must decide every receipt as recording them one at a time
// would.

// batchNotices are the notices of the mixed batch, by role.
type batchNotices struct {
	a, b, c, d, e, f int64
}

// batchSetup queues six SMS notices and leaves them as the mixed batch
// finds them: a, b and e sent by aliyun (biz-A, biz-B, biz-E), f sent by
// tencent (sid-F), c still being sent, d waiting for a retry after a try
// that timed out (no message id known).
func batchSetup(t *testing.T, s Store) batchNotices {
	t.Helper()
	ids := receiptsClaimed(t, s, 6)
	n := batchNotices{a: ids[0], b: ids[1], c: ids[2], d: ids[3], e: ids[4], f: ids[5]}
	at := receiptsSendAt
	receiptsFinish(t, s, at, receiptsSent(n.a, "aliyun", "biz-A", at), receiptsSent(n.b, "aliyun", "biz-B", at),
		receiptsSent(n.e, "aliyun", "biz-E", at), receiptsSent(n.f, "tencent", "sid-F", at),
		receiptsRetry(n.d, at, repo.OutcomeUnknown, "timeout"))
	return n
}

// batchReceipts is a batch of 600 aliyun receipts, most for messages
// nobody sent, with these at fixed places (across the store's chunks of a
// few hundred): for a, undelivered then delivered; for b, delivered, then a
// late undelivered and a duplicate in the next chunk; for c, delivered by
// out-id while it is still being sent; for d, delivered by out-id with the
// message id the retry's provider gave it, then undelivered by that message
// id alone (it matches only once the first receipt taught d its id); for e,
// a progress report then undelivered at the very end; and one with f's
// message id and out-id from the wrong provider.
func batchReceipts(n batchNotices) []repo.Receipt {
	rcs := make([]repo.Receipt, 600)
	for i := range rcs {
		st := repo.ReceiptDelivered
		if i%3 == 0 {
			st = repo.ReceiptUndelivered
		}
		rcs[i] = repo.Receipt{Provider: "aliyun", ProviderMsgID: fmt.Sprintf("biz-none-%d", i), Status: st,
			Code: "DELIVERED", Raw: "{}"}
	}
	out := func(id int64) string { return strconv.FormatInt(id, 10) }
	for i, rc := range map[int]repo.Receipt{
		0:   {ProviderMsgID: "biz-A", Status: repo.ReceiptUndelivered, Code: "MK:0001"},
		1:   {ProviderMsgID: "biz-C", OutID: out(n.c), Status: repo.ReceiptDelivered, Code: "DELIVERED"},
		498: {ProviderMsgID: "biz-A", Status: repo.ReceiptDelivered, Code: "DELIVERED"},
		499: {ProviderMsgID: "biz-B", Status: repo.ReceiptDelivered, Code: "DELIVERED"},
		500: {ProviderMsgID: "biz-B", Status: repo.ReceiptUndelivered, Code: "MK:0001"},
		501: {ProviderMsgID: "biz-B", OutID: out(n.b), Status: repo.ReceiptDelivered, Code: "DELIVERED"},
		540: {ProviderMsgID: "biz-D9", OutID: out(n.d), Status: repo.ReceiptDelivered, Code: "DELIVERED"},
		541: {ProviderMsgID: "biz-D9", Status: repo.ReceiptUndelivered, Code: "MK:0002"},
		560: {ProviderMsgID: "biz-E", Status: repo.ReceiptProgress, ProviderStatus: "sent"},
		561: {ProviderMsgID: "sid-F", OutID: out(n.f), Status: repo.ReceiptDelivered},
		599: {ProviderMsgID: "biz-E", Status: repo.ReceiptUndelivered, Code: "MK:0003"},
	} {
		rc.Provider, rc.Raw = "aliyun", fmt.Sprintf(`{"biz_id":%q}`, rc.ProviderMsgID)
		rcs[i] = rc
	}
	return rcs
}

// batchState is what a user sees of the six notices: each one's status,
// reason, code, message id and delivery time, and, withReceipts, its
// receipts (message id, status, applied or not).
func batchState(t *testing.T, s Store, n batchNotices, withReceipts bool) string {
	t.Helper()
	var out string
	for _, id := range []int64{n.a, n.b, n.c, n.d, n.e, n.f} {
		nt := receiptsNotice(t, s, id)
		out += fmt.Sprintf("%s %q %s %s delivered_at=%v;", nt.Status, nt.StatusReason, nt.DeliveryCode, nt.ProviderMsgID,
			nt.DeliveredAt)
		for _, rc := range receiptsList(t, s, id) {
			if withReceipts {
				out += fmt.Sprintf(" %s/%s/applied=%t", rc.ProviderMsgID, rc.Status, rc.AppliedAt != nil)
			}
		}
		out += "\n"
	}
	return out
}

func init() {
	register("ReceiptBatches", func(t *testing.T, open Opener) {
		t.Run("BatchDecidesAsOneAtATime", func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			at := receiptsSendAt.Add(time.Minute)

			s := open(t)
			n := batchSetup(t, s)
			rcs := batchReceipts(n)
			res, err := s.RecordReceipts(ctx, rcs, at)
			if err != nil || len(res) != len(rcs) {
				t.Fatalf("record batch: %d results, %v", len(res), err)
			}
			want := map[int]repo.ReceiptResult{
				0:   {NotificationID: n.a, Status: "undelivered", Applied: true},
				1:   {NotificationID: n.c, Status: "sending", Deferred: true},
				498: {NotificationID: n.a, Status: "delivered", Applied: true},
				499: {NotificationID: n.b, Status: "delivered", Applied: true},
				500: {NotificationID: n.b, Status: "delivered"},
				501: {NotificationID: n.b, Status: "delivered"},
				540: {NotificationID: n.d, Status: "delivered", Applied: true},
				541: {NotificationID: n.d, Status: "delivered"},
				560: {NotificationID: n.e, Status: "sent"},
				561: {},
				599: {NotificationID: n.e, Status: "undelivered", Applied: true},
			}
			ids := map[int64]bool{}
			first := make([]int64, len(res))
			unmatched := 0
			for i, r := range res {
				if ids[r.ReceiptID] || r.ReceiptID == 0 {
					t.Fatalf("receipt %d stored as %d, twice or not at all", i, r.ReceiptID)
				}
				ids[r.ReceiptID], first[i] = true, r.ReceiptID
				if r.NotificationID == 0 {
					unmatched++
				}
				r.ReceiptID = 0
				if r != want[i] {
					t.Errorf("receipt %d (%s %s): %+v, want %+v", i, rcs[i].ProviderMsgID, rcs[i].Status, r, want[i])
				}
			}
			// The receipt for c waited for its send to be recorded.
			receiptsFinish(t, s, at.Add(time.Second), receiptsSent(n.c, "aliyun", "biz-C", receiptsSendAt))
			got := batchState(t, s, n, true)
			for _, id := range []int64{n.a, n.b, n.c, n.d} {
				if st := receiptsNotice(t, s, id).Status; st != "delivered" {
					t.Errorf("notice %d: %s, want delivered\n%s", id, st, got)
				}
			}
			if d := receiptsNotice(t, s, n.d); d.ProviderMsgID != "biz-D9" {
				t.Errorf("notice d learned message id %q from its receipt, want biz-D9", d.ProviderMsgID)
			}
			if e, f := receiptsNotice(t, s, n.e), receiptsNotice(t, s, n.f); e.Status != "undelivered" || f.Status != "sent" {
				t.Errorf("notice e %s (want undelivered), f %s (want sent)", e.Status, f.Status)
			}

			// The same receipts one at a time, in order, on a store set up
			// alike (less those for messages nobody sent, which touch no
			// notice and took a transaction each).
			one := open(t)
			if m := batchSetup(t, one); m != n {
				t.Fatalf("stores set up apart: %+v and %+v", n, m)
			}
			for _, i := range slices.Sorted(maps.Keys(want)) {
				r, err := one.RecordReceipt(ctx, rcs[i], at)
				if err != nil {
					t.Fatal(err)
				}
				r.ReceiptID, res[i].ReceiptID = 0, 0
				if r != res[i] {
					t.Errorf("receipt %d: %+v one at a time, %+v in a batch", i, r, res[i])
				}
			}
			receiptsFinish(t, one, at.Add(time.Second), receiptsSent(n.c, "aliyun", "biz-C", receiptsSendAt))
			if alone := batchState(t, one, n, true); alone != got {
				t.Errorf("one at a time:\n%s\nin a batch:\n%s", alone, got)
			}

			// The provider did not get the answer and posts the batch again:
			// no receipt is stored again, no notice changes.
			again, err := s.RecordReceipts(ctx, rcs, at.Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range again {
				if r.Applied || r.Deferred || !r.Duplicate || r.ReceiptID != first[i] {
					t.Errorf("receipt %d posted again: %+v, want a duplicate of receipt %d", i, r, first[i])
				}
			}
			if after := batchState(t, s, n, true); after != got {
				t.Errorf("the batch again changed the notices or their receipts:\n%s\nwas:\n%s", after, got)
			}
			// Nor the receipts that match no notice.
			if p, err := s.PurgeFinished(ctx, at.Add(24*time.Hour), 1000); err != nil || p.Receipts != unmatched {
				t.Errorf("the batch again: %d unmatched receipts stored (%v), want %d", p.Receipts, err, unmatched)
			}
		})

		// Receipt batches posted while the dispatcher records the same
		// notices as sent, one by one: whichever commits first, every
		// notice ends delivered with its receipt applied, and no batch
		// deadlocks with a finish.
		t.Run("BatchesRacingFinishesNeverLost", func(t *testing.T) {
			t.Parallel()
			const n, batches = 24, 3
			s := open(t)
			ids := receiptsClaimed(t, s, n)
			var wg sync.WaitGroup
			errs := make(chan error, n+batches)
			for i, id := range ids {
				wg.Go(func() {
					errs <- s.FinishNotifications(context.Background(), "w1", receiptsSendAt,
						[]repo.Outcome{receiptsSent(id, "tencent", fmt.Sprintf("sid-%d", i), receiptsSendAt)})
				})
			}
			for k := range batches {
				var rcs []repo.Receipt
				for i := len(ids) - 1 - k; i >= 0; i -= batches {
					rc := repo.Receipt{Provider: "tencent", ProviderMsgID: fmt.Sprintf("sid-%d", i), Status: "delivered", Raw: "{}"}
					if i%2 == 0 {
						rc.OutID = strconv.FormatInt(ids[i], 10)
					}
					rcs = append(rcs, rc)
				}
				wg.Go(func() {
					_, err := s.RecordReceipts(context.Background(), rcs, receiptsSendAt)
					errs <- err
				})
			}
			receiptsRaceEnds(t, s, &wg, errs, ids)
		})
	})
}
