package api_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"duebell/api"
)

// TestTextThatWouldSpoofOrSinkRemindersIsRefused: a name, merchant or title
// is put into every reminder as it is. Two kinds of text were accepted and
// then did harm there, so each is refused at the door (422 naming the
// field, nothing stored), through the API and through an import line alike:
//
//   - a bidirectional override, embedding or isolate (U+202A–U+202E,
//     U+2066–U+2069) reorders what the phone shows after it: an unclosed
//     U+202E in a merchant name shows the rest of the SMS, the repayment
//     link included, reversed; in a URL it does the same after the URL;
//   - a URL off links.allowed_domains: the push was accepted, and every
//     reminder of the plan then failed at render ("link outside allowed
//     domains"), so the borrower was never reminded and the lender never
//     told.
func TestTextThatWouldSpoofOrSinkRemindersIsRefused(t *testing.T) {
	t.Parallel()
	for _, store := range []string{"postgres", "sqlite"} {
		t.Run(store, func(t *testing.T) {
			t.Parallel()
			b := setupOn(t, store, func(c *api.Config) { c.AllowedDomains = []string{"example.com"} })
			b.seed(t)
			plan := func(field, v string) string {
				return strings.Replace(planJSON("c1", 3), `"`+field+`":"`+map[string]string{"merchant": "Shop", "title": "Phone"}[field]+`"`,
					`"`+field+`":"`+v+`"`, 1)
			}
			event := `{"ref":"e9","kind":"repayment_entry_moved","scope":"customer","customer_ref":"c1","occurred_at":"2025-03-10T01:00:00Z","payload":`
			tests := []struct {
				name, method, path, body, field string
			}{
				{"RLO in a name", "PUT", "/api/v1/customers/c9", `{"name":"Bob\u202e","phone":"13812345678"}`, "name"},
				{"RLI in a name", "PUT", "/api/v1/customers/c9", `{"name":"Bob\u2067x","phone":"13812345678"}`, "name"},
				{"LRE in a merchant", "PUT", "/api/v1/plans/p9", plan("merchant", "Shop\u202a"), "merchant"},
				{"RLO in a title", "PUT", "/api/v1/plans/p9", plan("title", "\u202egnp.exe"), "title"},
				{"PDI in an app name", "POST", "/api/v1/channel-events", event + `{"app_name":"Pay\u2069"}}`, "payload.app_name"},
				{"RLO in an entry url", "POST", "/api/v1/channel-events", event + `{"app_name":"Pay","url":"https://pay.example.com/\u202e"}}`, "payload.url"},
				{"RLO in a reversal reason", "POST", "/api/v1/plans/p1/installments/1/payments", `{"amount":-1,"reason":"r\u202e"}`, "reason"},
				{"foreign URL in a name", "PUT", "/api/v1/customers/c9", `{"name":"Bob https://evil.io/x","phone":"13812345678"}`, "name"},
				{"bare foreign host/path in a merchant", "PUT", "/api/v1/plans/p9", plan("merchant", "evil.io/pay"), "merchant"},
				{"www host in a title", "PUT", "/api/v1/plans/p9", plan("title", "see www.evil.io"), "title"},
				{"HTML link in a title", "PUT", "/api/v1/plans/p9", plan("title", `<a href='https://evil.io'>pay</a>`), "title"},
				// Forms a phone links that went out in an SMS (an audit's).
				{"IP address and path in a merchant", "PUT", "/api/v1/plans/p9", plan("merchant", "1.2.3.4/pay"), "merchant"},
				{"host with a query in a merchant", "PUT", "/api/v1/plans/p9", plan("merchant", "evil.COM?x"), "merchant"},
				{"host with a fragment in a title", "PUT", "/api/v1/plans/p9", plan("title", "evil.com#frag"), "title"},
				{"zero width space in a host", "PUT", "/api/v1/plans/p9", plan("merchant", "evil\u200b.com/pay"), "merchant"},
				{"soft hyphen in an app name", "POST", "/api/v1/channel-events", event + `{"app_name":"evil\u00ad.com"}}`, "payload.app_name"},
				{"ZWNJ in a host", "PUT", "/api/v1/customers/c9", `{"name":"evil\u200c.com/pay","phone":"13812345678"}`, "name"},
				{"ideographic full stop in a host", "PUT", "/api/v1/plans/p9", plan("merchant", "evil。com/pay"), "merchant"},
				{"full-width URL in a title", "PUT", "/api/v1/plans/p9", plan("title", "ｈｔｔｐｓ：／／evil．com／pay"), "title"},
				{"full-width www host in a merchant", "PUT", "/api/v1/plans/p9", plan("merchant", "ｗｗｗ．evil．com"), "merchant"},
				{"www host with ideographic dots in a name", "PUT", "/api/v1/customers/c9", `{"name":"www。evil。com","phone":"13812345678"}`, "name"},
				{"small full stop in a host", "PUT", "/api/v1/plans/p9", plan("title", "evil﹒com/pay"), "title"},
				{"one dot leader in a host", "PUT", "/api/v1/plans/p9", plan("title", "evil․com/pay"), "title"},
				{"grapheme joiner in a host", "PUT", "/api/v1/plans/p9", plan("merchant", "evil\u034f.com/pay"), "merchant"},
				{"variation selector in an app name's host", "POST", "/api/v1/channel-events", event + `{"app_name":"evil\ufe0f.com"}}`, "payload.app_name"},
				// The last audit's.
				{"a scheme with a full-width colon", "PUT", "/api/v1/plans/p9", plan("title", "https：//evil.com"), "title"},
				{"a full-width scheme", "PUT", "/api/v1/customers/c9", `{"name":"ｈｔｔｐｓ：／／evil．com","phone":"13812345678"}`, "name"},
				{"a punycode TLD with a path", "PUT", "/api/v1/plans/p9", plan("merchant", "evil.xn--fiqs8s/pay"), "merchant"},
				{"a country's TLD with a path", "PUT", "/api/v1/plans/p9", plan("title", "Mr.Li/Mrs.Li"), "title"},
			}
			before := b.snapshot(t)
			for _, tt := range tests {
				res := b.do(t, tt.method, tt.path, ingestToken, tt.body)
				code, msg := res.errorOf()
				if res.status != http.StatusUnprocessableEntity || code != "invalid" || !strings.HasPrefix(msg, tt.field+":") {
					t.Errorf("%s: %d %s, want 422 invalid naming %s", tt.name, res.status, res.raw, tt.field)
				}
			}
			assertUnchanged(t, before, b.snapshot(t))

			// An import line goes through the same checks.
			res := b.importReq(t, "", ndjson(
				`{"type":"customer","ref":"c8","name":"Eve\u202e","phone":"13812345670"}`,
				`{"type":"plan","ref":"p8",`+strings.TrimPrefix(plan("title", "pay at evil.io/x"), "{"),
			))
			errs := lineErrors(t, res)
			if res.status != http.StatusOK || len(errs) != 2 || !strings.HasPrefix(errs[0].Message, "name:") || !strings.HasPrefix(errs[1].Message, "title:") {
				t.Errorf("import: %d %s, want both lines refused naming name and title", res.status, res.raw)
			}
			assertUnchanged(t, before, b.snapshot(t))

			// Text that is only unusual still goes in: an official link, a
			// left-to-right mark, Arabic script, emoji, markup without a link.
			b.mustDo(t, http.StatusCreated, "PUT", "/api/v1/customers/c7", ingestToken,
				`{"name":"<b>Bob</b> \u200f😀 محمد","phone":"13812345671"}`)
			// A bare dotted name, initials, a version, a time, a Persian name
			// with its ZWNJ, an emoji family joined by ZWJ.
			b.mustDo(t, http.StatusCreated, "PUT", "/api/v1/customers/c6", ingestToken,
				`{"name":"Mr.Li J.R. Smith 2.0 10:30 می\u200cخواهم 👨\u200d👩\u200d👧 ❤\ufe0f","phone":"13812345672"}`)
			// Numbers with a unit and a dotted word before a '#': no
			// top-level domain ends them.
			b.mustDo(t, http.StatusCreated, "PUT", "/api/v1/plans/p6", ingestToken,
				strings.Replace(plan("title", "1.5匹/变频空调 1.5L/day 3.5mm/耳机 Dr.Who#1 S.H.Figuarts#12"),
					`"customer_ref":"c1"`, `"customer_ref":"c6"`, 1))
			b.mustDo(t, http.StatusCreated, "PUT", "/api/v1/plans/p7", ingestToken,
				strings.Replace(plan("title", "iPhone (pay.example.com/help)"), `"customer_ref":"c1"`, `"customer_ref":"c7"`, 1))
		})
	}
}

