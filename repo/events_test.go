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

type evNotice struct {
	DedupKey    string `db:"dedup_key"`
	Customer    string `db:"customer"`
	Plan        string `db:"plan"`
	Seq         int    `db:"seq"`
	Kind        string `db:"kind"`
	Channel     string `db:"channel"`
	Status      string `db:"status"`
	Reason      string `db:"status_reason"`
	EventRef    string `db:"event_ref"`
	NotBeforeOK bool   `db:"not_before_ok"`
}

// eventNotices lists the notices made from events, by event, customer and channel.
func (b evBundle) eventNotices(t *testing.T) []evNotice {
	t.Helper()
	var out []evNotice
	if err := b.r.DB().SelectContext(b.ctx, &out, `
		SELECT n.dedup_key, c.ref AS customer, coalesce(p.ref, '') AS plan, coalesce(i.seq, 0) AS seq,
		       n.kind, n.channel, n.status, n.status_reason, e.ref AS event_ref, n.not_before = e.occurred_at AS not_before_ok
		FROM notifications n JOIN customers c ON c.id = n.customer_id JOIN channel_events e ON e.id = n.event_id
		LEFT JOIN plans p ON p.id = n.plan_id LEFT JOIN installments i ON i.id = n.installment_id
		ORDER BY e.id, c.ref, n.channel DESC`); err != nil {
		t.Fatal(err)
	}
	return out
}

func (b evBundle) planState(t *testing.T, ref string) string {
	t.Helper()
	var s string
	if err := b.r.DB().GetContext(b.ctx, &s, `SELECT status || '/' || repay_method || '/' || card_last4 FROM plans WHERE ref = $1`, ref); err != nil {
		t.Fatal(err)
	}
	return s
}

func (b evBundle) count(t *testing.T, query string) int {
	t.Helper()
	var n int
	if err := b.r.DB().GetContext(b.ctx, &n, query); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRecordEventIsIdempotentByRef(t *testing.T) {
	t.Parallel()
	b := evSetup(t)
	repotest.Customer(t, b.r, "c1")
	repotest.Customer(t, b.r, "c2")
	repotest.Plan(t, b.r, "p1", "c1", evDues)
	in := repo.EventInput{Ref: "e1", Kind: repo.EventCardBound, Scope: repo.ScopePlan, PlanRef: "p1",
		OccurredAt: evT0, Payload: repo.JSONObject(`{"card_last4": "1234"}`), Now: evT0}
	first := b.record(t, in)
	if first.CustomerRef != "c1" || first.PlanRef != "p1" || first.ProcessedAt != nil || string(first.Payload) != `{"card_last4": "1234"}` {
		t.Fatalf("stored %+v", first)
	}

	// The same event again, with the instant in another zone and the payload
	// spelt differently: the stored event, nothing new.
	same := in
	same.OccurredAt = evT0.In(time.FixedZone("CST", 8*3600))
	same.Payload = repo.JSONObject(`{ "card_last4":"1234" }`)
	same.CustomerRef = "c1"
	same.Now = evT0.Add(time.Hour)
	got, created, err := b.r.RecordEvent(b.ctx, same)
	if err != nil || created || got.ID != first.ID || !got.ReceivedAt.Equal(first.ReceivedAt) {
		t.Fatalf("replay = %+v created %v, %v", got, created, err)
	}

	for name, mod := range map[string]func(*repo.EventInput){
		"payload":  func(e *repo.EventInput) { e.Payload = repo.JSONObject(`{"card_last4":"9999"}`) },
		"instant":  func(e *repo.EventInput) { e.OccurredAt = evT0.Add(time.Second) },
		"kind":     func(e *repo.EventInput) { e.Kind = repo.EventCardUnbound },
		"scope":    func(e *repo.EventInput) { e.Scope, e.PlanRef, e.CustomerRef = repo.ScopeCustomer, "", "c1" },
		"customer": func(e *repo.EventInput) { e.Scope, e.PlanRef, e.CustomerRef = repo.ScopeCustomer, "", "c2" },
	} {
		other := in
		mod(&other)
		if _, _, err := b.r.RecordEvent(b.ctx, other); !errors.Is(err, repo.ErrConflict) {
			t.Errorf("same ref, other %s: %v, want ErrConflict", name, err)
		}
	}
	if n := b.count(t, `SELECT count(*) FROM channel_events`); n != 1 {
		t.Errorf("%d events stored, want 1", n)
	}
}

func TestRecordEventRefusesUnknownTargets(t *testing.T) {
	t.Parallel()
	b := evSetup(t)
	repotest.Customer(t, b.r, "c1")
	repotest.Customer(t, b.r, "c2")
	repotest.Plan(t, b.r, "p1", "c1", evDues)
	for name, tt := range map[string]struct {
		in   repo.EventInput
		want error
	}{
		"unknown customer": {repo.EventInput{Kind: repo.EventVerificationChanged, Scope: repo.ScopeCustomer, CustomerRef: "nobody"}, repo.ErrNotFound},
		"unknown plan":     {repo.EventInput{Kind: repo.EventPlanCancelled, Scope: repo.ScopePlan, PlanRef: "nope"}, repo.ErrNotFound},
		"unknown seq":      {repo.EventInput{Kind: repo.EventAutodebitFailed, Scope: repo.ScopePlan, PlanRef: "p1", InstallmentSeq: 3}, repo.ErrNotFound},
		"another's plan":   {repo.EventInput{Kind: repo.EventPlanCancelled, Scope: repo.ScopePlan, PlanRef: "p1", CustomerRef: "c2"}, repo.ErrConflict},
	} {
		tt.in.Ref, tt.in.OccurredAt, tt.in.Now, tt.in.Payload = "e-"+name, evT0, evT0, repo.JSONObject(`{}`)
		if _, _, err := b.r.RecordEvent(b.ctx, tt.in); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", name, err, tt.want)
		}
	}
	if n := b.count(t, `SELECT count(*) FROM channel_events`); n != 0 {
		t.Errorf("%d events stored, want none", n)
	}
}

