package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"duebell/api"
	"duebell/link"
	"duebell/repo/sqlite"
)

// textHostile are values no text field may hold: NUL (raw and inside
// text), invalid UTF-8, and a UTF-16 surrogate encoded as UTF-8.
var textHostile = []string{"\x00", "a\x00b", "\xff", "\xed\xa0\x80", "\xc3"}

// walkBodies is a valid body per route that takes one; the walk spoils one
// value of it at a time. Forms are url-encoded, the rest JSON.
var walkBodies = map[string]string{
	"PUT /api/v1/customers/{ref}": `{"name":"李雷","phone":"13812345678","email":"li@example.com","locale":"zh-CN",` +
		`"timezone":"Asia/Shanghai","sms_opt_out":false,"email_opt_out":false}`,
	"PUT /api/v1/plans/{ref}": `{"customer_ref":"c1","merchant":"Shop","title":"Phone","currency":"CNY","total":20000,"periods":2,` +
		`"status":"active","repay_method":"manual","card_last4":"1234","installments":[` +
		`{"seq":1,"due_date":"2025-04-15","amount":10000,"paid":10000,"status":"paid","paid_at":"2025-03-10T01:00:00Z"},` +
		`{"seq":2,"due_date":"2025-05-15","amount":10000,"paid":0,"status":"pending"}]}`,
	"POST /api/v1/plans/{ref}/installments/{seq}/payments": `{"amount":100,"paid_at":"2025-03-10T01:00:00Z","ref":"pay-9"}`,
	"POST /api/v1/channel-events": `{"ref":"e9","kind":"autodebit_failed","scope":"plan","plan_ref":"p1",` +
		`"occurred_at":"2025-03-10T01:00:00Z","payload":{"seq":1,"reason":"insufficient_funds"}}`,
	"POST /api/v1/notifications/{id}/resend": `{"reason":"customer asked","channel":"sms","force":true}`,
	"POST /api/v1/resends": `{"filter":{"status":"failed","channel":"sms","kind":"due_soon","provider":"aliyun",` +
		`"since":"2025-03-01T00:00:00Z","until":"2025-03-02T00:00:00Z"},"reason":"outage","dry_run":false}`,
	// One NDJSON line; the walk imports it with ?atomic=true, where a
	// refused line is a 422 that applies nothing.
	"POST /api/v1/import":                     `{"type":"customer","ref":"c9","name":"Li","phone":"+8613812345679","locale":"en","timezone":"Asia/Shanghai"}`,
	"POST /hooks/sms/{provider}":              `[{"biz_id":"b1","out_id":"1","success":true,"err_code":"DELIVERED","err_msg":"ok"}]`,
	"POST /hooks/sms/{provider}/{token}":      `[{"biz_id":"b1","out_id":"1","success":true,"err_code":"DELIVERED","err_msg":"ok"}]`,
	"POST /console/login":                     "csrf=CSRF&token=" + url.QueryEscape(viewerToken),
	"POST /console/logout":                    "csrf=CSRF",
	"POST /console/notifications/{id}/resend": "csrf=CSRF&reason=customer+asked&channel=sms&force=on&idempotency_key=k1",
	"POST /console/resends":                   "csrf=CSRF&reason=provider+outage&status=failed&action=dry_run",
}

// walkPath fills a pattern's wildcards with values that are fine, so that
// what a variant spoils is what gets refused.
var walkPath = map[string]string{"ref": "p1", "id": "1", "seq": "1", "provider": "aliyun", "token": receiptToken}

var wildcardRE = regexp.MustCompile(`\{(\w+)(\.\.\.)?\}`)

// TestEveryRouteRefusesHostileInput lists every route from the mux and
// sends each hostile values in its query, in each path wildcard, and in
// each value of its body; every answer must be a 4xx and no table may
// change. A route added later is walked without editing this test (a
// route that takes a body needs an entry in walkBodies, which the test
// demands).
func TestEveryRouteRefusesHostileInput(t *testing.T) {
	t.Parallel()
	for _, store := range []string{"postgres", "sqlite"} {
		t.Run(store, func(t *testing.T) {
			t.Parallel()
			testEveryRouteRefusesHostileInput(t, store)
		})
	}
}

