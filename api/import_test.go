package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"duebell/api"
)

// importReq posts body to /api/v1/import with query q as NDJSON.
func (b bundle) importReq(t *testing.T, q, body string) response {
	t.Helper()
	req := httptest.NewRequest("POST", "/api/v1/import"+q, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+ingestToken)
	req.Header.Set("Content-Type", "application/x-ndjson")
	rec := newRecorder(b, req)
	res := response{status: rec.Code, header: rec.Header(), raw: rec.Body.String()}
	if err := json.Unmarshal(rec.Body.Bytes(), &res.body); err != nil {
		t.Fatalf("import: body is not JSON: %q", res.raw)
	}
	return res
}

func ndjson(lines ...string) string { return strings.Join(lines, "\n") + "\n" }

func importCustomer(ref string) string {
	return `{"type":"customer","ref":"` + ref + `","name":"李雷","phone":"+8613812345678","email":"` + ref + `@example.com"}`
}

func importPlan(ref, customer string) string {
	return `{"type":"plan","ref":"` + ref + `",` + strings.TrimPrefix(planJSON(customer, 3), "{")
}

func counts(t *testing.T, res response) (created, updated, unchanged, refused int) {
	t.Helper()
	n := func(k string) int { f, _ := res.body[k].(float64); return int(f) }
	return n("created"), n("updated"), n("unchanged"), n("refused")
}

type lineErr struct {
	Line          int
	Type, Ref     string
	Code, Message string
}

func lineErrors(t *testing.T, res response) []lineErr {
	t.Helper()
	var out []lineErr
	raw, _ := json.Marshal(res.body["errors"])
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("errors: %v in %s", err, res.raw)
	}
	return out
}

func TestImportAppliesValidLinesAndListsRefusedOnes(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	body := ndjson(
		importCustomer("c1"),
		`{"type":"customer","ref":"c2","phone":"12345"}`,
		`{"type":"plan","ref":"p1",`+strings.TrimPrefix(planJSON("c1", 3), "{"),
		importPlan("p2", "nobody"),
		`not json`,
		``,
		`{"type":"payment","plan_ref":"p1","seq":1,"amount":10000,"ref":"pay-1","paid_at":"2025-03-10T01:00:00Z"}`,
		`{"type":"event","ref":"ev-1","kind":"card_unbound","scope":"customer","customer_ref":"c1","occurred_at":"2025-03-09T00:00:00Z","payload":{"card_last4":"1234"}}`,
		`{"type":"invoice","ref":"x"}`,
		`{"type":"customer","ref":"c3","email":"c3@example.com","colour":"red"}`,
	)
	res := b.importReq(t, "", body)
	if res.status != http.StatusOK {
		t.Fatalf("status %d: %s", res.status, res.raw)
	}
	if c, u, un, r := counts(t, res); c != 4 || u != 0 || un != 0 || r != 5 {
		t.Errorf("created/updated/unchanged/refused = %d/%d/%d/%d, want 4/0/0/5: %s", c, u, un, r, res.raw)
	}
	want := []lineErr{
		{Line: 2, Type: "customer", Ref: "c2", Code: "invalid"},
		{Line: 4, Type: "plan", Ref: "p2", Code: "not_found", Message: `customer "nobody" not found`},
		{Line: 5, Code: "bad_json"},
		{Line: 9, Type: "invoice", Ref: "x", Code: "invalid", Message: "type: want customer, plan, payment or event"},
		{Line: 10, Type: "customer", Ref: "c3", Code: "unknown_field"},
	}
	got := lineErrors(t, res)
	if len(got) != len(want) {
		t.Fatalf("errors = %+v, want %d", got, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Line != w.Line || g.Type != w.Type || g.Ref != w.Ref || g.Code != w.Code || (w.Message != "" && g.Message != w.Message) {
			t.Errorf("error %d = %+v, want %+v", i, g, w)
		}
	}
	if !strings.HasPrefix(got[0].Message, "phone:") {
		t.Errorf("customer error message %q, want the single endpoint's phone message", got[0].Message)
	}
	// What was accepted is stored, as the single-record endpoints would.
	plan := b.mustDo(t, http.StatusOK, "GET", "/api/v1/plans/p1", viewerToken, "")
	inst := plan["installments"].([]any)[0].(map[string]any)
	if inst["status"] != "paid" || inst["paid"] != 10000.0 {
		t.Errorf("installment 1 after the imported payment: %v", inst)
	}
	if n := b.count(t, "notifications"); n != 2 {
		t.Errorf("payment_received notices = %d, want 2 (sms and email)", n)
	}
	b.mustDo(t, http.StatusOK, "GET", "/api/v1/channel-events/ev-1", viewerToken, "")
	if res.body["committed"] != true {
		t.Errorf("committed = %v", res.body["committed"])
	}
}

func TestImportSameFileTwiceChangesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	body := ndjson(importCustomer("c1"), importCustomer("c2"), importPlan("p1", "c1"), importPlan("p2", "c2"),
		`{"type":"customer","ref":"c3","email":"c3@example.com","sms_opt_out":true}`,
		`{"type":"payment","plan_ref":"p1","seq":1,"amount":4000,"ref":"pay-1"}`,
		`{"type":"event","ref":"ev-1","kind":"plan_cancelled","scope":"plan","plan_ref":"p2","occurred_at":"2025-03-09T00:00:00Z"}`)
	first := b.importReq(t, "", body)
	if c, _, _, r := counts(t, first); c != 7 || r != 0 {
		t.Fatalf("first import: %s", first.raw)
	}
	before := b.snapshot(t)
	second := b.importReq(t, "", body)
	if c, u, un, r := counts(t, second); c != 0 || u != 0 || un != 7 || r != 0 {
		t.Errorf("second import created/updated/unchanged/refused = %d/%d/%d/%d, want 0/0/7/0: %s", c, u, un, r, second.raw)
	}
	if after := b.snapshot(t); !reflect.DeepEqual(before, after) {
		t.Errorf("second import changed rows:\nbefore %v\nafter  %v", before, after)
	}
	// A changed line is an update, and only it.
	third := b.importReq(t, "", ndjson(strings.Replace(importCustomer("c1"), "李雷", "韩梅梅", 1), importCustomer("c2")))
	if c, u, un, _ := counts(t, third); c != 0 || u != 1 || un != 1 {
		t.Errorf("third import: %s", third.raw)
	}
}

