package api_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHostileInputIsRefused replays the probes that used to answer 500:
// NUL and invalid UTF-8 in every filter and body, integers and dates out of
// range, money past any real amount, instants before 2000, and names that
// time.LoadLocation accepts but that are not time zones. Each must be a 4xx
// JSON error naming the field, and not one row may change.
func TestHostileInputIsRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.seed(t)
	inst := func(i string) string {
		return `{"customer_ref":"c1","total":100,"periods":1,"installments":[` + i + `]}`
	}
	two := func(a, c string) string {
		return `{"customer_ref":"c1","total":100,"periods":2,"installments":[{"seq":1,"due_date":"2025-04-15","amount":` + a +
			`},{"seq":2,"due_date":"2025-05-15","amount":` + c + `}]}`
	}
	event := func(extra string) string {
		return `{"ref":"e1","kind":"card_unbound","scope":"customer","customer_ref":"c1","occurred_at":"2025-03-10T01:00:00Z"` + extra + `}`
	}
	const pay = "/api/v1/plans/p1/installments/1/payments"
	tests := []struct {
		name, method, path, token, body string
		status                          int
		msg                             string
	}{
		{"NUL in email filter", "GET", "/api/v1/notifications?email=%00", viewerToken, "", 400, "email"},
		{"surrogate in plan_ref filter", "GET", "/api/v1/notifications?plan_ref=%ED%A0%80", viewerToken, "", 400, "plan_ref"},
		{"0xFF in customer_ref filter", "GET", "/api/v1/notifications?customer_ref=%FF", viewerToken, "", 400, "customer_ref"},
		{"NUL in kind filter", "GET", "/api/v1/notifications?kind=a%00b", viewerToken, "", 400, "kind"},
		{"unknown kind filter", "GET", "/api/v1/notifications?kind=nope", viewerToken, "", 422, "kind: want one of"},
		{"NUL in a parameter name", "GET", "/api/v1/notifications?%00=1", viewerToken, "", 400, "name"},
		// A pair net/url cannot parse used to be dropped: the filter, or
		// an import's dry_run, silently gone.
		{"bad escape in a filter", "GET", "/api/v1/notifications?customer_ref=nobody%", viewerToken, "", 400, "does not parse"},
		{"semicolon after a filter", "GET", "/api/v1/notifications?status=failed;", viewerToken, "", 400, "does not parse"},
		{"bad escape in audit actor", "GET", "/api/v1/audit?actor=nobody%zz", viewerToken, "", 400, "does not parse"},
		{"semicolon after dry_run", "POST", "/api/v1/import?dry_run=true;", ingestToken,
			`{"type":"customer","ref":"dry-c9","name":"Dry","phone":"13700009999"}`, 400, "does not parse"},
		{"a parameter given twice", "GET", "/api/v1/notifications?customer_ref=nope&customer_ref=c1", viewerToken, "", 400,
			"customer_ref is given 2 times"},
		// A browser resolves the console's link to it to the list.
		{"a customer ref of ..", "PUT", "/api/v1/customers/%2E%2E", ingestToken,
			`{"name":"Dot","phone":"13700009999"}`, 422, `must not be "." or ".."`},
		{"a seq with a sign", "POST", "/api/v1/plans/p1/installments/+1/payments", ingestToken, `{"amount":1000}`, 422, "seq"},
		{"a seq with a leading zero", "POST", "/api/v1/plans/p1/installments/01/payments", ingestToken, `{"amount":1000}`, 422, "seq"},
		{"a notice id with a sign", "GET", "/api/v1/notifications/+1", viewerToken, "", 422, "id"},
		{"a notice id with a leading zero", "GET", "/api/v1/notifications/01", viewerToken, "", 422, "id"},
		{"a misspelt flag", "POST", "/api/v1/import?dryrun=true", ingestToken,
			`{"type":"customer","ref":"dry-c9","name":"Dry","phone":"13700009999"}`, 400, `unknown query parameter "dryrun"`},
		{"a mis-cased flag", "POST", "/api/v1/import?DRY_RUN=true", ingestToken,
			`{"type":"customer","ref":"dry-c9","name":"Dry","phone":"13700009999"}`, 400, "takes atomic, dry_run"},
		{"a parameter a route does not take", "GET", "/api/v1/customers/c1?fields=all", viewerToken, "", 400,
			"takes no query parameters"},
		{"atomic given twice", "POST", "/api/v1/import?atomic=true&atomic=false", ingestToken,
			`{"type":"customer","ref":"dry-c9","name":"Dry","phone":"13700009999"}`, 400, "atomic is given 2 times"},
		{"cursor out of int range", "GET", "/api/v1/notifications?cursor=%2B86138123456789", viewerToken, "", 422, "cursor"},
		{"huge cursor", "GET", "/api/v1/notifications?cursor=86138123456789", viewerToken, "", 200, ""},
		{"since in year 0", "GET", "/api/v1/notifications?since=0000-01-01T00:00:00Z", viewerToken, "", 422, "since"},
		{"a control character in the email filter", "GET", "/api/v1/notifications?email=a%01b%40example.com", viewerToken, "", 422, "email: must not contain control characters"},
		{"NUL in audit actor", "GET", "/api/v1/audit?actor=%00", viewerToken, "", 400, "actor"},
		{"0xFF in audit actor", "GET", "/api/v1/audit?actor=%FF", viewerToken, "", 400, "actor"},
		{"NUL in resend filter", "POST", "/api/v1/resends", operatorToken,
			`{"filter":{"status":"failed","kind":"\u0000","since":"2025-03-01T00:00:00Z","until":"2025-03-02T00:00:00Z"},"reason":"x"}`, 422, "filter.kind"},
		{"bidi override in a bulk resend reason", "POST", "/api/v1/resends", operatorToken,
			`{"filter":{"status":"failed","since":"2025-03-01T00:00:00Z","until":"2025-03-02T00:00:00Z"},"reason":"a\u202eb"}`, 422, "reason"},
		{"bidi override in a resend reason", "POST", "/api/v1/notifications/1/resend", operatorToken, `{"reason":"a\u202eb"}`, 422, "reason"},
		{"NUL in resend reason", "POST", "/api/v1/resends", operatorToken,
			`{"filter":{"status":"failed","since":"2025-03-01T00:00:00Z","until":"2025-03-02T00:00:00Z"},"reason":"a\u0000"}`, 422, "reason"},
		{"raw 0xFF in a body", "PUT", "/api/v1/customers/c9", ingestToken, "{\"name\":\"\xff\",\"phone\":\"13812345678\"}", 400, "UTF-8"},
		{"NUL in a customer name", "PUT", "/api/v1/customers/c9", ingestToken, `{"name":"a\u0000","phone":"13812345678"}`, 422, "name"},
		{"unpaired surrogate in a customer name", "PUT", "/api/v1/customers/c9", ingestToken, `{"name":"a\ud800","phone":"13812345678"}`, 422, "name"},
		{"unpaired surrogate in an event payload", "POST", "/api/v1/channel-events", ingestToken, event(`,"payload":{"card_last4":"\udc00"}`), 422, "payload.card_last4"},
		{"NUL in a plan title", "PUT", "/api/v1/plans/p9", ingestToken, `{"customer_ref":"c1","title":"\u0000","total":0,"periods":1,"installments":[{"seq":1,"due_date":"2025-04-15","amount":0}]}`, 422, "title"},
		{"NUL in an event payload", "POST", "/api/v1/channel-events", ingestToken, event(`,"payload":{"card_last4":"\u0000"}`), 422, "payload.card_last4"},
		{"NUL in an event payload key", "POST", "/api/v1/channel-events", ingestToken, event(`,"payload":{"\u0000":1}`), 400, "payload"},
		// encoding/json reads "ſ" (long s) as "s" and "NAME" as "name": a key
		// so spelled was read as the field, past the duplicate check.
		{"a key twice, once with a long s", "PUT", "/api/v1/customers/c9", ingestToken, `{"phone":"13812345678","sms_opt_out":false,"\u017fms_opt_out":true}`, 400, "appears twice"},
		{"a field in capitals", "PUT", "/api/v1/customers/c9", ingestToken, `{"PHONE":"13812345678"}`, 400, `unknown field "PHONE"`},
		{"a field with a long s", "PUT", "/api/v1/plans/p9", ingestToken, strings.Replace(planJSON("c1", 3), `"periods"`, `"\u017ftatus":"cancelled","periods"`, 1), 400, "unknown field"},
		{"due date in year 0", "PUT", "/api/v1/plans/p9", ingestToken, inst(`{"seq":1,"due_date":"0000-01-01","amount":100}`), 422, "installments[0].due_date"},
		{"due date in 2100", "PUT", "/api/v1/plans/p9", ingestToken, inst(`{"seq":1,"due_date":"2100-01-01","amount":100}`), 422, "installments[0].due_date"},
		{"due date in 1999", "PUT", "/api/v1/plans/p9", ingestToken, inst(`{"seq":1,"due_date":"1999-12-31","amount":100}`), 422, "installments[0].due_date"},
		{"amount past the bound", "PUT", "/api/v1/plans/p9", ingestToken, inst(`{"seq":1,"due_date":"2025-04-15","amount":1000000000001}`), 422, "10^12"},
		{"installments summing past int64", "PUT", "/api/v1/plans/p9", ingestToken, two("9223372036854775807", "9223372036854775807"), 422, "installments[0].amount"},
		{"total past the bound", "PUT", "/api/v1/plans/p1", ingestToken, strings.Replace(planJSON("c1", 3), `"total":30000`, `"total":9223372036854775807`, 1), 422, "total"},
		{"payment of 2^63-1", "POST", pay, ingestToken, `{"amount":9223372036854775807}`, 422, "amount"},
		{"payment of 2^62", "POST", pay, ingestToken, `{"amount":4611686018427387904}`, 422, "amount"},
		{"payment past int64", "POST", pay, ingestToken, `{"amount":9223372036854775808}`, 422, "amount"},
		{"null as a customer", "PUT", "/api/v1/customers/c9", ingestToken, "null", 400, "must be a JSON object"},
		{"null as a payment", "POST", pay, ingestToken, " null\n", 400, "must be a JSON object"},
		{"null as a resend", "POST", "/api/v1/notifications/1/resend", operatorToken, "null", 400, "must be a JSON object"},
		{"a key twice", "POST", pay, ingestToken, `{"amount":1,"amount":100000,"ref":"dupk"}`, 400, `key "amount" appears twice`},
		{"a key twice in two cases", "POST", pay, ingestToken, `{"amount":1,"AMOUNT":90000,"ref":"dupk"}`, 400, `key "AMOUNT" appears twice`},
		{"a nested key twice", "PUT", "/api/v1/plans/p9", ingestToken, inst(`{"seq":1,"seq":2,"due_date":"2025-04-15","amount":100}`), 400, `key "installments[0].seq" appears twice`},
		{"reversal of -2^63", "POST", pay, ingestToken, `{"amount":-9223372036854775808,"reason":"x"}`, 422, "must not exceed"},
		{"payment seq out of int range", "POST", "/api/v1/plans/p1/installments/99999999999/payments", ingestToken, `{"amount":1}`, 422, "seq"},
		{"paid_at in year 0", "POST", pay, ingestToken, `{"amount":100,"paid_at":"0000-01-01T00:00:00Z"}`, 422, "paid_at"},
		// Go reads offsets up to ±23:59; PostgreSQL refused beyond ±15:59 (a 500).
		{"paid_at at +16:00", "POST", pay, ingestToken, `{"amount":100,"paid_at":"2025-03-11T10:00:00+16:00"}`, 422, "paid_at: has a UTC offset beyond ±14:00"},
		// Not RFC 3339, though Go's parser takes them: +00:60 read as +01:00.
		{"paid_at offset minute 60", "POST", pay, ingestToken, `{"amount":100,"paid_at":"2025-03-10T00:00:00+00:60"}`, 422, "paid_at"},
		{"paid_at comma fraction", "POST", pay, ingestToken, `{"amount":100,"paid_at":"2025-03-10T00:00:00,5Z"}`, 422, "paid_at"},
		{"occurred_at at -23:59", "POST", "/api/v1/channel-events", ingestToken, strings.Replace(event(""), "2025-03-10T01:00:00Z", "2025-03-09T01:01:00-23:59", 1), 422, "occurred_at: has a UTC offset"},
		{"since at +15:00", "GET", "/api/v1/notifications?since=2025-03-10T10:00:00%2B15:00", viewerToken, "", 422, "since"},
		{"paid_at in 1970", "POST", pay, ingestToken, `{"amount":100,"paid_at":"1970-01-01T00:00:00Z"}`, 422, "paid_at: before 2000"},
		{"paid_at two days ahead", "POST", pay, ingestToken, `{"amount":100,"paid_at":"2025-03-12T02:00:00Z"}`, 422, "future"},
		{"installment paid_at in 1970", "PUT", "/api/v1/plans/p9", ingestToken, inst(`{"seq":1,"due_date":"2025-04-15","amount":100,"paid":100,"status":"paid","paid_at":"1970-01-01T00:00:00Z"}`), 422, "paid_at"},
		{"occurred_at in year 1", "POST", "/api/v1/channel-events", ingestToken, strings.Replace(event(""), "2025-03-10T01:00:00Z", "0001-01-01T00:00:00Z", 1), 422, "occurred_at"},
		{"occurred_at in 1970", "POST", "/api/v1/channel-events", ingestToken, strings.Replace(event(""), "2025-03-10T01:00:00Z", "1970-01-01T00:00:00Z", 1), 422, "occurred_at"},
		{"occurred_at far ahead", "POST", "/api/v1/channel-events", ingestToken, strings.Replace(event(""), "2025-03-10T01:00:00Z", "2025-03-20T01:00:00Z", 1), 422, "occurred_at"},
		{"autodebit seq out of range", "POST", "/api/v1/channel-events", ingestToken,
			`{"ref":"e2","kind":"autodebit_failed","scope":"plan","plan_ref":"p1","occurred_at":"2025-03-10T01:00:00Z","payload":{"seq":99999999999}}`, 422, "payload.seq"},
	}
	for _, zone := range []string{"localtime", "posixrules", "Factory", "Local", "posix/Asia/Shanghai", "right/UTC", "../etc/passwd", "asia/shanghai"} {
		tests = append(tests, struct {
			name, method, path, token, body string
			status                          int
			msg                             string
		}{"time zone " + zone, "PUT", "/api/v1/customers/c9", ingestToken, `{"phone":"13812345678","timezone":"` + zone + `"}`, 422, "timezone"})
	}
	before := b.snapshot(t)
	for _, tt := range tests {
		res := b.do(t, tt.method, tt.path, tt.token, tt.body)
		_, msg := res.errorOf()
		if res.status != tt.status || !strings.Contains(msg, tt.msg) {
			t.Errorf("%s: %d %s, want %d mentioning %q", tt.name, res.status, res.raw, tt.status, tt.msg)
		}
	}
	assertUnchanged(t, before, b.snapshot(t))
	if strings.Contains(b.logs.String(), `"level":"ERROR"`) {
		t.Errorf("a refused request logged an error:\n%s", b.logs.String())
	}
}