func TestCardUnboundSwitchesPlansToManualAndNamesNextBill(t *testing.T) {
	t.Parallel()
	b := evSetup(t)
	repotest.Customer(t, b.r, "c1")
	auto := func(p *repo.Plan) { p.RepayMethod, p.CardLast4 = "auto_debit", "6789" }
	repotest.Plan(t, b.r, "later", "c1", []repo.Date{repo.NewDate(2026, 12, 5)}, auto)
	repotest.Plan(t, b.r, "sooner", "c1", []repo.Date{repo.NewDate(2026, 11, 1), repo.NewDate(2026, 12, 1)}, auto,
		func(p *repo.Plan) { p.Installments[0].Paid = 50000 })
	repotest.Plan(t, b.r, "closed", "c1", evDues, auto, func(p *repo.Plan) { p.Status = repo.PlanClosed })
	ev := b.record(t, repo.EventInput{Ref: "unbind-1", Kind: repo.EventCardUnbound, Scope: repo.ScopeCustomer, CustomerRef: "c1"})

	res := b.process(t, evT0)
	if res.Events != 1 || res.PlansChanged != 2 || res.Total() != 2 {
		t.Fatalf("scan = %+v", res)
	}
	for ref, want := range map[string]string{"later": "active/manual/6789", "sooner": "active/manual/6789", "closed": "closed/auto_debit/6789"} {
		if got := b.planState(t, ref); got != want {
			t.Errorf("plan %s = %s, want %s", ref, got, want)
		}
	}
	var c1 int64
	if err := b.r.DB().Get(&c1, `SELECT id FROM customers WHERE ref = 'c1'`); err != nil {
		t.Fatal(err)
	}
	want := []evNotice{
		{fmt.Sprintf("event:%d:%d:sms", ev.ID, c1), "c1", "sooner", 2, "card_unbound", "sms", "pending", "", "unbind-1", true},
		{fmt.Sprintf("event:%d:%d:email", ev.ID, c1), "c1", "sooner", 2, "card_unbound", "email", "pending", "", "unbind-1", true},
	}
	if got := b.eventNotices(t); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("notices\n got %+v\nwant %+v", got, want)
	}
	stored, err := b.r.GetEvent(b.ctx, "unbind-1")
	if err != nil || stored.ProcessedAt == nil || !stored.ProcessedAt.Equal(evT0) {
		t.Fatalf("event after scan = %+v, %v", stored, err)
	}
	if res := b.process(t, evT0.Add(time.Hour)); res.Events != 0 || res.Total() != 0 {
		t.Fatalf("second scan = %+v", res)
	}
}

