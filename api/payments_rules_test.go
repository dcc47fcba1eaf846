package api_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestStalePlanPushCannotReopenAPaidBill(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.seed(t) // p1's installments carry no "paid": the README's own shape
	b.mustDo(t, http.StatusCreated, "POST", "/api/v1/plans/p1/installments/1/payments", ingestToken,
		`{"amount":10000,"ref":"pay-1"}`)

	// The same push again (paid omitted) keeps the recorded payment.
	res := b.mustDo(t, http.StatusOK, "PUT", "/api/v1/plans/p1", ingestToken, planJSON("c1", 3))
	inst := res["installments"].([]any)[0].(map[string]any)
	if inst["status"] != "paid" || inst["paid"] != float64(10000) {
		t.Errorf("re-push without paid: installment 1 = %v, want still paid", inst)
	}

	// A push that says paid 0 is refused, naming the installment, and writes nothing.
	before := b.snapshot(t)
	stale := strings.Replace(planJSON("c1", 3), `"amount":10000}`, `"amount":10000,"paid":0}`, 1)
	r := b.do(t, "PUT", "/api/v1/plans/p1", ingestToken, stale)
	if code, msg := r.errorOf(); r.status != http.StatusConflict || code != "conflict" || !strings.Contains(msg, "installment 1") {
		t.Errorf("stale push: %d %s", r.status, r.raw)
	}
	assertUnchanged(t, before, b.snapshot(t))
}

func TestReversalAndOverpaymentOverHTTP(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.seed(t)
	path := "/api/v1/plans/p1/installments/1/payments"
	b.mustDo(t, http.StatusCreated, "POST", path, ingestToken, `{"amount":10000}`)

	before := b.snapshot(t)
	for _, tc := range []struct {
		body string
		want int
	}{
		{`{"amount":1}`, http.StatusConflict},                            // overpayment
		{`{"amount":-10000}`, http.StatusUnprocessableEntity},            // a reversal needs a reason
		{`{"amount":-20000,"reason":"chargeback"}`, http.StatusConflict}, // more than was paid
		{`{"amount":0}`, http.StatusUnprocessableEntity},
	} {
		if r := b.do(t, "POST", path, ingestToken, tc.body); r.status != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.body, r.status, r.raw, tc.want)
		}
	}
	assertUnchanged(t, before, b.snapshot(t))

	res := b.mustDo(t, http.StatusCreated, "POST", path, ingestToken, `{"amount":-10000,"reason":"bank return","ref":"rv-1"}`)
	inst := res["installment"].(map[string]any)
	if res["reopened"] != true || inst["status"] != "pending" || inst["paid"] != float64(0) {
		t.Errorf("reversal = %v", res)
	}
	if n := b.count(t, "audit_log"); n != 1 {
		t.Errorf("%d audit rows, want the reversal audited", n)
	}
}