// TestForeignEntryURLIsNamed: a repayment_entry_moved url on an official
// host that carries a foreign URL inside it is refused naming the foreign
// URL, not the official host (which was right).
func TestForeignEntryURLIsNamed(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *api.Config) { c.AllowedDomains = []string{"example.com"} })
	b.seed(t)
	res := b.do(t, "POST", "/api/v1/channel-events", ingestToken,
		`{"ref":"e9","kind":"repayment_entry_moved","scope":"customer","customer_ref":"c1","occurred_at":"2025-03-10T01:00:00Z","payload":{"app_name":"Pay","url":"https://pay.example.com/?next=https://evil.io/x"}}`)
	_, msg := res.errorOf()
	if res.status != http.StatusUnprocessableEntity || !strings.Contains(msg, "evil.io") || strings.Contains(msg, "host pay.example.com") {
		t.Errorf("%d %s, want 422 naming https://evil.io/x", res.status, res.raw)
	}
}

// A JSON body declared as something else (a form, XML, multipart, plain
// text) is refused with 415 and changes nothing: it was read as JSON and
// stored. One that declares no type, or JSON with a charset, is read.
func TestJSONBodyDeclaredOtherwiseIs415(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	put := func(ref string, contentTypes ...string) response {
		req := httptest.NewRequest("PUT", "/api/v1/customers/"+ref, strings.NewReader(`{"phone":"13812345678"}`))
		req.Header.Set("Authorization", "Bearer "+ingestToken)
		for _, ct := range contentTypes {
			if ct != "" {
				req.Header.Add("Content-Type", ct)
			}
		}
		rec := httptest.NewRecorder()
		b.h.ServeHTTP(rec, req)
		res := response{status: rec.Code, header: rec.Header(), raw: rec.Body.String()}
		_ = json.Unmarshal(rec.Body.Bytes(), &res.body)
		return res
	}
	before := b.snapshot(t)
	for _, cts := range [][]string{{"application/x-www-form-urlencoded"}, {"text/plain"}, {"application/xml"},
		{"multipart/form-data; boundary=x"}, {"application/jsonx"}, {"garbage;;"}, {"application/json; charset=latin1"},
		{"application/json", "text/plain"}} {
		res := put("c9", cts...)
		if code, _ := res.errorOf(); res.status != http.StatusUnsupportedMediaType || code != "unsupported_media_type" {
			t.Errorf("Content-Type %q: %d %s, want 415 unsupported_media_type", cts, res.status, res.raw)
		}
	}
	assertUnchanged(t, before, b.snapshot(t))
	for i, ct := range []string{"", "application/json", "application/json; charset=UTF-8", "application/merge-patch+json"} {
		if res := put(fmt.Sprintf("ok%d", i), ct); res.status != http.StatusCreated {
			t.Errorf("Content-Type %q: %d %s, want 201", ct, res.status, res.raw)
		}
	}
}

