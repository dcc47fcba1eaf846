package repo_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"duebell/repo"
	"duebell/repo/repotest"
	"duebell/repo/storetest"
)

// evT0 is when events occur in these tests: 2026-11-20 10:00 in Shanghai.
var evT0 = time.Date(2026, 11, 20, 2, 0, 0, 0, time.UTC)

var (
	evBoth = []string{"sms", "email"}
	evDues = []repo.Date{repo.NewDate(2026, 11, 24), repo.NewDate(2026, 12, 24)}
)

type evBundle struct {
	r   *repo.Repo
	ctx context.Context
}

func evSetup(t *testing.T) evBundle {
	t.Helper()
	return evBundle{r: repotest.New(t), ctx: context.Background()}
}

func (b evBundle) record(t *testing.T, in repo.EventInput) repo.Event {
	t.Helper()
	if in.OccurredAt.IsZero() {
		in.OccurredAt = evT0
	}
	if in.Now.IsZero() {
		in.Now = in.OccurredAt
	}
	if in.Payload == nil {
		in.Payload = repo.JSONObject(`{}`)
	}
	ev, created, err := b.r.RecordEvent(b.ctx, in)
	if err != nil || !created {
		t.Fatalf("record event %s: created %v, %v", in.Ref, created, err)
	}
	return ev
}

func (b evBundle) process(t *testing.T, at time.Time) repo.EventScanResult {
	t.Helper()
	res, err := b.r.ProcessChannelEvents(b.ctx, at, 0, evBoth)
	if err != nil {
		t.Fatalf("process events at %v: %v", at, err)
	}
	return res
}

