package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"duebell/api"
)

// asOfPlan is plan JSON for c1 with two installments of 100.00, the first
// said paid (the lender's copy before a chargeback) when paid1, with as_of
// when asOf is not empty.
func asOfPlan(title, asOf string, paid1 bool) string {
	paid := ""
	if paid1 {
		paid = `,"paid":10000`
	}
	s := `{"customer_ref":"c1","merchant":"Shop","title":"` + title + `","total":20000,"periods":2,"installments":[` +
		`{"seq":1,"due_date":"2025-04-15","amount":10000` + paid + `},{"seq":2,"due_date":"2025-05-15","amount":10000}]`
	if asOf != "" {
		s += `,"as_of":"` + asOf + `"`
	}
	return s + "}"
}

// The bug, over HTTP on both stores: a payment settles the bill, a
// chargeback reopens it, and then a push the lender built between the two
// arrives saying the bill is paid. With as_of it is a 409 stale naming the
// chargeback and its time, and nothing changes: the bill stays due.
func TestStalePlanPushIsRefused(t *testing.T) {
	t.Parallel()
	for _, store := range []string{"postgres", "sqlite"} {
		t.Run(store, func(t *testing.T) {
			t.Parallel()
			now := t0
			b := setupOn(t, store, func(c *api.Config) { c.Now = func() time.Time { return now } })
			b.mustDo(t, http.StatusCreated, "PUT", "/api/v1/customers/c1", ingestToken, customerJSON)
			p := b.mustDo(t, http.StatusCreated, "PUT", "/api/v1/plans/p1", ingestToken, asOfPlan("Phone", "2025-03-10T09:00:00+08:00", false))
			if p["as_of"] != "2025-03-10T01:00:00Z" {
				t.Errorf("as_of = %v, want the push's, in UTC", p["as_of"])
			}
			now = t0.Add(time.Minute)
			b.mustDo(t, http.StatusCreated, "POST", "/api/v1/plans/p1/installments/1/payments", ingestToken,
				`{"amount":10000,"ref":"pay-1"}`)
			now = t0.Add(2 * time.Minute)
			if r := b.mustDo(t, http.StatusCreated, "POST", "/api/v1/plans/p1/installments/1/payments", ingestToken,
				`{"amount":-10000,"ref":"cb-1","reason":"chargeback","paid_at":"2025-03-10T01:30:00Z"}`); r["reopened"] != true {
				t.Fatalf("chargeback = %v, want the bill reopened", r)
			}

			now = t0.Add(time.Hour)
			before := b.snapshot(t)
			res := b.do(t, "PUT", "/api/v1/plans/p1", ingestToken, asOfPlan("Phone (retry queue)", "2025-03-10T02:01:30Z", true))
			code, msg := res.errorOf()
			want := `as_of 2025-03-10T02:01:30Z is older than reversal "cb-1" on installment 1, recorded at 2025-03-10T02:02:00Z`
			if res.status != http.StatusConflict || code != "stale" || !strings.HasPrefix(msg, want) {
				t.Fatalf("stale push = %d %s, want 409 stale saying %q", res.status, res.raw, want)
			}
			for _, pii := range []string{"李雷", "13812345678", "Example.com", "example.com"} {
				if strings.Contains(strings.ToLower(msg), strings.ToLower(pii)) {
					t.Errorf("message %q carries %q", msg, pii)
				}
			}
			assertUnchanged(t, before, b.snapshot(t))
			got := b.mustDo(t, http.StatusOK, "GET", "/api/v1/plans/p1", viewerToken, "")
			if i1 := got["installments"].([]any)[0].(map[string]any); i1["status"] != "pending" || i1["paid"] != float64(0) ||
				got["as_of"] != "2025-03-10T01:00:00Z" {
				t.Errorf("plan after the stale push = %v, want installment 1 due and as_of kept", got)
			}

			// Read again after the chargeback: written, as_of moves on.
			p = b.mustDo(t, http.StatusOK, "PUT", "/api/v1/plans/p1", ingestToken, asOfPlan("Phone 2", "2025-03-10T02:59:00Z", false))
			if p["as_of"] != "2025-03-10T02:59:00Z" || p["title"] != "Phone 2" {
				t.Errorf("fresh push = %v", p)
			}
			// Older than that push: stale, naming it.
			before = b.snapshot(t)
			res = b.do(t, "PUT", "/api/v1/plans/p1", ingestToken, asOfPlan("Phone 3", "2025-03-10T02:30:00Z", false))
			code, msg = res.errorOf()
			if res.status != http.StatusConflict || code != "stale" ||
				!strings.Contains(msg, "older than the as_of of the last push written for the plan, 2025-03-10T02:59:00Z") {
				t.Errorf("push older than the last = %d %s", res.status, res.raw)
			}
			assertUnchanged(t, before, b.snapshot(t))
			// Without as_of: as before (the hazard README names), as_of kept.
			p = b.mustDo(t, http.StatusOK, "PUT", "/api/v1/plans/p1", ingestToken, asOfPlan("Phone 4", "", true))
			if i1 := p["installments"].([]any)[0].(map[string]any); i1["status"] != "paid" || p["as_of"] != "2025-03-10T02:59:00Z" {
				t.Errorf("push without as_of = %v, want it written as before, as_of kept", p)
			}
		})
	}
}

