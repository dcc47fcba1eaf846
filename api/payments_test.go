package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"
)

func TestPaymentSettlesAndQueuesConfirmation(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.seed(t)
	paidAt := "2025-03-09T21:30:00+08:00"

	partial := b.mustDo(t, http.StatusCreated, "POST", "/api/v1/plans/p1/installments/1/payments", ingestToken,
		`{"amount":4000,"paid_at":"2025-03-09T20:00:00+08:00","ref":"pay-1"}`)
	if partial["settled"] != false || partial["queued"] != float64(0) {
		t.Errorf("partial payment = %v", partial)
	}
	if n := b.count(t, "notifications"); n != 0 {
		t.Errorf("notifications after a partial payment = %d", n)
	}

	res := b.mustDo(t, http.StatusCreated, "POST", "/api/v1/plans/p1/installments/1/payments", ingestToken,
		`{"amount":6000,"paid_at":"`+paidAt+`","ref":"pay-2"}`)
	inst, _ := res["installment"].(map[string]any)
	if res["settled"] != true || res["replayed"] != false || res["queued"] != float64(2) ||
		inst["status"] != "paid" || inst["paid"] != float64(10000) || inst["paid_at"] != "2025-03-09T13:30:00Z" {
		t.Errorf("settling payment = %v", res)
	}

	var rows []struct {
		Kind      string    `db:"kind"`
		Channel   string    `db:"channel"`
		Status    string    `db:"status"`
		NotBefore time.Time `db:"not_before"`
	}
	if err := b.r.DB().SelectContext(context.Background(), &rows,
		`SELECT kind, channel, status, not_before FROM notifications ORDER BY channel`); err != nil {
		t.Fatal(err)
	}
	want, _ := time.Parse(time.RFC3339, paidAt)
	if len(rows) != 2 {
		t.Fatalf("notifications = %+v, want one per confirm channel", rows)
	}
	for _, n := range rows {
		if n.Kind != "payment_received" || n.Status != "pending" || !n.NotBefore.Equal(want) {
			t.Errorf("notification = %+v, want payment_received pending not before %v", n, want)
		}
	}

	// The lender retries the same payment: nothing changes.
	before := b.snapshot(t)
	replay := b.mustDo(t, http.StatusOK, "POST", "/api/v1/plans/p1/installments/1/payments", ingestToken,
		`{"amount":6000,"paid_at":"`+paidAt+`","ref":"pay-2"}`)
	if replay["replayed"] != true || replay["settled"] != false || replay["queued"] != float64(0) {
		t.Errorf("replay = %v", replay)
	}
	assertUnchanged(t, before, b.snapshot(t))
}

func TestPaymentDefaultsPaidAtToNow(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.seed(t)
	res := b.mustDo(t, http.StatusCreated, "POST", "/api/v1/plans/p1/installments/3/payments", ingestToken, `{"amount":10000}`)
	inst, _ := res["installment"].(map[string]any)
	if res["settled"] != true || inst["paid_at"] != "2025-03-10T02:00:00Z" {
		t.Errorf("payment without paid_at = %v, want paid at the fake clock", res)
	}
}