// A client that stops sending a body halfway is answered 408 once
// BodyTimeout has passed, and nothing is stored: a JSON push, plain or
// gzip-compressed (its header cut off: it was a 400 naming the sockets),
// and a receipt. They were left unanswered until the server's read timeout
// closed the connection.
func TestStalledBodyIs408(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *api.Config) {
		c.BodyTimeout = 50 * time.Millisecond
		c.Receipts = &api.ReceiptConfig{WebhookSecret: gatewaySecret}
	})
	srv := httptest.NewServer(b.h)
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		name, method, path, encoding string
		start                        []byte
	}{
		{"a JSON push", "PUT", "/api/v1/customers/c9", "", []byte(`{"name":"Stalled","phone":"138`)},
		{"a gzip push", "PUT", "/api/v1/customers/c9", "gzip", []byte{0x1f, 0x8b, 0x08}},
		{"a receipt", "POST", "/hooks/sms/webhook", "", []byte(`[{"id":`)},
	} {
		body, feed := io.Pipe()
		go func() { _, _ = feed.Write(tc.start) }() // then nothing, never closed
		t.Cleanup(func() { feed.Close() })
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, body)
		req.Header.Set("Authorization", "Bearer "+ingestToken)
		req.Header.Set("Content-Type", "application/json")
		if tc.encoding != "" {
			req.Header.Set("Content-Encoding", tc.encoding)
		}
		res, err := (&http.Client{Timeout: 15 * time.Second}).Do(req)
		if err != nil {
			t.Fatalf("%s, stalled: %v, want it answered 408", tc.name, err)
		}
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(raw), `"code":"timeout"`) || strings.Contains(string(raw), "127.0.0.1") {
			t.Errorf("%s, stalled = %d %s, want 408 timeout naming no socket", tc.name, res.StatusCode, raw)
		}
	}
	if n := b.count(t, "customers"); n != 0 {
		t.Errorf("%d customers after stalled pushes, want none", n)
	}
}