func testEveryRouteRefusesHostileInput(t *testing.T, store string) {
	signer, err := link.NewSigner("https://pay.example.com/repay", link.Key{ID: "k1", Secret: []byte("a-very-secret-signing-key")}, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	b := setupOn(t, store, func(c *api.Config) {
		c.Links = signer
		c.Receipts = &api.ReceiptConfig{Token: receiptToken, WebhookSecret: gatewaySecret,
			TwilioAuthToken: twilioAuth, TwilioCallbackURL: twilioCallback}
		c.ConsolePlainHTTP = true
	})
	b.seed(t)
	routes := api.Routes(b.h)
	if len(routes) < 20 || !slices.Contains(routes, "GET /api/v1/audit") || !slices.Contains(routes, "POST /console/login") {
		t.Fatalf("routes from the mux: %v", routes)
	}
	w := newWalker(t, b)
	before := b.allRows(t)

	var sent int
	for _, pattern := range routes {
		method, path, _ := strings.Cut(pattern, " ")
		path = strings.ReplaceAll(path, "{$}", "")
		if method == "" || path == "" {
			t.Fatalf("pattern %q has no method", pattern)
		}
		body, hasBody := walkBodies[pattern]
		if (method == "POST" || method == "PUT") && !hasBody {
			t.Errorf("%s takes a body: add a valid one to walkBodies", pattern)
			continue
		}
		form := strings.HasPrefix(path, "/console/")
		valid := fillPath(path, "")
		if pattern == "POST /api/v1/import" {
			valid += "?atomic=true"
		}
		// The query, on every route.
		for _, v := range textHostile {
			q := url.Values{}
			for _, k := range []string{"q", "customer_ref", "phone", "email", "plan_ref", "kind", "channel", "status",
				"since", "until", "cursor", "limit", "actor", "token", "t", "resent"} {
				q.Set(k, v)
			}
			w.expect4xx(pattern, "query", method, valid+"?"+q.Encode(), w.body(body, form))
			w.expect4xx(pattern, "query name", method, valid+"?"+url.QueryEscape(v)+"=1", w.body(body, form))
			sent += 2
		}
		// Each path wildcard.
		for _, m := range wildcardRE.FindAllStringSubmatch(path, -1) {
			name := m[1]
			vals := append([]string{strings.Repeat("x", 200)}, textHostile...)
			if name == "id" || name == "seq" {
				vals = append(vals, "-1", "0", "99999999999999999999", "9223372036854775807", "+86138123456789", "1e3")
			}
			for _, v := range vals {
				w.expect4xx(pattern, "path "+name, method, fillPath(path, name, v), w.body(body, form))
				sent++
			}
		}
		// Each value of the body.
		if hasBody {
			for _, variant := range spoil(t, body, form) {
				w.expect4xx(pattern, "body "+variant.where, method, valid, w.body(variant.body, form))
				sent++
			}
		}
	}
	assertSameRows(t, before, b.allRows(t))
	t.Logf("%d routes, %d hostile requests, all 4xx", len(routes), sent)
}

// fillPath fills path's wildcards with walkPath's values, except name with v.
func fillPath(path, name string, v ...string) string {
	return wildcardRE.ReplaceAllStringFunc(path, func(m string) string {
		n := wildcardRE.FindStringSubmatch(m)[1]
		if n == name && len(v) > 0 {
			return url.PathEscape(v[0])
		}
		return walkPath[n]
	})
}

type variant struct{ where, body string }

// spoil returns body with one value at a time made hostile: every string
// with each textHostile value, dates and instants out of range, time zones
// that are not zones, numbers out of range, booleans as text.
func spoil(t *testing.T, body string, form bool) []variant {
	t.Helper()
	var out []variant
	if form {
		vals, _ := url.ParseQuery(body)
		for k := range vals {
			for _, h := range textHostile {
				spoilt := url.Values{}
				for k2, v2 := range vals {
					spoilt[k2] = v2
				}
				spoilt.Set(k, h)
				out = append(out, variant{k + "=" + fmt.Sprintf("%q", h), spoilt.Encode()})
			}
		}
		return out
	}
	var doc any
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("walk body %s: %v", body, err)
	}
	var paths [][]any
	collectLeaves(doc, nil, &paths)
	for _, p := range paths {
		key := fmt.Sprint(p[len(p)-1])
		leaf := get(doc, p)
		var repl []any
		switch leaf.(type) {
		case string:
			for _, h := range textHostile {
				repl = append(repl, h)
			}
			switch {
			case strings.HasSuffix(key, "_date"):
				repl = append(repl, "0000-01-01", "1999-12-31", "2100-01-01", "9999-12-31")
			case strings.HasSuffix(key, "_at") || key == "since" || key == "until":
				repl = append(repl, "0000-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "1970-01-01T00:00:00Z", "9999-12-31T23:59:59Z")
			case key == "timezone":
				repl = append(repl, "localtime", "posixrules", "Factory", "Local")
			}
		case float64:
			repl = []any{-1, int64(9223372036854775807), json.RawMessage("9223372036854775808"), json.RawMessage("1e300"), 0.5, "1"}
		case bool:
			repl = []any{"\x00", 1}
		}
		for _, r := range repl {
			spoilt := set(doc, p, r)
			raw, err := json.Marshal(spoilt)
			if err != nil {
				t.Fatal(err)
			}
			if s, ok := r.(string); ok && !utf8.ValidString(s) {
				// json.Marshal would repair invalid UTF-8: put the raw bytes in.
				raw, _ = json.Marshal(set(doc, p, "\u2603"))
				raw = []byte(strings.Replace(string(raw), "\u2603", s, 1))
			}
			out = append(out, variant{fmt.Sprintf("%v=%q", p, fmt.Sprint(r)), string(raw)})
		}
	}
	return out
}

func collectLeaves(v any, path []any, out *[][]any) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			collectLeaves(x[k], append(slices.Clone(path), k), out)
		}
	case []any:
		for i, e := range x {
			collectLeaves(e, append(slices.Clone(path), i), out)
		}
	default:
		*out = append(*out, path)
	}
}

