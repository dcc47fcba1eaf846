package api_test

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

func assertUnchanged(t *testing.T, before, after map[string][]string) {
	t.Helper()
	for _, table := range countedTables {
		if !reflect.DeepEqual(before[table], after[table]) {
			t.Errorf("%s changed:\n before %v\n after  %v", table, before[table], after[table])
		}
	}
}

// TestBadInputChangesNothing sends every kind of refused request and checks
// the status, the error code, that the message names the problem, and that
// not one row changed.
func TestBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.seed(t)
	b.mustDo(t, http.StatusCreated, "POST", "/api/v1/plans/p1/installments/2/payments", ingestToken, `{"amount":100,"ref":"pay-1"}`)

	const (
		cust = "/api/v1/customers/c1"
		plan = "/api/v1/plans/p1"
		pay  = "/api/v1/plans/p1/installments/1/payments"
	)
	good := planJSON("c1", 3)
	inst := func(i string) string { // a one-installment plan with installment JSON i
		return `{"customer_ref":"c1","total":100,"periods":1,"installments":[` + i + `]}`
	}
	huge := `{"name":"` + strings.Repeat("x", maxBody) + `","phone":"13812345678"}`

	tests := []struct {
		name, method, path, token, body string
		status                          int
		code, msg                       string
	}{
		{"no token", "PUT", cust, "", customerJSON, 401, "unauthorized", "missing"},
		{"wrong token", "PUT", cust, "nope-nope-nope-nope-nope", customerJSON, 401, "unauthorized", "invalid"},
		{"viewer writes", "PUT", cust, viewerToken, customerJSON, 403, "forbidden", "viewer"},
		{"malformed JSON", "PUT", cust, ingestToken, `{"phone": "13812345678",}`, 400, "bad_json", "malformed"},
		{"truncated JSON", "PUT", cust, ingestToken, `{"phone": "138`, 400, "bad_json", "truncated"},
		{"empty body", "PUT", cust, ingestToken, ``, 400, "bad_json", "empty"},
		{"array body", "PUT", cust, ingestToken, `[]`, 400, "bad_json", "object"},
		{"two objects", "PUT", cust, ingestToken, `{"phone":"13812345678"} {}`, 400, "bad_json", "single"},
		{"unknown field", "PUT", cust, ingestToken, `{"phone":"13812345678","mobile":"1"}`, 400, "unknown_field", "mobile"},
		{"oversize body", "PUT", cust, ingestToken, huge, 413, "too_large", "larger"},
		{"invalid phone", "PUT", cust, ingestToken, `{"phone":"12345"}`, 422, "invalid", "phone"},
		{"phone as number", "PUT", cust, ingestToken, `{"phone":13812345678}`, 422, "invalid", "phone: want a string"},
		{"no contact", "PUT", cust, ingestToken, `{"name":"x"}`, 422, "invalid", "phone or an email"},
		{"bad email", "PUT", cust, ingestToken, `{"email":"Bob <bob@example.com>"}`, 422, "invalid", "email"},
		{"bad locale", "PUT", cust, ingestToken, `{"phone":"13812345678","locale":"fr"}`, 422, "invalid", "locale"},
		{"bad timezone", "PUT", cust, ingestToken, `{"phone":"13812345678","timezone":"Mars/Olympus"}`, 422, "invalid", "timezone"},
		{"opt-out not bool", "PUT", cust, ingestToken, `{"phone":"13812345678","sms_opt_out":"yes"}`, 422, "invalid", "sms_opt_out"},

		{"plan bad date", "PUT", plan, ingestToken, inst(`{"seq":1,"due_date":"2025-02-30","amount":100}`), 422, "invalid", "installments[0].due_date: 2025-02-30 is not a day of the calendar"},
		{"plan malformed date", "PUT", plan, ingestToken, inst(`{"seq":1,"due_date":"2025/04/15","amount":100}`), 422, "invalid", "installments[0].due_date: want a date as YYYY-MM-DD"},
		{"plan float money", "PUT", plan, ingestToken, strings.Replace(good, `"total":30000`, `"total":12.5`, 1), 422, "invalid", "total: want an integer amount"},
		{"installment float money", "PUT", plan, ingestToken, inst(`{"seq":1,"due_date":"2025-04-15","amount":99.99}`), 422, "invalid", "amount"},
		{"money as string", "PUT", plan, ingestToken, inst(`{"seq":1,"due_date":"2025-04-15","amount":"100"}`), 422, "invalid", "amount"},
		{"negative money", "PUT", plan, ingestToken, inst(`{"seq":1,"due_date":"2025-04-15","amount":-1}`), 422, "invalid", "installments[0].amount"},
		{"paid over amount", "PUT", plan, ingestToken, inst(`{"seq":1,"due_date":"2025-04-15","amount":100,"paid":101}`), 422, "invalid", "paid"},
		{"seq gap", "PUT", plan, ingestToken, strings.Replace(good, `"seq":3`, `"seq":4`, 1), 422, "invalid", "installments[2].seq"},
		{"seq twice", "PUT", plan, ingestToken, strings.Replace(good, `"seq":3`, `"seq":2`, 1), 422, "invalid", "appears twice"},
		{"periods mismatch", "PUT", plan, ingestToken, strings.Replace(good, `"periods":3`, `"periods":4`, 1), 422, "invalid", "installments"},
		{"zero periods", "PUT", plan, ingestToken, `{"customer_ref":"c1","total":0,"periods":0,"installments":[]}`, 422, "invalid", "periods"},
		{"bad plan status", "PUT", plan, ingestToken, strings.Replace(good, `"title"`, `"status":"open","title"`, 1), 422, "invalid", "status"},
		{"bad repay method", "PUT", plan, ingestToken, strings.Replace(good, `"title"`, `"repay_method":"cash","title"`, 1), 422, "invalid", "repay_method"},
		{"bad currency", "PUT", plan, ingestToken, strings.Replace(good, `"title"`, `"currency":"cny","title"`, 1), 422, "invalid", "currency"},
		{"bad card", "PUT", plan, ingestToken, strings.Replace(good, `"title"`, `"card_last4":"12a4","title"`, 1), 422, "invalid", "card_last4"},
		{"bad installment status", "PUT", plan, ingestToken, inst(`{"seq":1,"due_date":"2025-04-15","amount":1,"status":"late"}`), 422, "invalid", "status"},
		{"no customer_ref", "PUT", plan, ingestToken, strings.Replace(good, `"customer_ref":"c1"`, `"customer_ref":""`, 1), 422, "invalid", "customer_ref: is required"},
		{"unknown customer", "PUT", "/api/v1/plans/p2", ingestToken, planJSON("nobody", 3), 404, "not_found", `customer "nobody"`},
		{"plan moved to another customer", "PUT", plan, ingestToken, planJSON("c2", 3), 409, "conflict", "another customer"},
		{"installment removed", "PUT", plan, ingestToken, planJSON("c1", 2), 409, "conflict", "waived"},

		{"payment to unknown plan", "POST", "/api/v1/plans/nope/installments/1/payments", ingestToken, `{"amount":100}`, 404, "not_found", "nope"},
		{"payment to unknown seq", "POST", "/api/v1/plans/p1/installments/9/payments", ingestToken, `{"amount":100}`, 404, "not_found", "installment 9"},
		{"payment bad seq", "POST", "/api/v1/plans/p1/installments/x/payments", ingestToken, `{"amount":100}`, 422, "invalid", "seq"},
		{"payment zero", "POST", pay, ingestToken, `{"amount":0}`, 422, "invalid", "amount"},
		{"payment float", "POST", pay, ingestToken, `{"amount":1.5}`, 422, "invalid", "amount"},
		{"payment bad time", "POST", pay, ingestToken, `{"amount":100,"paid_at":"2025-03-10 10:00"}`, 422, "invalid", "paid_at"},
		{"payment in the future", "POST", pay, ingestToken, `{"amount":100,"paid_at":"2025-03-11T02:00:01Z"}`, 422, "invalid", "future"},
		{"payment ref reused", "POST", "/api/v1/plans/p1/installments/2/payments", ingestToken, `{"amount":200,"ref":"pay-1"}`, 409, "conflict", "another amount"},
		{"payment unknown field", "POST", pay, ingestToken, `{"amount":100,"phone":"x"}`, 400, "unknown_field", "phone"},
	}
	before := b.snapshot(t)
	for _, tt := range tests {
		res := b.do(t, tt.method, tt.path, tt.token, tt.body)
		code, msg := res.errorOf()
		if res.status != tt.status || code != tt.code || !strings.Contains(msg, tt.msg) {
			t.Errorf("%s: %d %s, want %d %s mentioning %q", tt.name, res.status, res.raw, tt.status, tt.code, tt.msg)
		}
	}
	// A body declared too large is refused at once: the client was left to
	// send it for the body timeout and then told 408, "send it again".
	req := httptest.NewRequest("PUT", cust, strings.NewReader(`{"name":"x"}`))
	req.Header.Set("Authorization", "Bearer "+ingestToken)
	req.Header.Set("Content-Type", "application/json")
	req.ContentLength = 5 << 20
	if rec := newRecorder(b, req); rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(rec.Body.String(), "too_large") {
		t.Errorf("Content-Length over the limit: %d %s, want 413 too_large", rec.Code, rec.Body)
	}
	assertUnchanged(t, before, b.snapshot(t))
}