func (b evBundle) count(t *testing.T, query string) int {
	t.Helper()
	var n int
	if err := b.r.DB().GetContext(b.ctx, &n, query); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestServiceClosedNamesNextDueAndOutstandingAtClaim(t *testing.T) {
	t.Parallel()
	b := evSetup(t)
	storetest.Customer(t, b.r, "c1")
	storetest.Customer(t, b.r, "c2")
	storetest.Plan(t, b.r, "p1", "c1", evDues, func(p *repo.Plan) { p.Installments[0].Paid = 20000 })
	storetest.Plan(t, b.r, "p2", "c1", []repo.Date{repo.NewDate(2026, 11, 30)})
	storetest.Plan(t, b.r, "done", "c2", evDues, func(p *repo.Plan) { p.Status = repo.PlanClosed })
	b.record(t, repo.EventInput{Ref: "closed-c1", Kind: repo.EventServiceClosed, Scope: repo.ScopeCustomer, CustomerRef: "c1"})
	b.record(t, repo.EventInput{Ref: "closed-c2", Kind: repo.EventServiceClosed, Scope: repo.ScopeCustomer, CustomerRef: "c2"})
	b.process(t, evT0)
	claims, err := b.r.ClaimNotifications(b.ctx, "test", evT0, evT0, time.Minute, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range claims {
		got[c.Customer.Ref+"/"+c.Channel] = fmt.Sprintf("%s %d %s %d", c.Plan.Ref, c.Installment.Seq, c.Installment.DueDate, c.Outstanding)
	}
	// c1 owes 300.00 + 500.00 on p1 and 500.00 on p2; p1's first bill is next.
	want := map[string]string{
		"c1/sms": "p1 1 2026-11-24 130000", "c1/email": "p1 1 2026-11-24 130000",
		"c2/sms": " 0 0001-01-01 0", "c2/email": " 0 0001-01-01 0",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("claims\n got %v\nwant %v", got, want)
	}
}

func TestReprocessingAndConcurrentScansQueueNothingTwice(t *testing.T) {
	t.Parallel()
	b := evSetup(t)
	for i := range 30 {
		ref := fmt.Sprintf("c%02d", i)
		storetest.Customer(t, b.r, ref)
		storetest.Plan(t, b.r, "p"+ref, ref, evDues, func(p *repo.Plan) { p.RepayMethod, p.CardLast4 = "auto_debit", "1111" })
		b.record(t, repo.EventInput{Ref: "unbind-" + ref, Kind: repo.EventCardUnbound, Scope: repo.ScopeCustomer, CustomerRef: ref,
			OccurredAt: evT0.Add(time.Duration(i) * time.Second)})
	}
	b.record(t, repo.EventInput{Ref: "moved", Kind: repo.EventRepaymentEntryMoved, Scope: repo.ScopeAll,
		Payload: repo.JSONObject(`{"app_name":"Example Pay"}`)})

	var wg sync.WaitGroup
	var mu sync.Mutex
	events, queued := 0, 0
	for range 6 {
		wg.Go(func() {
			// Small batches, so scans interleave between transactions.
			res, err := b.r.ProcessChannelEvents(b.ctx, evT0.Add(time.Minute), 4, evBoth)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && !errors.Is(err, repo.ErrBusy) {
				t.Error(err)
			}
			events += res.Events
			queued += res.Total()
		})
	}
	wg.Wait()
	if rest := b.process(t, evT0.Add(time.Minute)); rest.Events+events != 31 || rest.Total()+queued != 120 {
		t.Fatalf("processed %d+%d events, queued %d+%d; want 31 events, 120 notices once", events, rest.Events, queued, rest.Total())
	}

	// A crash between queuing and marking (simulated by forgetting every
	// mark) re-runs every event: side effects are idempotent and the
	// dedup keys hold.
	if _, err := b.r.DB().Exec(`UPDATE channel_events SET processed_at = NULL`); err != nil {
		t.Fatal(err)
	}
	if res := b.process(t, evT0.Add(2*time.Minute)); res.Events != 31 || res.Total() != 0 || res.PlansChanged != 0 {
		t.Fatalf("re-run = %+v, want 31 events and nothing new", res)
	}
	if n := b.count(t, `SELECT count(*) FROM notifications`); n != 120 {
		t.Fatalf("%d notices, want 120", n)
	}
}

func TestChannelEventsTableRefusesBadDirectWrites(t *testing.T) {
	t.Parallel()
	b := evSetup(t)
	c := storetest.Customer(t, b.r, "c1")
	for name, q := range map[string]string{
		"customer scope":     `INSERT INTO channel_events (ref, kind, scope, occurred_at) VALUES ('x', 'card_bound', 'customer', now())`,
		"all with customer":  fmt.Sprintf(`INSERT INTO channel_events (ref, kind, scope, customer_id, occurred_at) VALUES ('x', 'service_closed', 'all', %d, now())`, c.ID),
		"payload not object": `INSERT INTO channel_events (ref, kind, scope, payload, occurred_at) VALUES ('x', 'service_closed', 'all', '[]', now())`,
	} {
		if _, err := b.r.DB().Exec(q); err == nil {
			t.Errorf("%s: stored", name)
		}
	}
}

func TestScanIgnoresRowsWrittenBeforeTheConstraints(t *testing.T) {
	t.Parallel()
	b := evSetup(t)
	storetest.Customer(t, b.r, "c1")
	// As if written by the lender before migration 003 added the checks.
	if _, err := b.r.DB().Exec(`ALTER TABLE channel_events DROP CONSTRAINT channel_events_scope_target`); err != nil {
		t.Fatal(err)
	}
	if _, err := b.r.DB().Exec(`INSERT INTO channel_events (ref, kind, scope, occurred_at) VALUES
		('old-1', 'card_lost', 'all', $1), ('old-2', 'card_bound', 'customer', $1)`, evT0); err != nil {
		t.Fatal(err)
	}
	res := b.process(t, evT0)
	if res.Events != 2 || res.Ignored != 2 || res.Total() != 0 {
		t.Fatalf("scan = %+v, want both marked processed and ignored", res)
	}
}