func TestCardBoundStoresCardOnOnePlan(t *testing.T) {
	t.Parallel()
	b := evSetup(t)
	repotest.Customer(t, b.r, "c1")
	repotest.Plan(t, b.r, "p1", "c1", evDues)
	repotest.Plan(t, b.r, "p2", "c1", evDues)
	b.record(t, repo.EventInput{Ref: "bind-1", Kind: repo.EventCardBound, Scope: repo.ScopePlan, PlanRef: "p1",
		Payload: repo.JSONObject(`{"card_last4":"1234"}`)})
	b.process(t, evT0)
	if got := b.planState(t, "p1") + " " + b.planState(t, "p2"); got != "active/auto_debit/1234 active/manual/" {
		t.Errorf("plans = %s", got)
	}
	got := b.eventNotices(t)
	if len(got) != 2 || got[0].Plan != "p1" || got[0].Seq != 0 || got[0].Kind != "card_bound" {
		t.Fatalf("notices %+v, want card_bound for p1 without an installment", got)
	}
}

func TestLateCardEventChangesNothing(t *testing.T) {
	t.Parallel()
	b := evSetup(t)
	repotest.Customer(t, b.r, "c1")
	repotest.Plan(t, b.r, "p1", "c1", evDues, func(p *repo.Plan) { p.RepayMethod, p.CardLast4 = "auto_debit", "6789" })
	b.record(t, repo.EventInput{Ref: "unbind", Kind: repo.EventCardUnbound, Scope: repo.ScopePlan, PlanRef: "p1",
		OccurredAt: evT0.Add(time.Hour)})
	b.process(t, evT0.Add(time.Hour))
	// A bind that happened before the unbind arrives afterwards: applying it
	// would silently restart auto-debit on an unbound card.
	b.record(t, repo.EventInput{Ref: "bind", Kind: repo.EventCardBound, Scope: repo.ScopeCustomer, CustomerRef: "c1",
		Payload: repo.JSONObject(`{"card_last4":"1111"}`)})
	res := b.process(t, evT0.Add(2*time.Hour))
	if res.Events != 1 || res.Superseded != 1 || res.Total() != 0 || res.PlansChanged != 0 {
		t.Fatalf("late event scan = %+v", res)
	}
	if got := b.planState(t, "p1"); got != "active/manual/6789" {
		t.Errorf("plan = %s", got)
	}
}

func TestPlanCancelledSuppressesItsPendingReminders(t *testing.T) {
	t.Parallel()
	b := evSetup(t)
	repotest.Customer(t, b.r, "c1")
	repotest.Plan(t, b.r, "p1", "c1", evDues)
	repotest.Plan(t, b.r, "p2", "c1", evDues)
	scan(t, b.r, shanghai(2026, 11, 21, 10)) // due_soon for both plans, sms and email
	b.record(t, repo.EventInput{Ref: "cancel-1", Kind: repo.EventPlanCancelled, Scope: repo.ScopePlan, PlanRef: "p1",
		OccurredAt: shanghai(2026, 11, 21, 11)})
	res := b.process(t, shanghai(2026, 11, 21, 11))
	if res.PlansChanged != 1 || res.Suppressed != 2 || res.Total() != 2 {
		t.Fatalf("scan = %+v", res)
	}
	var rows []string
	if err := b.r.DB().Select(&rows, `SELECT p.ref || ' ' || n.kind || ' ' || n.channel || ' ' || n.status || ' ' || n.status_reason
		FROM notifications n JOIN plans p ON p.id = n.plan_id ORDER BY p.ref, n.kind, n.channel DESC`); err != nil {
		t.Fatal(err)
	}
	want := "[p1 due_soon sms suppressed plan cancelled p1 due_soon email suppressed plan cancelled " +
		"p1 plan_cancelled sms pending  p1 plan_cancelled email pending  p2 due_soon sms pending  p2 due_soon email pending ]"
	if fmt.Sprint(rows) != want {
		t.Fatalf("notices\n got %v\nwant %s", rows, want)
	}
	if got := b.planState(t, "p1"); got != "cancelled/manual/" {
		t.Errorf("p1 = %s", got)
	}
	// The cancelled plan gets no more reminders.
	if res := scan(t, b.r, shanghai(2026, 11, 24, 10)); res.Total() != 2 {
		t.Errorf("due_today queued %v, want p2's only", res.Queued)
	}
}