func get(v any, path []any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			v = v.(map[string]any)[k]
		case int:
			v = v.([]any)[k]
		}
	}
	return v
}

// set returns a deep copy of v with the value at path replaced by r.
func set(v any, path []any, r any) any {
	if len(path) == 0 {
		return r
	}
	switch k := path[0].(type) {
	case string:
		m := map[string]any{}
		for k2, v2 := range v.(map[string]any) {
			m[k2] = v2
		}
		m[k] = set(m[k], path[1:], r)
		return m
	case int:
		s := slices.Clone(v.([]any))
		s[k] = set(s[k], path[1:], r)
		return s
	}
	return v
}

// walker sends the walk's requests: bearer tokens for the API, a console
// session (logged in before the walk) for the console.
type walker struct {
	t       testing.TB
	b       bundle
	cookies []*http.Cookie
	csrf    string
}

func newWalker(t testing.TB, b bundle) *walker {
	w := &walker{t: t, b: b}
	rec := w.raw("GET", "/console/login", "", "")
	w.cookies = rec.Result().Cookies()
	w.csrf = csrfOf(rec.Body.String())
	rec = w.raw("POST", "/console/login", "", "csrf="+url.QueryEscape(w.csrf)+"&token="+url.QueryEscape(operatorToken))
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("console login = %d", rec.Code)
	}
	w.cookies = rec.Result().Cookies()
	page := w.raw("GET", "/console/notifications", "", "")
	if page.Code != http.StatusOK {
		t.Fatalf("console page = %d", page.Code)
	}
	w.csrf = csrfOf(page.Body.String())
	return w
}

func csrfOf(page string) string {
	if m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page); m != nil {
		return m[1]
	}
	return ""
}

// body puts the session's CSRF token into a console form.
func (w *walker) body(body string, form bool) string {
	if form {
		return strings.ReplaceAll(body, "csrf=CSRF", "csrf="+url.QueryEscape(w.csrf))
	}
	return body
}

func (w *walker) raw(method, target, token, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "http://duebell.test/", strings.NewReader(body))
	req.URL.RawQuery = ""
	u, err := url.Parse("http://duebell.test" + target)
	if err != nil {
		w.t.Fatalf("%s: %v", target, err)
	}
	req.URL, req.RequestURI = u, u.RequestURI()
	req.RemoteAddr = "192.0.2.1:4000"
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	switch {
	case u.Path == "/api/v1/import":
		req.Header.Set("Content-Type", "application/x-ndjson")
	case strings.HasPrefix(u.Path, "/console/"):
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	default:
		req.Header.Set("Content-Type", "application/json")
	}
	for _, c := range w.cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	w.b.h.ServeHTTP(rec, req)
	return rec
}

// tokenFor is a token that may call the route, so that what is refused is
// the input, not the caller.
func tokenFor(pattern string) string {
	switch {
	case strings.HasPrefix(pattern, "PUT "), strings.Contains(pattern, "/payments"), pattern == "POST /api/v1/channel-events":
		return ingestToken
	case strings.HasPrefix(pattern, "POST "):
		return operatorToken
	}
	return viewerToken
}

func (w *walker) expect4xx(pattern, where, method, target, body string) {
	w.t.Helper()
	rec := w.raw(method, target, tokenFor(pattern), body)
	if rec.Code < 400 || rec.Code > 499 {
		w.t.Errorf("%s, hostile %s: %s %s = %d %.300s", pattern, where, method, target, rec.Code, rec.Body.String())
	}
}

// allRows is every row of every table of the schema, as text.
func (b bundle) allRows(t *testing.T) map[string][]string {
	t.Helper()
	ctx := context.Background()
	tablesSQL := `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1`
	if _, ok := b.r.(*sqlite.Store); ok {
		tablesSQL = `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1`
	}
	var tables []string
	if err := b.r.DB().SelectContext(ctx, &tables, tablesSQL); err != nil {
		t.Fatal(err)
	}
	if len(tables) < 8 {
		t.Fatalf("tables %v", tables)
	}
	out := map[string][]string{}
	for _, table := range tables {
		out[table] = b.rowsOf(t, table)
	}
	return out
}

func assertSameRows(t *testing.T, before, after map[string][]string) {
	t.Helper()
	for table := range after {
		if !slices.Equal(before[table], after[table]) {
			t.Errorf("%s changed:\n before %v\n after  %v", table, before[table], after[table])
		}
	}
}
