package bench

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"duebell/repo"
	"duebell/repo/repotest"
	"duebell/scheduler"
)

// customers is how many borrowers the fan-out benchmark seeds
// (DUEBELL_BENCH_CUSTOMERS, default 100,000), each with one active
// five-installment plan.
func customers(tb testing.TB) int {
	if v := os.Getenv("DUEBELL_BENCH_CUSTOMERS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			tb.Fatalf("DUEBELL_BENCH_CUSTOMERS=%q", v)
		}
		return n
	}
	return 100_000
}

// BenchmarkAllScopeFanOut measures the channel-event scan turning one
// scope-all event into a notice per customer and channel: one set-based
// INSERT … SELECT, no loop over customers. repayment_entry_moved (the usual
// scope-all event) names no plan; service_closed also picks each customer's
// plan and next unpaid installment. Reports the fan-out's wall time and a
// re-run's (every dedup key already taken: nothing is queued twice).
func BenchmarkAllScopeFanOut(b *testing.B) {
	for _, tc := range []struct{ kind, payload string }{
		{repo.EventRepaymentEntryMoved, `{"app_name":"Example Finance","url":"https://finance.example.com/repay"}`},
		{repo.EventServiceClosed, `{}`},
	} {
		b.Run(tc.kind, func(b *testing.B) { benchFanOut(b, tc.kind, tc.payload) })
	}
}

func benchFanOut(b *testing.B, kind, payload string) {
	n := customers(b)
	ctx := context.Background()
	at := time.Date(2026, 11, 21, 10, 0, 0, 0, shanghai)
	var elapsed time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		r := repotest.New(b)
		seed(b, r, 5*n, repo.NewDate(2026, 11, 24), false)
		if _, _, err := r.RecordEvent(ctx, repo.EventInput{Ref: "all-1", Kind: kind, Scope: repo.ScopeAll,
			OccurredAt: at, Payload: repo.JSONObject(payload), Now: at}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		res, err := r.ProcessChannelEvents(ctx, at, 0, scheduler.DefaultEventChannels)
		took := time.Since(start)
		b.StopTimer()
		elapsed += took
		if err != nil {
			b.Fatal(err)
		}
		if res.Events != 1 || res.Total() != 2*n {
			b.Fatalf("fan-out queued %d notices from %d events, want %d from 1", res.Total(), res.Events, 2*n)
		}
		// As after a crash between queuing and marking: the event runs again.
		if _, err := r.DB().ExecContext(ctx, `UPDATE channel_events SET processed_at = NULL`); err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		again, err := r.ProcessChannelEvents(ctx, at, 0, scheduler.DefaultEventChannels)
		if err != nil || again.Total() != 0 {
			b.Fatalf("re-run queued %d, %v", again.Total(), err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "rerun-s")
		b.ReportMetric(took.Seconds(), "fanout-s")
	}
	b.ReportMetric(float64(2*n*b.N)/elapsed.Seconds(), "notices/s")
	b.ReportMetric(float64(n), "customers")
}