func TestImportAtomicAppliesNothingWhenALineIsRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	before := b.snapshot(t)
	body := ndjson(importCustomer("c1"), importPlan("p1", "c1"), importPlan("p2", "missing"))
	res := b.importReq(t, "?atomic=true", body)
	if res.status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d, want 422: %s", res.status, res.raw)
	}
	if code, _ := res.errorOf(); code != "invalid" || res.body["committed"] != false {
		t.Errorf("answer %s", res.raw)
	}
	if got := lineErrors(t, res); len(got) != 1 || got[0].Line != 3 || got[0].Code != "not_found" {
		t.Errorf("errors %+v", got)
	}
	if after := b.snapshot(t); !reflect.DeepEqual(before, after) {
		t.Errorf("atomic import with a refused line wrote rows: %v", after)
	}
	ok := b.importReq(t, "?atomic=true", ndjson(importCustomer("c1"), importPlan("p1", "c1")))
	if ok.status != http.StatusOK || ok.body["committed"] != true || b.count(t, "installments") != 3 {
		t.Errorf("clean atomic import: %d %s", ok.status, ok.raw)
	}
}

// A line whose strings are not valid UTF-8 (a raw byte, an unpaired
// surrogate escape) is refused naming the field, never stored with U+FFFD.
func TestImportRefusesInvalidUTF8(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	before := b.snapshot(t)
	body := ndjson(`{"type":"customer","ref":"c1","name":"ok","email":"a`+"\xff"+`@example.com"}`,
		`{"type":"customer","ref":"c2","name":"a\ud800","phone":"+8613812345678"}`)
	res := b.importReq(t, "?atomic=true", body)
	got := lineErrors(t, res)
	if res.status != http.StatusUnprocessableEntity || len(got) != 2 || !strings.Contains(got[0].Message, "email") ||
		!strings.Contains(got[1].Message, "name") {
		t.Errorf("status %d errors %+v, want both lines refused naming email and name", res.status, got)
	}
	if after := b.snapshot(t); !reflect.DeepEqual(before, after) {
		t.Errorf("refused lines wrote rows: %v", after)
	}
}

