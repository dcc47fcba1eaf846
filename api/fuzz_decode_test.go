package api

import (
	"log/slog"
	"net/http"
	"net/url"
	"testing"
	"time"

	"duebell/internal/input"
	"duebell/repo"
)

var fuzzNow = time.Date(2025, 3, 10, 2, 0, 0, 0, time.UTC)

func fuzzServer() *server {
	return &server{log: slog.New(slog.DiscardHandler), cfg: Config{Now: func() time.Time { return fuzzNow },
		DefaultTimezone: "Asia/Shanghai", DefaultLocale: "zh-CN", MaxBodyBytes: DefaultMaxBodyBytes,
		AllowedDomains: []string{"example.com"}}}
}

// want4xx fails unless err is one the API answers with a 4xx.
func want4xx(t *testing.T, what string, err error) {
	t.Helper()
	if ae := refusal(err); ae == nil || ae.Status < 400 || ae.Status > 499 {
		t.Fatalf("%s: error %v (%T) would not be a 4xx", what, err, err)
	}
}

// FuzzDecodeRecords runs the one JSON decoder and the record validators
// (the ones the HTTP handlers and the bulk import share) on fuzzed bodies.
// A refusal must be a 4xx; a record accepted must hold only storable text,
// money within input.MaxAmount, and dates and instants within range.
func FuzzDecodeRecords(f *testing.F) {
	for _, s := range []struct {
		kind uint8
		body string
	}{
		{0, `{"name":"李雷","phone":"+86 138-1234-5678","email":"li@example.com","timezone":"Asia/Shanghai","sms_opt_out":true}`},
		{0, `{"name":"a\u0000","phone":"13812345678","timezone":"localtime"}`},
		{1, `{"customer_ref":"c1","total":20000,"periods":2,"installments":[{"seq":1,"due_date":"2025-04-15","amount":10000,` +
			`"paid":10000,"status":"paid","paid_at":"2025-03-10T01:00:00Z"},{"seq":2,"due_date":"2025-05-15","amount":10000}]}`},
		{1, `{"customer_ref":"c1","total":100,"periods":1,"installments":[{"seq":1,"due_date":"0000-01-01","amount":9223372036854775807}]}`},
		{2, `{"ref":"e1","kind":"autodebit_failed","scope":"plan","plan_ref":"p1","occurred_at":"2025-03-10T01:00:00Z","payload":{"seq":1,"reason":"x"}}`},
		{2, `{"ref":"e1","kind":"repayment_entry_moved","scope":"all","occurred_at":"0001-01-01T00:00:00Z","payload":{"app_name":"\u0000","url":"https://pay.example.com/x"}}`},
		{3, `{"amount":4611686018427387904,"paid_at":"1970-01-01T00:00:00Z","ref":"pay-1"}`},
		{4, `{"filter":{"status":"failed","kind":"\u0000","since":"2025-03-01T00:00:00Z","until":"2025-03-02T00:00:00Z"},"reason":"x"}`},
		{4, "{\"reason\":\"\xff\"}"},
	} {
		f.Add(s.kind, []byte(s.body))
	}
	s := fuzzServer()
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		switch kind % 5 {
		case 0:
			var b customerBody
			c, err := decodeThen(s, data, &b, func() (repo.Customer, error) { return s.customerFrom("c1", b) })
			if err != nil {
				want4xx(t, "customer", err)
				return
			}
			mustStore(t, c)
			if _, err := input.Zone(c.Timezone); err != nil {
				t.Fatalf("customer accepted with time zone %q", c.Timezone)
			}
		case 1:
			var b planBody
			p, err := decodeThen(s, data, &b, func() (repo.Plan, error) { return s.planFrom("p1", b) })
			if err != nil {
				want4xx(t, "plan", err)
				return
			}
			mustStore(t, p)
			if input.Amount(p.Total) != nil {
				t.Fatalf("plan accepted with total %d", p.Total)
			}
			for _, it := range p.Installments {
				if input.Amount(it.Amount) != nil || input.Amount(it.Paid) != nil || input.Date(it.DueDate.Time) != nil ||
					(it.PaidAt != nil && input.Past(*it.PaidAt, fuzzNow) != nil) {
					t.Fatalf("installment accepted out of range: %+v", it)
				}
			}
		case 2:
			var b eventBody
			ev, err := decodeThen(s, data, &b, func() (repo.EventInput, error) { return s.eventFrom(b) })
			if err != nil {
				want4xx(t, "event", err)
				return
			}
			mustStore(t, ev)
			if input.Past(ev.OccurredAt, fuzzNow) != nil || ev.InstallmentSeq < 0 || ev.InstallmentSeq > maxPeriods {
				t.Fatalf("event accepted out of range: %+v", ev)
			}
		case 3:
			var b paymentBody
			if err := s.decodeJSON(data, &b); err != nil {
				want4xx(t, "payment", err)
				return
			}
			mustStore(t, b)
		case 4:
			var b bulkBody
			if err := s.decodeJSON(data, &b); err != nil {
				want4xx(t, "bulk resend", err)
				return
			}
			mustStore(t, b)
		}
	})
}

func decodeThen[T any](s *server, data []byte, dst any, validate func() (T, error)) (T, error) {
	if err := s.decodeJSON(data, dst); err != nil {
		var zero T
		return zero, err
	}
	return validate()
}

// mustStore fails when v holds text PostgreSQL would refuse.
func mustStore(t *testing.T, v any) {
	t.Helper()
	if err := input.Walk(v); err != nil {
		t.Fatalf("accepted a record PostgreSQL cannot store: %v", err)
	}
}

// FuzzQueryFilters runs the query checks and the delivery-log search's
// parser on fuzzed query strings: a refusal must be a 4xx, and a search
// accepted must hold only storable text, times within range and a cursor
// that fits a bigint.
func FuzzQueryFilters(f *testing.F) {
	for _, q := range []string{
		"customer_ref=c1&phone=13812345678&email=a@example.com&kind=due_soon&channel=sms&status=sent&since=2025-03-01T00:00:00Z&until=2025-03-02T00:00:00Z&limit=10&cursor=42",
		"email=%00", "plan_ref=%ED%A0%80", "customer_ref=%FF", "cursor=%2B86138123456789", "cursor=99999999999999999999",
		"since=0000-01-01T00:00:00Z", "until=9999-12-31T23:59:59Z", "limit=-1", "%00=1", "phone=%2B86%00", "a=%zz",
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		r := &http.Request{URL: &url.URL{RawQuery: raw}}
		if err := checkQuery(r); err != nil {
			want4xx(t, "query", err)
			return
		}
		nf, limit, cursor, err := noticeQuery(r.URL.Query())
		if err != nil {
			want4xx(t, "search", err)
			return
		}
		mustStore(t, nf)
		for _, tm := range []time.Time{nf.Since, nf.Until} {
			if !tm.IsZero() && input.Instant(tm) != nil {
				t.Fatalf("search accepted time %v", tm)
			}
		}
		if _, err := repo.ParseCursor(cursor); err != nil || limit < 1 {
			t.Fatalf("search accepted cursor %q limit %d", cursor, limit)
		}
	})
}
