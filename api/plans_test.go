package api_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
)

func TestPutGetPlan(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.mustDo(t, http.StatusCreated, "PUT", "/api/v1/customers/c1", ingestToken, customerJSON)
	body := `{"customer_ref":"c1","merchant":"Shop","title":"Phone","total":30000,"periods":3,
		"repay_method":"auto_debit","card_last4":"1234","installments":[
		{"seq":2,"due_date":"2025-05-15","amount":10000},
		{"seq":1,"due_date":"2025-04-15","amount":10000,"paid":10000},
		{"seq":3,"due_date":"2025-06-15","amount":10000,"status":"waived"}]}`
	p := b.mustDo(t, http.StatusCreated, "PUT", "/api/v1/plans/p1", ingestToken, body)
	want := map[string]any{"ref": "p1", "customer_ref": "c1", "currency": "CNY", "status": "active",
		"repay_method": "auto_debit", "card_last4": "1234", "total": float64(30000), "periods": float64(3)}
	for k, v := range want {
		if p[k] != v {
			t.Errorf("plan %s = %v, want %v", k, p[k], v)
		}
	}
	inst, _ := p["installments"].([]any)
	if len(inst) != 3 {
		t.Fatalf("installments = %v", p["installments"])
	}
	first, _ := inst[0].(map[string]any)
	if first["seq"] != float64(1) || first["status"] != "paid" || first["paid_at"] != "2025-03-10T02:00:00Z" ||
		first["due_date"] != "2025-04-15" {
		t.Errorf("installment 1 = %v, want paid at the fake clock", first)
	}
	if third, _ := inst[2].(map[string]any); third["status"] != "waived" {
		t.Errorf("installment 3 = %v", third)
	}

	// The same PUT again changes nothing but updated_at.
	before := b.snapshot(t)
	b.mustDo(t, http.StatusOK, "PUT", "/api/v1/plans/p1", ingestToken, body)
	if after := b.snapshot(t); len(after["installments"]) != 3 || after["installments"][0] != before["installments"][0] ||
		len(after["plans"]) != 1 {
		t.Errorf("repeated PUT changed rows: %v -> %v", before, after)
	}

	got := b.mustDo(t, http.StatusOK, "GET", "/api/v1/plans/p1", viewerToken, "")
	if got["customer_ref"] != "c1" || len(got["installments"].([]any)) != 3 {
		t.Errorf("GET plan = %v", got)
	}
	res := b.do(t, "GET", "/api/v1/plans/nope", viewerToken, "")
	if code, _ := res.errorOf(); res.status != http.StatusNotFound || code != "not_found" {
		t.Errorf("GET unknown plan = %d %s", res.status, res.raw)
	}
}

// Pushes racing to create one customer, or one plan, are each answered 201
// once and 200 for the rest: the write that inserted the row says so, not a
// read before it, which every racer made before any had written.
func TestConcurrentCreatesAnswer201Once(t *testing.T) {
	t.Parallel()
	for _, store := range []string{"postgres", "sqlite"} {
		t.Run(store, func(t *testing.T) {
			t.Parallel()
			b := setupOn(t, store, nil)
			b.mustDo(t, http.StatusCreated, "PUT", "/api/v1/customers/c1", ingestToken, customerJSON)
			for _, path := range []string{"/api/v1/customers/c2", "/api/v1/plans/p2"} {
				body := customerJSON
				if strings.Contains(path, "plans") {
					body = planJSON("c1", 3)
				}
				const racers = 8
				codes := make(chan int, racers)
				var wg sync.WaitGroup
				for range racers {
					wg.Go(func() { codes <- b.do(t, "PUT", path, ingestToken, body).status })
				}
				wg.Wait()
				close(codes)
				got := map[int]int{}
				for c := range codes {
					got[c]++
				}
				if got[http.StatusCreated] != 1 || got[http.StatusOK] != racers-1 {
					t.Errorf("%d racing PUT %s: %v, want one 201 and the rest 200", racers, path, got)
				}
			}
		})
	}
}