func TestAllScopeFansOutToCustomersWithActivePlans(t *testing.T) {
	t.Parallel()
	b := evSetup(t)
	repotest.Customer(t, b.r, "a")
	repotest.Customer(t, b.r, "b", func(c *repo.Customer) { c.SMSOptOut = true })
	repotest.Customer(t, b.r, "c", func(c *repo.Customer) { c.Email = "" })
	repotest.Customer(t, b.r, "inactive")
	repotest.Customer(t, b.r, "planless")
	repotest.Plan(t, b.r, "pa", "a", evDues)
	repotest.Plan(t, b.r, "pa2", "a", evDues)
	repotest.Plan(t, b.r, "pb", "b", evDues)
	repotest.Plan(t, b.r, "pc", "c", evDues)
	repotest.Plan(t, b.r, "px", "inactive", evDues, func(p *repo.Plan) { p.Status = repo.PlanCancelled })
	b.record(t, repo.EventInput{Ref: "moved", Kind: repo.EventRepaymentEntryMoved, Scope: repo.ScopeAll,
		Payload: repo.JSONObject(`{"app_name":"Example Pay","url":"https://pay.example.com/app"}`)})
	res := b.process(t, evT0)
	if res.Total() != 6 {
		t.Fatalf("scan = %+v", res)
	}
	var got []string
	for _, n := range b.eventNotices(t) {
		got = append(got, n.Customer+"/"+n.Channel+"/"+n.Status+"/"+n.Reason+"/"+n.Plan)
	}
	want := "[a/sms/pending// a/email/pending// b/sms/suppressed/opted_out/ b/email/pending// c/sms/pending// c/email/suppressed/no_email/]"
	if fmt.Sprint(got) != want {
		t.Fatalf("notices\n got %v\nwant %s", got, want)
	}
}