// Imports racing to create one new plan answer 200 or 409 (import again),
// never 500.
func TestImportRaceForANewPlanIsAConflict(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.importReq(t, "", ndjson(importCustomer("c1")))
	var wg sync.WaitGroup
	statuses := make([]int, 8)
	for i := range statuses {
		wg.Go(func() { statuses[i] = b.importReq(t, "", ndjson(importPlan("p1", "c1"))).status })
	}
	wg.Wait()
	for _, st := range statuses {
		if st != http.StatusOK && st != http.StatusConflict {
			t.Errorf("statuses %v, want each 200 or 409", statuses)
			break
		}
	}
	if n := b.count(t, "installments"); n != 3 {
		t.Errorf("%d installments, want the plan's 3 once", n)
	}
}

// A wrong type in an import line names the field as the single endpoint
// does, not by the Go shape it is decoded into.
func TestImportTypeErrorNamesTheField(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	res := b.importReq(t, "", ndjson(`{"type":"payment","plan_ref":"p1","seq":1,"amount":"5"}`))
	if got := lineErrors(t, res); len(got) != 1 || !strings.HasPrefix(got[0].Message, "amount: ") {
		t.Errorf("errors %+v, want one naming amount", got)
	}
}

func TestImportDryRunWritesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	res := b.importReq(t, "?dry_run=true", ndjson(importCustomer("c1"), importPlan("p1", "c1")))
	if c, _, _, _ := counts(t, res); res.status != http.StatusOK || c != 2 || res.body["committed"] != false {
		t.Errorf("dry run: %d %s", res.status, res.raw)
	}
	if n := b.count(t, "customers"); n != 0 {
		t.Errorf("dry run stored %d customers", n)
	}
}

func TestImportStalePlanNeverReopensRecordedPayment(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.seed(t)
	b.mustDo(t, http.StatusCreated, "POST", "/api/v1/plans/p1/installments/1/payments", ingestToken, `{"amount":10000,"ref":"pay-1"}`)
	// The nightly file was exported before the payment: no paid at all.
	stale := importPlan("p1", "c1")
	res := b.importReq(t, "", ndjson(stale))
	if _, _, _, r := counts(t, res); r != 0 {
		t.Fatalf("plan without paid refused: %s", res.raw)
	}
	inst := b.mustDo(t, http.StatusOK, "GET", "/api/v1/plans/p1", viewerToken, "")["installments"].([]any)[0].(map[string]any)
	if inst["status"] != "paid" || inst["paid"] != 10000.0 {
		t.Errorf("installment 1 after a plan push without paid: %v, want still paid", inst)
	}
	// A plan that says paid 0 contradicts the recorded payment: refused.
	lower := strings.Replace(stale, `"amount":10000}`, `"amount":10000,"paid":0}`, 1)
	res = b.importReq(t, "", ndjson(importCustomer("c9"), lower))
	got := lineErrors(t, res)
	if len(got) != 1 || got[0].Line != 2 || got[0].Code != "conflict" || !strings.Contains(got[0].Message, "installment 1") {
		t.Fatalf("errors %+v, want line 2 conflict naming installment 1 (%s)", got, res.raw)
	}
	inst = b.mustDo(t, http.StatusOK, "GET", "/api/v1/plans/p1", viewerToken, "")["installments"].([]any)[0].(map[string]any)
	if inst["status"] != "paid" || inst["paid"] != 10000.0 {
		t.Errorf("installment 1 after a refused stale plan: %v", inst)
	}
	if b.count(t, "customers") != 3 {
		t.Errorf("the valid line of the same file was not applied")
	}
}

func TestImportPlanRulesOfTheSingleEndpoint(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.seed(t)
	twoPeriods := importPlan("p1", "c1")
	twoPeriods = strings.Replace(twoPeriods, `"periods":3`, `"periods":2`, 1)
	twoPeriods = strings.Replace(twoPeriods, `,{"seq":3,"due_date":"2025-06-15","amount":10000}`, ``, 1)
	res := b.importReq(t, "", ndjson(importPlan("p1", "c2"), twoPeriods))
	got := lineErrors(t, res)
	if len(got) != 2 || got[0].Code != "conflict" || !strings.Contains(got[0].Message, "another customer") ||
		got[1].Code != "conflict" || !strings.Contains(got[1].Message, "installment 3 is missing") {
		t.Errorf("errors %+v (%s)", got, res.raw)
	}
}