// TestRealTimeZonesAndBoundsAccepted: the checks refuse only what is wrong.
func TestRealTimeZonesAndBoundsAccepted(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	for i, zone := range []string{"Asia/Shanghai", "America/Argentina/Buenos_Aires", "UTC", "Etc/GMT+8", "EST5EDT"} {
		b.mustDo(t, http.StatusCreated, "PUT", "/api/v1/customers/z"+itoa(i), ingestToken, `{"phone":"13812345678","timezone":"`+zone+`"}`)
	}
	b.mustDo(t, http.StatusCreated, "PUT", "/api/v1/plans/big", ingestToken,
		`{"customer_ref":"z0","total":1000000000000,"periods":1,"installments":[{"seq":1,"due_date":"2099-12-31","amount":1000000000000}]}`)
	b.mustDo(t, http.StatusCreated, "POST", "/api/v1/plans/big/installments/1/payments", ingestToken,
		`{"amount":1000000000000,"paid_at":"2025-03-11T01:59:59Z"}`)
}

// A header given twice is as ambiguous as a JSON key given twice: two
// Authorization headers (which token acts?) are refused 401, two
// Content-Encodings (a body coded twice) 415, and nothing is written.
func TestRepeatedHeadersAreRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	before := b.snapshot(t)
	for _, tc := range []struct {
		name   string
		header http.Header
		status int
	}{
		{"two tokens", http.Header{"Authorization": {"Bearer " + ingestToken, "Bearer " + viewerToken}}, http.StatusUnauthorized},
		{"two encodings", http.Header{"Authorization": {"Bearer " + ingestToken}, "Content-Encoding": {"gzip", "br"}},
			http.StatusUnsupportedMediaType},
	} {
		req := httptest.NewRequest("PUT", "/api/v1/customers/c9", strings.NewReader(`{"name":"Li","phone":"13812345678"}`))
		req.Header = tc.header
		rec := httptest.NewRecorder()
		b.h.ServeHTTP(rec, req)
		if rec.Code != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, rec.Code, rec.Body, tc.status)
		}
	}
	assertUnchanged(t, before, b.snapshot(t))
}