// A malformed, out-of-range or future as_of is a 422 naming the field,
// never a 500, and changes nothing; the edge of the allowed skew passes.
func TestPlanAsOfBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.seed(t)
	plan := func(asOf string) string { // planJSON("c1", 3) with as_of given as raw JSON
		return strings.TrimSuffix(planJSON("c1", 3), "}") + `,"as_of":` + asOf + `}`
	}
	for _, tc := range []struct {
		name, asOf string
		status     int
		msg        string
	}{
		{"a word", `"yesterday"`, 422, "as_of: want an RFC 3339 instant"},
		{"a date", `"2025-03-10"`, 422, "as_of: want an RFC 3339 instant"},
		{"no offset", `"2025-03-10T01:00:00"`, 422, "as_of: want an RFC 3339 instant"},
		{"no such month", `"2025-13-10T01:00:00Z"`, 422, "as_of: want an RFC 3339 instant"},
		{"hour 24", `"2025-03-10T24:00:00Z"`, 422, "as_of: want an RFC 3339 instant"},
		{"empty-ish", `" "`, 422, "as_of: want an RFC 3339 instant"},
		{"a number", `1741568400`, 422, "as_of"},
		{"an object", `{}`, 422, "as_of"},
		{"before 2000", `"1999-12-31T23:59:59Z"`, 422, "as_of: before 2000-01-01"},
		{"year 1", `"0001-01-01T00:00:00Z"`, 422, "as_of: before 2000-01-01"},
		{"year 9999", `"9999-12-31T23:59:59Z"`, 422, "as_of: 9999-12-31T23:59:59Z is more than 5m0s after this server's clock"},
		{"6 minutes ahead", `"2025-03-10T02:06:00Z"`, 422, "as_of: 2025-03-10T02:06:00Z is more than 5m0s after this server's clock (2025-03-10T02:00:00Z)"},
		{"a microsecond past the skew", `"2025-03-10T10:05:00.000001+08:00"`, 422, "more than 5m0s after"},
	} {
		before := b.snapshot(t)
		res := b.do(t, "PUT", "/api/v1/plans/p1", ingestToken, plan(tc.asOf))
		code, msg := res.errorOf()
		if res.status != tc.status || code != "invalid" || !strings.Contains(msg, tc.msg) {
			t.Errorf("%s: %d %s, want %d invalid saying %q", tc.name, res.status, res.raw, tc.status, tc.msg)
		}
		assertUnchanged(t, before, b.snapshot(t))
	}
	// Nanoseconds are kept to the microsecond, as stored: a retry with
	// the same instant is not stale.
	p := b.mustDo(t, http.StatusOK, "PUT", "/api/v1/plans/p1", ingestToken, plan(`"2025-03-10T02:01:00.123456789Z"`))
	if p["as_of"] != "2025-03-10T02:01:00.123456Z" {
		t.Errorf("as_of with nanoseconds = %v", p["as_of"])
	}
	b.mustDo(t, http.StatusOK, "PUT", "/api/v1/plans/p1", ingestToken, plan(`"2025-03-10T10:01:00.123456+08:00"`))
	// Exactly the skew ahead (a lender clock running 5 minutes fast) is
	// taken; a null as_of is no as_of.
	p = b.mustDo(t, http.StatusOK, "PUT", "/api/v1/plans/p1", ingestToken, plan(`"2025-03-10T02:05:00Z"`))
	if p["as_of"] != "2025-03-10T02:05:00Z" {
		t.Errorf("as_of at the skew = %v", p["as_of"])
	}
	if p := b.mustDo(t, http.StatusOK, "PUT", "/api/v1/plans/p1", ingestToken, plan(`null`)); p["as_of"] != "2025-03-10T02:05:00Z" {
		t.Errorf("as_of after a null one = %v, want the stored one kept", p["as_of"])
	}
}

