package api_test

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"duebell/api"
)

const eventsPath = "/api/v1/channel-events"

func eventSetup(t *testing.T) bundle {
	t.Helper()
	b := setup(t, func(c *api.Config) { c.AllowedDomains = []string{"example.com"} })
	b.seed(t)
	return b
}

// events is every stored event as text.
func (b bundle) events(t *testing.T) []string {
	t.Helper()
	var rows []string
	if err := b.r.DB().SelectContext(context.Background(), &rows, `SELECT e::text FROM channel_events e ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestPostEventStoresAndReplays(t *testing.T) {
	t.Parallel()
	b := eventSetup(t)
	body := `{"ref":"ev-1","kind":"card_bound","scope":"plan","plan_ref":"p1","occurred_at":"2025-03-10T09:30:00+08:00",
		"payload":{"card_last4":"1234"}}`
	got := b.mustDo(t, http.StatusCreated, "POST", eventsPath, ingestToken, body)
	if got["ref"] != "ev-1" || got["kind"] != "card_bound" || got["scope"] != "plan" || got["plan_ref"] != "p1" ||
		got["customer_ref"] != "c1" || got["occurred_at"] != "2025-03-10T01:30:00Z" || got["processed_at"] != nil {
		t.Fatalf("created = %v", got)
	}
	if p, _ := got["payload"].(map[string]any); p["card_last4"] != "1234" {
		t.Fatalf("payload = %v", got["payload"])
	}

	// The lender retries: the same event, spelt differently, is the stored one.
	stored := b.events(t)
	again := b.mustDo(t, http.StatusOK, "POST", eventsPath, ingestToken,
		`{"payload":{ "card_last4" : "1234" },"occurred_at":"2025-03-10T01:30:00Z","customer_ref":"c1","plan_ref":"p1","scope":"plan","kind":"card_bound","ref":"ev-1"}`)
	if again["id"] != got["id"] || again["received_at"] != got["received_at"] {
		t.Fatalf("replay = %v, want %v", again, got)
	}
	if !reflect.DeepEqual(stored, b.events(t)) {
		t.Fatalf("replay changed the event")
	}

	// Another body under the same ref is a conflict.
	res := b.do(t, "POST", eventsPath, ingestToken, strings.Replace(body, "1234", "4321", 1))
	if code, msg := res.errorOf(); res.status != http.StatusConflict || code != "conflict" || !strings.Contains(msg, "ev-1") {
		t.Fatalf("different body = %d %s", res.status, res.raw)
	}

	read := b.mustDo(t, http.StatusOK, "GET", eventsPath+"/ev-1", viewerToken, "")
	if read["id"] != got["id"] {
		t.Fatalf("GET = %v", read)
	}
	b.mustDo(t, http.StatusNotFound, "GET", eventsPath+"/nope", viewerToken, "")
}

func TestPostEventAcceptsEveryKind(t *testing.T) {
	t.Parallel()
	b := eventSetup(t)
	for _, body := range []string{
		`{"ref":"k1","kind":"card_unbound","scope":"customer","customer_ref":"c1","occurred_at":"2025-03-10T09:00:00+08:00"}`,
		`{"ref":"k2","kind":"card_bound","scope":"customer","customer_ref":"c1","occurred_at":"2025-03-10T09:00:00+08:00","payload":{"card_last4":"0042"}}`,
		`{"ref":"k3","kind":"autodebit_failed","scope":"plan","plan_ref":"p1","occurred_at":"2025-03-10T09:00:00+08:00","payload":{"seq":2,"reason":"insufficient_funds"}}`,
		`{"ref":"k4","kind":"repayment_entry_moved","scope":"all","occurred_at":"2025-03-10T09:00:00+08:00","payload":{"app_name":"Example 金融","url":"https://finance.example.com/repay?from=shop"}}`,
		`{"ref":"k5","kind":"plan_cancelled","scope":"plan","plan_ref":"p1","customer_ref":"c1","occurred_at":"2025-03-10T09:00:00+08:00","payload":null}`,
		`{"ref":"k6","kind":"service_closed","scope":"all","occurred_at":"2025-03-10T09:00:00+08:00","payload":{}}`,
		`{"ref":"k7","kind":"verification_changed","scope":"customer","customer_ref":"c2","occurred_at":"2025-03-10T09:00:00+08:00","payload":{"setting":"face_verification"}}`,
	} {
		b.mustDo(t, http.StatusCreated, "POST", eventsPath, ingestToken, body)
	}
	if n := b.count(t, "channel_events"); n != 7 {
		t.Fatalf("%d events stored", n)
	}
}

func TestPostEventRefusesBadInput(t *testing.T) {
	t.Parallel()
	b := eventSetup(t)
	ev := func(fields string) string {
		return `{"ref":"bad","occurred_at":"2025-03-10T09:00:00+08:00",` + fields + `}`
	}
	tests := []struct {
		name, token, body string
		status            int
		code, msg         string
	}{
		{"viewer posts", viewerToken, ev(`"kind":"service_closed","scope":"all"`), 403, "forbidden", "viewer"},
		{"unknown kind", ingestToken, ev(`"kind":"card_lost","scope":"customer","customer_ref":"c1"`), 422, "invalid", "kind: want one of card_unbound"},
		{"no kind", ingestToken, ev(`"scope":"all"`), 422, "invalid", "kind"},
		{"bad scope", ingestToken, ev(`"kind":"service_closed","scope":"everyone"`), 422, "invalid", "scope: service_closed events take scope customer or all"},
		{"scope unfit for kind", ingestToken, ev(`"kind":"plan_cancelled","scope":"customer","customer_ref":"c1"`), 422, "invalid", "scope: plan_cancelled events take scope plan"},
		{"customer scope without customer", ingestToken, ev(`"kind":"card_unbound","scope":"customer"`), 422, "invalid", "customer_ref: is required for scope customer"},
		{"customer scope with plan", ingestToken, ev(`"kind":"card_unbound","scope":"customer","customer_ref":"c1","plan_ref":"p1"`), 422, "invalid", "plan_ref"},
		{"plan scope without plan", ingestToken, ev(`"kind":"plan_cancelled","scope":"plan","customer_ref":"c1"`), 422, "invalid", "plan_ref: is required for scope plan"},
		{"all scope with customer", ingestToken, ev(`"kind":"service_closed","scope":"all","customer_ref":"c1"`), 422, "invalid", "leave customer_ref and plan_ref empty"},
		{"unknown customer", ingestToken, ev(`"kind":"card_unbound","scope":"customer","customer_ref":"nobody"`), 404, "not_found", `customer "nobody"`},
		{"unknown plan", ingestToken, ev(`"kind":"plan_cancelled","scope":"plan","plan_ref":"nope"`), 404, "not_found", `plan "nope"`},
		{"unknown installment", ingestToken, ev(`"kind":"autodebit_failed","scope":"plan","plan_ref":"p1","payload":{"seq":9}`), 404, "not_found", "installment 9"},
		{"plan of another customer", ingestToken, ev(`"kind":"plan_cancelled","scope":"plan","plan_ref":"p1","customer_ref":"c2"`), 409, "conflict", "another customer"},
		{"no ref", ingestToken, `{"kind":"service_closed","scope":"all","occurred_at":"2025-03-10T09:00:00+08:00"}`, 422, "invalid", "ref: is required"},
		{"no occurred_at", ingestToken, `{"ref":"bad","kind":"service_closed","scope":"all"}`, 422, "invalid", "occurred_at: is required"},
		{"bad occurred_at", ingestToken, `{"ref":"bad","kind":"service_closed","scope":"all","occurred_at":"yesterday"}`, 422, "invalid", "occurred_at"},
		{"future occurred_at", ingestToken, `{"ref":"bad","kind":"service_closed","scope":"all","occurred_at":"2025-03-12T09:00:00+08:00"}`, 422, "invalid", "future"},
		{"payload array", ingestToken, ev(`"kind":"service_closed","scope":"all","payload":[]`), 422, "invalid", "payload: want a JSON object"},
		{"payload key for kind without", ingestToken, ev(`"kind":"service_closed","scope":"all","payload":{"note":"x"}`), 422, "invalid", "payload.note: service_closed events take no payload keys"},
		{"unknown payload key", ingestToken, ev(`"kind":"card_bound","scope":"plan","plan_ref":"p1","payload":{"last4":"1234"}`), 422, "invalid", "payload.last4: unknown key for card_bound (accepted: card_last4)"},
		{"card_bound without card", ingestToken, ev(`"kind":"card_bound","scope":"plan","plan_ref":"p1"`), 422, "invalid", "payload.card_last4: is required"},
		{"card with letters", ingestToken, ev(`"kind":"card_bound","scope":"plan","plan_ref":"p1","payload":{"card_last4":"12a4"}`), 422, "invalid", "payload.card_last4"},
		{"card as number", ingestToken, ev(`"kind":"card_unbound","scope":"plan","plan_ref":"p1","payload":{"card_last4":1234}`), 422, "invalid", "payload.card_last4: want a string"},
		{"seq zero", ingestToken, ev(`"kind":"autodebit_failed","scope":"plan","plan_ref":"p1","payload":{"seq":0}`), 422, "invalid", "payload.seq"},
		{"seq float", ingestToken, ev(`"kind":"autodebit_failed","scope":"plan","plan_ref":"p1","payload":{"seq":1.5}`), 422, "invalid", "payload.seq"},
		{"reason free text", ingestToken, ev(`"kind":"autodebit_failed","scope":"plan","plan_ref":"p1","payload":{"reason":"call 123"}`), 422, "invalid", "payload.reason"},
		{"moved without app", ingestToken, ev(`"kind":"repayment_entry_moved","scope":"all","payload":{"url":"https://pay.example.com/"}`), 422, "invalid", "payload.app_name: is required"},
		{"moved to an IDN host", ingestToken, ev(`"kind":"repayment_entry_moved","scope":"all","payload":{"app_name":"evil.中国","url":"https://pay.example.com/"}`), 422, "invalid", "evil.中国"},
		{"moved to a fullwidth host", ingestToken, ev(`"kind":"repayment_entry_moved","scope":"all","payload":{"app_name":"evil．ｃｏｍ","url":"https://pay.example.com/"}`), 422, "invalid", "host"},
		{"moved to an address", ingestToken, ev(`"kind":"repayment_entry_moved","scope":"all","payload":{"app_name":"1.2.3.4","url":"https://pay.example.com/"}`), 422, "invalid", "1.2.3.4"},
		{"moved to a bare foreign host", ingestToken, ev(`"kind":"repayment_entry_moved","scope":"all","payload":{"app_name":"evil.com","url":"https://pay.example.com/"}`), 422, "invalid", "evil.com"},
		{"moved to foreign url", ingestToken, ev(`"kind":"repayment_entry_moved","scope":"all","payload":{"app_name":"Pay","url":"https://example.com.evil.io/pay"}`), 422, "invalid", "not on the official domains"},
		{"moved to look-alike", ingestToken, ev(`"kind":"repayment_entry_moved","scope":"all","payload":{"app_name":"Pay","url":"https://example.com@evil.io/pay"}`), 422, "invalid", "payload.url"},
		{"moved to plain http", ingestToken, ev(`"kind":"repayment_entry_moved","scope":"all","payload":{"app_name":"Pay","url":"http://pay.example.com/"}`), 422, "invalid", "https"},
		{"moved to relative url", ingestToken, ev(`"kind":"repayment_entry_moved","scope":"all","payload":{"app_name":"Pay","url":"/repay"}`), 422, "invalid", "payload.url"},
		{"app name carries a link", ingestToken, ev(`"kind":"repayment_entry_moved","scope":"all","payload":{"app_name":"evil.io/pay"}`), 422, "invalid", "payload.app_name"},
		{"unknown field", ingestToken, ev(`"kind":"service_closed","scope":"all","plan":"p1"`), 400, "unknown_field", "plan"},
		{"malformed", ingestToken, `{"ref":"bad",`, 400, "bad_json", "truncated"},
	}
	before, events := b.snapshot(t), b.events(t)
	for _, tt := range tests {
		res := b.do(t, "POST", eventsPath, tt.token, tt.body)
		code, msg := res.errorOf()
		if res.status != tt.status || code != tt.code || !strings.Contains(msg, tt.msg) {
			t.Errorf("%s: %d %s, want %d %s mentioning %q", tt.name, res.status, res.raw, tt.status, tt.code, tt.msg)
		}
	}
	assertUnchanged(t, before, b.snapshot(t))
	if !reflect.DeepEqual(events, b.events(t)) {
		t.Errorf("channel_events changed: %v", b.events(t))
	}
}
