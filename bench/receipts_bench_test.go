package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"duebell/api"
	"duebell/repo"
	"duebell/repo/repotest"
)

// receiptBatch is how many receipts BenchmarkReceipts posts in one request
// (DUEBELL_BENCH_RECEIPTS, default 20,000).
func receiptBatch(tb testing.TB) int {
	if v := os.Getenv("DUEBELL_BENCH_RECEIPTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			tb.Fatalf("DUEBELL_BENCH_RECEIPTS=%q", v)
		}
		return n
	}
	return 20_000
}

// receiptStore is what the receipt benchmark needs of either store.
type receiptStore interface {
	api.Store
	QueueDueReminders(ctx context.Context, now time.Time, stages []repo.Stage) (repo.ScanResult, error)
}

// BenchmarkReceipts posts one Aliyun SmsReport batch (a JSON array, as
// Aliyun's HTTP batch push sends it) of receiptBatch receipts through the
// receipt hook over HTTP, one for each SMS notice sent, a tenth of them
// undelivered, and then the same batch again, as Aliyun retries a batch it
// got no answer to. Reports receipts/s and the seconds the first post took
// (batch-s) and the retry (retry-s); the provider gives up on an answer after
// a few seconds.
func BenchmarkReceipts(b *testing.B) {
	b.Run("postgres", func(b *testing.B) {
		benchReceipts(b, func(n int) receiptStore {
			r := repotest.New(b)
			seed(b, r, n, repo.NewDate(2026, 11, 24), false)
			return r
		})
	})
	b.Run("sqlite", func(b *testing.B) {
		benchReceipts(b, func(n int) receiptStore {
			s := openSQLite(b)
			seedSQLite(b, s, n, repo.NewDate(2026, 11, 24))
			return s
		})
	})
}

func benchReceipts(b *testing.B, open func(n int) receiptStore) {
	n := receiptBatch(b)
	ctx := context.Background()
	at := time.Date(2026, 11, 21, 10, 0, 0, 0, shanghai)
	var elapsed time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s := open(n)
		if _, err := s.QueueDueReminders(ctx, at, stagesOn("sms")); err != nil {
			b.Fatal(err)
		}
		db := s.(interface{ DB() *sqlx.DB }).DB()
		if _, err := db.ExecContext(ctx, `UPDATE notifications SET status = 'sent', attempts = 1, sent_at = $1,
			provider = 'aliyun', provider_msg_id = id || '^0' WHERE status = 'pending'`, at); err != nil {
			b.Fatal(err)
		}
		var ids []int64
		if err := db.SelectContext(ctx, &ids, `SELECT id FROM notifications WHERE status = 'sent' ORDER BY id`); err != nil {
			b.Fatal(err)
		}
		if len(ids) != n {
			b.Fatalf("seeded %d sent SMS, want %d", len(ids), n)
		}
		body := aliyunBatch(b, ids)
		srv := httptest.NewServer(mustAPI(b, s, at, int64(len(body))))
		post := func() time.Duration {
			start := time.Now()
			res, err := http.Post(srv.URL+"/hooks/sms/aliyun/"+benchReceiptToken, "application/json", strings.NewReader(body))
			took := time.Since(start)
			if err != nil {
				b.Fatal(err)
			}
			var reply map[string]any
			_ = json.NewDecoder(res.Body).Decode(&reply)
			res.Body.Close()
			if res.StatusCode != http.StatusOK || reply["code"] != float64(0) {
				b.Fatalf("receipt batch answered %d %v", res.StatusCode, reply)
			}
			return took
		}
		b.StartTimer()
		took := post()
		b.StopTimer()
		elapsed += took
		retry := post()
		srv.Close()
		counts := map[string]int{}
		var rows []struct {
			Status string `db:"status"`
			N      int    `db:"n"`
		}
		if err := db.SelectContext(ctx, &rows, `SELECT status, count(*) AS n FROM notifications GROUP BY status`); err != nil {
			b.Fatal(err)
		}
		for _, r := range rows {
			counts[r.Status] = r.N
		}
		if counts["delivered"]+counts["undelivered"] != n || counts["undelivered"] != (n+9)/10 {
			b.Fatalf("after the batch: %v, want %d delivered and %d undelivered", counts, n-(n+9)/10, (n+9)/10)
		}
		var stored, unapplied int
		if err := db.GetContext(ctx, &stored, `SELECT count(*) FROM sms_receipts`); err != nil || stored != n {
			b.Fatalf("stored %d receipts, want %d (the batch posted twice, stored once), %v", stored, n, err)
		}
		if err := db.GetContext(ctx, &unapplied, `SELECT count(*) FROM sms_receipts WHERE applied_at IS NULL`); err != nil || unapplied != 0 {
			b.Fatalf("%d receipts left unapplied, %v", unapplied, err)
		}
		b.ReportMetric(took.Seconds(), "batch-s")
		b.ReportMetric(retry.Seconds(), "retry-s")
	}
	b.ReportMetric(float64(n*b.N)/elapsed.Seconds(), "receipts/s")
	b.ReportMetric(float64(n), "receipts")
}

const benchReceiptToken = "bench-receipt-token-0123"

// aliyunBatch is an Aliyun SmsReport push for the notices ids, each sent
// with message id "<id>^0": every tenth undelivered.
func aliyunBatch(b *testing.B, ids []int64) string {
	type report struct {
		Phone      string `json:"phone_number"`
		SendTime   string `json:"send_time"`
		ReportTime string `json:"report_time"`
		Success    bool   `json:"success"`
		ErrCode    string `json:"err_code"`
		ErrMsg     string `json:"err_msg"`
		Size       string `json:"sms_size"`
		BizID      string `json:"biz_id"`
		OutID      string `json:"out_id"`
	}
	reports := make([]report, len(ids))
	for i, id := range ids {
		rp := report{Phone: fmt.Sprintf("138%08d", i), SendTime: "2026-11-21 10:00:00", ReportTime: "2026-11-21 10:00:07",
			Success: true, ErrCode: "DELIVERED", ErrMsg: "用户接收成功", Size: "1", BizID: fmt.Sprintf("%d^0", id),
			OutID: strconv.FormatInt(id, 10)}
		if i%10 == 0 {
			rp.Success, rp.ErrCode, rp.ErrMsg = false, "MK:0001", "空号"
		}
		reports[i] = rp
	}
	body, err := json.Marshal(reports)
	if err != nil {
		b.Fatal(err)
	}
	return string(body)
}

func mustAPI(b *testing.B, s api.Store, at time.Time, maxBody int64) http.Handler {
	h, err := api.New(api.Config{Repo: s, Now: func() time.Time { return at }, MaxBodyBytes: maxBody,
		Receipts: &api.ReceiptConfig{Token: benchReceiptToken}})
	if err != nil {
		b.Fatal(err)
	}
	return h
}