// Import plan lines carry as_of too: a stale line is refused (stale,
// naming what it lost to), a bad as_of is refused (invalid, naming the
// field), and the rest of the file is applied. A payment line earlier in
// the same file is recorded at the import, after the file was read: a
// later plan line of its plan with an older as_of is stale (README: put
// plan lines before payment lines).
func TestImportPlanLinesAsOf(t *testing.T) {
	t.Parallel()
	now := t0
	b := setup(t, func(c *api.Config) { c.Now = func() time.Time { return now } })
	line := func(ref, asOf string) string {
		return `{"type":"plan","ref":"` + ref + `",` + strings.TrimPrefix(asOfPlan("Phone", asOf, false), "{")
	}
	res := b.importReq(t, "", ndjson(importCustomer("c1"), line("p1", "2025-03-10T01:00:00Z"), line("p2", "2025-03-10T01:00:00Z")))
	if c, _, _, r := counts(t, res); c != 3 || r != 0 {
		t.Fatalf("first import: %s", res.raw)
	}
	now = t0.Add(time.Minute)
	b.mustDo(t, http.StatusCreated, "POST", "/api/v1/plans/p1/installments/1/payments", ingestToken, `{"amount":10000,"ref":"pay-1"}`)
	b.mustDo(t, http.StatusCreated, "POST", "/api/v1/plans/p1/installments/1/payments", ingestToken,
		`{"amount":-10000,"ref":"cb-1","reason":"chargeback"}`)

	now = t0.Add(time.Hour)
	stale := `{"type":"plan","ref":"p1",` + strings.TrimPrefix(asOfPlan("Phone", "2025-03-10T02:00:30Z", true), "{")
	res = b.importReq(t, "", ndjson(
		stale,
		strings.Replace(line("p2", "2025-03-10T02:59:00Z"), `"title":"Phone"`, `"title":"Phone 2"`, 1),
		line("p3", "yesterday"),
		line("p4", "2025-03-10T03:06:00Z"),
		`{"type":"payment","plan_ref":"p2","seq":2,"amount":100,"ref":"pay-2"}`,
		strings.Replace(line("p2", "2025-03-10T02:59:30Z"), `"title":"Phone"`, `"title":"after its payment"`, 1),
	))
	if c, u, _, r := counts(t, res); res.status != http.StatusOK || c != 1 || u != 1 || r != 4 {
		t.Fatalf("import = %d %s, want the payment created, p2 updated, 4 lines refused", res.status, res.raw)
	}
	want := []lineErr{
		{1, "plan", "p1", "stale", `as_of 2025-03-10T02:00:30Z is older than reversal "cb-1" on installment 1, recorded at 2025-03-10T02:01:00Z; read the plan again and push it with a new as_of`},
		{3, "plan", "p3", "invalid", "as_of: want an RFC 3339 instant such as 2025-03-10T08:00:00+08:00: when the data in this push was read"},
		{4, "plan", "p4", "invalid", "as_of: 2025-03-10T03:06:00Z is more than 5m0s after this server's clock (2025-03-10T03:00:00Z); want when the data in this push was read (check the sender's clock)"},
		{6, "plan", "p2", "stale", `as_of 2025-03-10T02:59:30Z is older than payment "pay-2" on installment 2, recorded at 2025-03-10T03:00:00Z; read the plan again and push it with a new as_of`},
	}
	if got := lineErrors(t, res); len(got) != len(want) {
		t.Errorf("errors = %+v, want %+v", got, want)
	} else {
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("error %d = %+v\nwant %+v", i, got[i], want[i])
			}
		}
	}
	p1 := b.mustDo(t, http.StatusOK, "GET", "/api/v1/plans/p1", viewerToken, "")
	if i1 := p1["installments"].([]any)[0].(map[string]any); i1["status"] != "pending" || p1["as_of"] != "2025-03-10T01:00:00Z" {
		t.Errorf("p1 after its stale line = %v, want installment 1 due and as_of kept", p1)
	}
	if p2 := b.mustDo(t, http.StatusOK, "GET", "/api/v1/plans/p2", viewerToken, ""); p2["as_of"] != "2025-03-10T02:59:00Z" ||
		p2["title"] != "Phone 2" {
		t.Errorf("p2 = %v, want the line before its payment written (as_of 02:59)", p2)
	}
}