func TestServiceClosedNamesNextDueAndOutstandingAtClaim(t *testing.T) {
	t.Parallel()
	b := evSetup(t)
	repotest.Customer(t, b.r, "c1")
	repotest.Customer(t, b.r, "c2")
	repotest.Plan(t, b.r, "p1", "c1", evDues, func(p *repo.Plan) { p.Installments[0].Paid = 20000 })
	repotest.Plan(t, b.r, "p2", "c1", []repo.Date{repo.NewDate(2026, 11, 30)})
	repotest.Plan(t, b.r, "done", "c2", evDues, func(p *repo.Plan) { p.Status = repo.PlanClosed })
	b.record(t, repo.EventInput{Ref: "closed-c1", Kind: repo.EventServiceClosed, Scope: repo.ScopeCustomer, CustomerRef: "c1"})
	b.record(t, repo.EventInput{Ref: "closed-c2", Kind: repo.EventServiceClosed, Scope: repo.ScopeCustomer, CustomerRef: "c2"})
	b.process(t, evT0)
	claims, err := b.r.ClaimNotifications(b.ctx, "test", evT0, time.Minute, 10, 0)
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

func TestAutodebitFailedNamesTheInstallment(t *testing.T) {
	t.Parallel()
	b := evSetup(t)
	repotest.Customer(t, b.r, "c1")
	repotest.Plan(t, b.r, "p1", "c1", evDues, func(p *repo.Plan) { p.RepayMethod = "auto_debit" })
	repotest.Plan(t, b.r, "paid", "c1", evDues[:1], func(p *repo.Plan) { p.Installments[0].Paid = 50000 })
	b.record(t, repo.EventInput{Ref: "f-seq", Kind: repo.EventAutodebitFailed, Scope: repo.ScopePlan, PlanRef: "p1",
		Payload: repo.JSONObject(`{"seq":2,"reason":"insufficient_funds"}`), InstallmentSeq: 2})
	b.record(t, repo.EventInput{Ref: "f-next", Kind: repo.EventAutodebitFailed, Scope: repo.ScopePlan, PlanRef: "p1"})
	b.record(t, repo.EventInput{Ref: "f-nothing", Kind: repo.EventAutodebitFailed, Scope: repo.ScopePlan, PlanRef: "paid"})
	if res := b.process(t, evT0); res.Events != 3 || res.Total() != 4 {
		t.Fatalf("scan = %+v", res)
	}
	var got []string
	for _, n := range b.eventNotices(t) {
		got = append(got, fmt.Sprintf("%s:%s#%d", n.EventRef, n.Plan, n.Seq))
	}
	if want := "[f-seq:p1#2 f-seq:p1#2 f-next:p1#1 f-next:p1#1]"; fmt.Sprint(got) != want {
		t.Fatalf("notices %v, want %s (nothing for a plan with nothing unpaid)", got, want)
	}
}

func TestEventsWaitUntilTheyOccur(t *testing.T) {
	t.Parallel()
	b := evSetup(t)
	repotest.Customer(t, b.r, "c1")
	b.record(t, repo.EventInput{Ref: "v1", Kind: repo.EventVerificationChanged, Scope: repo.ScopeCustomer, CustomerRef: "c1",
		OccurredAt: evT0.Add(time.Hour)})
	if res := b.process(t, evT0); res.Events != 0 {
		t.Fatalf("an event processed before it occurred: %+v", res)
	}
	if res := b.process(t, evT0.Add(time.Hour)); res.Events != 1 || res.Total() != 2 {
		t.Fatalf("scan = %+v", res)
	}
}

func TestReprocessingAndConcurrentScansQueueNothingTwice(t *testing.T) {
	t.Parallel()
	b := evSetup(t)
	for i := range 30 {
		ref := fmt.Sprintf("c%02d", i)
		repotest.Customer(t, b.r, ref)
		repotest.Plan(t, b.r, "p"+ref, ref, evDues, func(p *repo.Plan) { p.RepayMethod, p.CardLast4 = "auto_debit", "1111" })
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

func TestPreviewChannelEventsWritesNothing(t *testing.T) {
	t.Parallel()
	b := evSetup(t)
	repotest.Customer(t, b.r, "c1")
	repotest.Plan(t, b.r, "p1", "c1", evDues)
	for i := range 3 {
		b.record(t, repo.EventInput{Ref: fmt.Sprint("v", i), Kind: repo.EventVerificationChanged, Scope: repo.ScopeCustomer, CustomerRef: "c1"})
	}
	b.record(t, repo.EventInput{Ref: "cancel", Kind: repo.EventPlanCancelled, Scope: repo.ScopePlan, PlanRef: "p1"})
	res, err := b.r.PreviewChannelEvents(b.ctx, evT0, 2, evBoth)
	if err != nil || res.Events != 4 || res.Total() != 8 || res.PlansChanged != 1 {
		t.Fatalf("preview = %+v, %v", res, err)
	}
	if n := b.count(t, `SELECT count(*) FROM notifications`) + b.count(t, `SELECT count(*) FROM channel_events WHERE processed_at IS NOT NULL`); n != 0 {
		t.Fatalf("preview wrote %d rows", n)
	}
	if got := b.planState(t, "p1"); got != "active/manual/" {
		t.Fatalf("preview cancelled the plan: %s", got)
	}
}

func TestChannelEventsTableRefusesBadDirectWrites(t *testing.T) {
	t.Parallel()
	b := evSetup(t)
	c := repotest.Customer(t, b.r, "c1")
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
	repotest.Customer(t, b.r, "c1")
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