// A console address the server refuses before any page sees it (a query
// that does not parse, a parameter twice, a NUL) is answered with the
// console's own error page and its security headers, not the API's JSON.
func TestBadConsoleAddressGetsTheConsolesPage(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	for _, path := range []string{"/console/customers?q=a%00b", "/console/customers?q=a&q=b", "/console/customers?q=%zz",
		"/console/login?x=%zz", "/console/customers/a%00b"} {
		rec := httptest.NewRecorder()
		b.h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != http.StatusBadRequest || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") ||
			rec.Header().Get("Content-Security-Policy") == "" || rec.Header().Get("X-Frame-Options") != "DENY" {
			t.Errorf("GET %s = %d %q (CSP %q), want the console's 400 page", path, rec.Code, rec.Header().Get("Content-Type"),
				rec.Header().Get("Content-Security-Policy"))
		}
	}
}

// A path the mux would clean got its 307 redirect with an HTML body, which
// asks a client to send a PUT's body again to another address: it is no
// route, in the documented JSON, and nothing is written.
func TestUncleanPathIsNoRoute(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	before := b.snapshot(t)
	for _, p := range []string{"//api/v1/customers/c9", "/api/v1/x/../customers/c9", "/api/v1/./customers/c9"} {
		req := httptest.NewRequest("PUT", "/", strings.NewReader(`{"name":"Li","phone":"13812345678"}`))
		req.URL.Path = p
		req.Header.Set("Authorization", "Bearer "+ingestToken)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		b.h.ServeHTTP(rec, req)
		if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), `"not_found"`) {
			t.Errorf("PUT %s: %d %s, want 404 not_found JSON", p, rec.Code, rec.Body)
		}
	}
	assertUnchanged(t, before, b.snapshot(t))
	// A ref with escaped slashes or dots is a ref, as the mux reads it.
	req := httptest.NewRequest("PUT", "/api/v1/customers/a%2F..%2Fb", strings.NewReader(`{"name":"Li","phone":"13812345678"}`))
	req.Header.Set("Authorization", "Bearer "+ingestToken)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	b.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated {
		t.Errorf("PUT a%%2F..%%2Fb: %d %s, want 201", rec.Code, rec.Body)
	}
}