// Customers a plan names may come earlier in the file, in the same chunk or
// an earlier one; a plan before its customer is refused.
func TestImportOrderAcrossChunks(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	im, err := api.NewImporter(api.Config{Repo: b.r, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for i := range 5 {
		lines = append(lines, importCustomer(fmt.Sprintf("c%d", i)))
	}
	for i := range 5 {
		lines = append(lines, importPlan(fmt.Sprintf("p%d", i), fmt.Sprintf("c%d", i)))
	}
	lines = append(lines, importPlan("late", "c-late"), importCustomer("c-late"),
		// updating a customer after its plan in the same chunk, then the plan again
		importCustomer("c0"), importPlan("p0", "c0"))
	var progress []int
	rep, err := im.Import(context.Background(), strings.NewReader(ndjson(lines...)),
		api.ImportOptions{Chunk: 3, Progress: func(p api.ImportProgress) { progress = append(progress, p.Lines) }})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Created != 11 || rep.Unchanged != 2 || rep.Refused != 1 || rep.Errors[0].Line != 11 || rep.Errors[0].Code != "not_found" {
		t.Errorf("report %+v", rep)
	}
	if len(progress) < 4 || progress[len(progress)-1] != 14 {
		t.Errorf("progress %v, want a call per chunk ending at 14 lines", progress)
	}
}

// Chunks are applied two at a time, yet the file's order holds: a chunk
// that touches what an earlier chunk still being applied touches waits for
// it. With one record per chunk, a customer renamed over and over ends with
// its last name, every plan finds the customer one line above it, and a
// payment finds the plan one line above it.
func TestImportConcurrentChunksKeepFileOrder(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	im, err := api.NewImporter(api.Config{Repo: b.r, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for i := range 40 {
		c, p := fmt.Sprintf("c%d", i), fmt.Sprintf("p%d", i)
		lines = append(lines, importCustomer(c), importPlan(p, c),
			`{"type":"payment","plan_ref":"`+p+`","seq":1,"amount":10000,"ref":"pay-`+p+`"}`,
			strings.Replace(importCustomer("shared"), "李雷", fmt.Sprintf("name %d", i), 1))
	}
	rep, err := im.Import(context.Background(), strings.NewReader(ndjson(lines...)),
		api.ImportOptions{Chunk: 1, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Refused != 0 || rep.Created != 40*3+1 || rep.Updated != 39 {
		t.Errorf("report %+v, want 121 created, 39 updated, none refused", rep.ImportCounts)
		if len(rep.Errors) > 0 {
			t.Errorf("first refused line: %+v", rep.Errors[0])
		}
	}
	var name string
	if err := b.r.DB().GetContext(context.Background(), &name, `SELECT name FROM customers WHERE ref = 'shared'`); err != nil {
		t.Fatal(err)
	}
	if name != "name 39" {
		t.Errorf("shared customer's name %q, want the last line's %q", name, "name 39")
	}
	if n := b.count(t, "payments"); n != 40 {
		t.Errorf("%d payments stored, want 40", n)
	}
}

func TestImportLimits(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *api.Config) { c.ImportMaxBytes = 2000 })
	big := strings.Repeat(importCustomer("c1")+"\n", 40)
	res := b.importReq(t, "", big)
	if code, msg := res.errorOf(); res.status != http.StatusRequestEntityTooLarge || code != "too_large" || !strings.Contains(msg, "2000") {
		t.Errorf("over the import limit: %d %s", res.status, res.raw)
	}
	// Without a Content-Length the limit holds while streaming.
	req := httptest.NewRequest("POST", "/api/v1/import", io.MultiReader(strings.NewReader(big)))
	req.ContentLength = -1
	req.Header.Set("Authorization", "Bearer "+ingestToken)
	req.Header.Set("Content-Type", "application/x-ndjson")
	if rec := newRecorder(b, req); rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("streamed over the limit: %d %s", rec.Code, rec.Body)
	}
	// A line over the per-line cap (max_body_bytes) is refused; the rest goes in.
	b2 := setup(t, func(c *api.Config) { c.MaxBodyBytes = 300 })
	long := `{"type":"customer","ref":"c1","name":"` + strings.Repeat("x", 400) + `","email":"a@example.com"}`
	res = b2.importReq(t, "", ndjson(long, importCustomer("c2")))
	if got := lineErrors(t, res); len(got) != 1 || got[0].Line != 1 || got[0].Code != "too_large" || b2.count(t, "customers") != 1 {
		t.Errorf("long line: %s", res.raw)
	}
	// Wrong media type and wrong role.
	before415 := b.count(t, "customers")
	req = httptest.NewRequest("POST", "/api/v1/import", strings.NewReader(importCustomer("c1")))
	req.Header.Set("Authorization", "Bearer "+ingestToken)
	req.Header.Set("Content-Type", "application/json")
	if rec := newRecorder(b, req); rec.Code != http.StatusUnsupportedMediaType {
		t.Errorf("application/json: %d", rec.Code)
	}
	// A body declared in another charset, or two types: its ASCII lines were
	// imported and the rest refused as invalid UTF-8.
	for _, cts := range [][]string{{"application/x-ndjson; charset=iso-8859-1"}, {"application/x-ndjson", "text/csv"}} {
		req := httptest.NewRequest("POST", "/api/v1/import", strings.NewReader(importCustomer("c-charset")))
		req.Header.Set("Authorization", "Bearer "+ingestToken)
		req.Header["Content-Type"] = cts
		if rec := newRecorder(b, req); rec.Code != http.StatusUnsupportedMediaType {
			t.Errorf("Content-Type %q: %d", cts, rec.Code)
		}
	}
	if got := b.count(t, "customers"); got != before415 {
		t.Errorf("refused imports stored %d customers", got-before415)
	}
	req.Header.Set("Authorization", "Bearer "+viewerToken)
	req.Header.Set("Content-Type", "application/x-ndjson")
	if rec := newRecorder(b, req); rec.Code != http.StatusForbidden {
		t.Errorf("viewer: %d", rec.Code)
	}
}

// Payments and events keep the single endpoints' idempotency rules: the
// same ref with another amount or body is a conflict, and a payment needs
// its ref in a file (a re-run must not pay twice).
func TestImportPaymentAndEventConflicts(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.seed(t)
	ev := `{"type":"event","ref":"ev-1","kind":"card_bound","scope":"plan","plan_ref":"p1","occurred_at":"2025-03-09T00:00:00Z","payload":{"card_last4":"1234"}}`
	first := b.importReq(t, "", ndjson(
		`{"type":"payment","plan_ref":"p1","seq":1,"amount":3000,"ref":"pay-1"}`,
		ev))
	if c, _, _, r := counts(t, first); c != 2 || r != 0 {
		t.Fatalf("first: %s", first.raw)
	}
	res := b.importReq(t, "", ndjson(
		`{"type":"payment","plan_ref":"p1","seq":1,"amount":5000,"ref":"pay-1"}`,
		strings.Replace(ev, "1234", "9999", 1),
		`{"type":"payment","plan_ref":"p1","seq":2,"amount":5000}`,
		`{"type":"payment","plan_ref":"p1","seq":9,"amount":5000,"ref":"pay-9"}`,
		`{"type":"event","ref":"ev-2","kind":"autodebit_failed","scope":"plan","plan_ref":"p1","occurred_at":"2025-03-09T00:00:00Z","payload":{"seq":7}}`,
		`{"type":"customer","type":"plan","ref":"x"}`,
	))
	want := []struct {
		code, msg string
	}{
		{"conflict", `payment "pay-1" was already recorded with another amount`},
		{"conflict", `event "ev-1" was already recorded with another body`},
		{"invalid", "ref: is required in an import"},
		{"not_found", `plan "p1" installment 9 not found`},
		{"not_found", `plan "p1" installment 7 not found`},
		{"bad_json", `key "type" appears twice`},
	}
	got := lineErrors(t, res)
	if len(got) != len(want) {
		t.Fatalf("errors %+v (%s)", got, res.raw)
	}
	for i, w := range want {
		if got[i].Line != i+1 || got[i].Code != w.code || !strings.HasPrefix(got[i].Message, w.msg) {
			t.Errorf("line %d: %+v, want %s %q", i+1, got[i], w.code, w.msg)
		}
	}
	if n := b.count(t, "payments"); n != 1 {
		t.Errorf("%d payments stored, want the first one only", n)
	}
}

// An export that starts with a UTF-8 byte order mark (spreadsheet tools on
// Windows write one) imports as without it: the mark is not part of the
// first record. One anywhere else is still refused.
func TestImportSkipsALeadingByteOrderMark(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	res := b.importReq(t, "", "\uFEFF"+ndjson(importCustomer("c1"), "\uFEFF"+importCustomer("c2")))
	got := lineErrors(t, res)
	if c, _, _, r := counts(t, res); c != 1 || r != 1 || len(got) != 1 || got[0].Line != 2 || got[0].Code != "bad_json" {
		t.Errorf("import with byte order marks: %s; want line 1 created and line 2 refused as bad JSON", res.raw)
	}
}

// A client that stops sending its import (a stalled sync, a slow-loris) is
// answered 408 once no bytes came for ImportIdleTimeout, and the import's
// transaction ends with it: a dry run or an atomic import held the rows of
// the chunks it read, and writers to them waited until the import's hour
// was up.
func TestImportOfAStalledClientTimesOutAndLetsGo(t *testing.T) {
	t.Parallel()
	// Shorter than the apply of the first chunk: the stall cancels the
	// request's context while the database still writes it.
	const idle = 50 * time.Millisecond
	b := setup(t, func(c *api.Config) { c.ImportIdleTimeout = idle })
	srv := httptest.NewServer(b.h)
	t.Cleanup(srv.Close)
	b.mustDo(t, http.StatusCreated, "PUT", "/api/v1/customers/c1", ingestToken, customerJSON)

	body, feed := io.Pipe()
	var lines strings.Builder
	lines.WriteString(`{"type":"customer","ref":"c1","name":"Stalled","phone":"13812345678"}` + "\n")
	for i := range api.DefaultImportChunk + 10 { // past the first chunk, which the import applies and holds
		lines.WriteString(importCustomer(fmt.Sprintf("s%d", i)) + "\n")
	}
	go func() { _, _ = feed.Write([]byte(lines.String())) }() // then nothing more, never closed
	t.Cleanup(func() { feed.Close() })
	req, _ := http.NewRequest("POST", srv.URL+"/api/v1/import?dry_run=true", body)
	req.Header.Set("Authorization", "Bearer "+ingestToken)
	req.Header.Set("Content-Type", "application/x-ndjson")
	start := time.Now()
	res, err := (&http.Client{Timeout: 15 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("stalled import: %v, want it answered 408", err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(raw), `"code":"timeout"`) {
		t.Fatalf("stalled import = %d %s, want 408 timeout", res.StatusCode, raw)
	}
	if waited := time.Since(start); waited > 10*time.Second {
		t.Errorf("the stalled import was answered after %s, want about %s", waited, idle)
	}
	// Its transaction is over: the row it locked takes a write at once,
	// and the dry run wrote nothing.
	done := make(chan response, 1)
	go func() {
		done <- b.do(t, "PUT", "/api/v1/customers/c1", ingestToken, `{"name":"After","phone":"13812345678"}`)
	}()
	select {
	case r := <-done:
		if r.status != http.StatusOK {
			t.Errorf("PUT after the stalled import = %d %s", r.status, r.raw)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a PUT of a row the stalled import read still waits")
	}
	if n := b.count(t, "customers"); n != 1 {
		t.Errorf("%d customers after a stalled dry run, want the 1 there was", n)
	}
}

// A flag given without a value (?dry_run, ?dry_run=) is refused: read as
// false, the client that meant a dry run imported for real.
func TestImportFlagWithoutAValueIsRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	for _, q := range []string{"?dry_run", "?dry_run=", "?atomic"} {
		res := b.importReq(t, q, ndjson(importCustomer("c1")))
		if code, _ := res.errorOf(); res.status != http.StatusUnprocessableEntity || code != "invalid" {
			t.Errorf("import%s = %d %s, want 422", q, res.status, res.raw)
		}
	}
	if n := b.count(t, "customers"); n != 0 {
		t.Errorf("%d customers written by refused imports", n)
	}
}
