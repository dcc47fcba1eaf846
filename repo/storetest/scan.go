package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"duebell/repo"
)

// The scan area: the due-date scan (with digests), channel events (record,
// scan) and the retention cleaner.

func init() {
	register("Scan", func(t *testing.T, open Opener) {
		for _, tc := range []struct {
			name string
			run  func(*testing.T, Store)
		}{
			{"DueEachStageOncePerChannel", scanDueEachStageOncePerChannel},
			{"DueAfterDowntimeOnlyLatestStage", scanDueAfterDowntimeOnlyLatestStage},
			{"DueNoStageOnTheWrongSideOfTheDueDate", scanDueNoStageOnTheWrongSideOfTheDueDate},
			{"DueCustomerLocalDate", scanDueCustomerLocalDate},
			{"DueUnknownZoneStopsOnlyItsCustomers", scanDueUnknownZoneStopsOnlyItsCustomers},
			{"DueNeverRemindsSettled", scanDueNeverRemindsSettled},
			{"DueOptOutSuppressed", scanDueOptOutSuppressed},
			{"DueConcurrentCreateNothingTwice", scanDueConcurrentCreateNothingTwice},
			{"DuePreviewWritesNothing", scanDuePreviewWritesNothing},
			{"DigestGrowsUntilClaimed", scanDigestGrowsUntilClaimed},
			{"DigestKeepsOneCurrency", scanDigestKeepsOneCurrency},
			{"EventRecordIdempotentByRef", scanEventRecordIdempotentByRef},
			{"EventRecordRefusesUnknownTargets", scanEventRecordRefusesUnknownTargets},
			{"EventCardUnboundNamesNextBill", scanEventCardUnboundNamesNextBill},
			{"EventCardBoundOnePlan", scanEventCardBoundOnePlan},
			{"EventCardUnboundNamesAPlanItStopped", scanEventCardUnboundNamesAPlanItStopped},
			{"EventLateCardEventChangesNothing", scanEventLateCardEventChangesNothing},
			{"EventPlanCancelledSuppresses", scanEventPlanCancelledSuppresses},
			{"EventPlanCancelledKeepsOtherPlansDigest", scanEventPlanCancelledKeepsOtherPlansDigest},
			{"DigestLeavesABillMovedLater", scanDigestLeavesABillMovedLater},
			{"EventAllScopeFansOut", scanEventAllScopeFansOut},
			{"EventAutodebitFailedNamesInstallment", scanEventAutodebitFailedNamesInstallment},
			{"EventWaitsUntilItOccurs", scanEventWaitsUntilItOccurs},
			{"EventConcurrentScansQueueOnce", scanEventConcurrentScansQueueOnce},
			{"EventPreviewWritesNothing", scanEventPreviewWritesNothing},
			{"EventUnknownChannel", scanEventUnknownChannel},
			{"RetentionRemovesOldFinished", scanRetentionRemovesOldFinished},
			{"RetentionKeepsDigestOfUnpaidBill", scanRetentionKeepsDigestOfUnpaidBill},
			{"RetentionKeepsStagesOfUnpaidBills", scanRetentionKeepsStagesOfUnpaidBills},
			{"RetentionKeepsResendsOfKeptStages", scanRetentionKeepsResendsOfKeptStages},
		} {
			t.Run(tc.name, func(t *testing.T) { t.Parallel(); tc.run(t, open(t)) })
		}
	})
}

// scanShanghai is the instant of a Shanghai wall-clock time.
func scanShanghai(y int, m time.Month, d, h int) time.Time {
	return time.Date(y, m, d, h-8, 0, 0, 0, time.UTC)
}

var scanDue24 = []repo.Date{repo.NewDate(2026, 11, 24)}

// scanStages is the default reminder policy.
func scanStages() []repo.Stage {
	both := []string{"sms", "email"}
	return []repo.Stage{
		{Name: "due_soon", OffsetDays: -3, Kind: "due_soon", Channels: both},
		{Name: "due_today", OffsetDays: 0, Kind: "due_today", Channels: both},
		{Name: "overdue_1", OffsetDays: 1, Kind: "overdue", Channels: both},
		{Name: "overdue_7", OffsetDays: 7, Kind: "overdue", Channels: both},
	}
}

func scanDue(t *testing.T, s Store, at time.Time, stages ...repo.Stage) repo.ScanResult {
	t.Helper()
	if stages == nil {
		stages = scanStages()
	}
	res, err := s.QueueDueReminders(context.Background(), at, stages)
	if err != nil {
		t.Fatalf("scan at %v: %v", at, err)
	}
	return res
}

// scanList lists every notice, oldest first, as "customer plan#seq kind
// stage channel status reason".
func scanList(t *testing.T, s Store) []string {
	t.Helper()
	page, err := s.SearchNotifications(context.Background(), repo.NoticeFilter{}, repo.MaxSearchLimit, "")
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(page.Notices))
	for i, n := range page.Notices {
		out[len(out)-1-i] = fmt.Sprintf("%s %s#%d %s %s %s %s %s", n.CustomerRef, n.PlanRef, n.Seq, n.Kind, n.Stage,
			n.Channel, n.Status, n.StatusReason)
	}
	return out
}

func scanNotices(t *testing.T, s Store) []repo.NoticeSummary {
	t.Helper()
	page, err := s.SearchNotifications(context.Background(), repo.NoticeFilter{}, repo.MaxSearchLimit, "")
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(page.Notices, func(i, j int) bool { return page.Notices[i].ID < page.Notices[j].ID })
	return page.Notices
}

// scanWant compares lists of notices in any order: one statement queues
// its notices in an order neither store promises.
func scanWant(t *testing.T, got []string, want ...string) {
	t.Helper()
	got, want = slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))
	if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", want) {
		t.Fatalf("notices\n got %q\nwant %q", got, want)
	}
}

func scanDueEachStageOncePerChannel(t *testing.T, s Store) {
	Customer(t, s, "c1")
	Plan(t, s, "p1", "c1", scanDue24)
	if res := scanDue(t, s, scanShanghai(2026, 11, 20, 10)); res.Total() != 0 {
		t.Fatalf("four days before the due date nothing is due, queued %v", res.Queued)
	}
	res := scanDue(t, s, scanShanghai(2026, 11, 21, 10))
	want := []repo.QueuedCount{{Kind: "due_soon", Stage: "due_soon", Channel: "email", Status: "pending", Count: 1},
		{Kind: "due_soon", Stage: "due_soon", Channel: "sms", Status: "pending", Count: 1}}
	if fmt.Sprint(res.Queued) != fmt.Sprint(want) || res.Skipped != 0 {
		t.Fatalf("queued %v skipped %d, want %v", res.Queued, res.Skipped, want)
	}
	for i := range 3 {
		if res := scanDue(t, s, scanShanghai(2026, 11, 21, 10+i)); res.Total() != 0 {
			t.Fatalf("re-scan queued again: %v", res.Queued)
		}
	}
	scanWant(t, scanList(t, s), "c1 p1#1 due_soon due_soon sms pending ", "c1 p1#1 due_soon due_soon email pending ")
}

func scanDueAfterDowntimeOnlyLatestStage(t *testing.T, s Store) {
	ctx := context.Background()
	Customer(t, s, "c1")
	Customer(t, s, "c2")
	Plan(t, s, "p1", "c1", scanDue24)
	p2 := Plan(t, s, "p2", "c2", scanDue24, func(p *repo.Plan) { p.Status = repo.PlanCancelled })
	// p1 got its due_soon queued (not yet sent) before the outage; p2 was
	// cancelled then and is active again.
	scanDue(t, s, scanShanghai(2026, 11, 21, 10))
	p2.Status = repo.PlanActive
	if _, err := s.UpsertPlan(ctx, p2, Now); err != nil {
		t.Fatal(err)
	}
	// Back two days after the due date: overdue_1 only; due_today is never
	// created, and p1's stale due_soon is skipped.
	res := scanDue(t, s, scanShanghai(2026, 11, 26, 10))
	if res.Total() != 4 || res.Skipped != 2 {
		t.Fatalf("queued %v skipped %d, want overdue_1 ×2 channels ×2 plans and 2 skipped", res.Queued, res.Skipped)
	}
	scanWant(t, scanList(t, s),
		"c1 p1#1 due_soon due_soon sms skipped superseded by overdue_1",
		"c1 p1#1 due_soon due_soon email skipped superseded by overdue_1",
		"c1 p1#1 overdue overdue_1 email pending ", "c1 p1#1 overdue overdue_1 sms pending ",
		"c2 p2#1 overdue overdue_1 email pending ", "c2 p2#1 overdue overdue_1 sms pending ")
	// A week and more later: overdue_7, and nothing else.
	if res := scanDue(t, s, scanShanghai(2026, 12, 20, 10)); res.Total() != 4 || res.Skipped != 4 {
		t.Fatalf("queued %v skipped %d, want overdue_7 for both plans, superseding 4", res.Queued, res.Skipped)
	}
}

// A policy without overdue stages reminds nothing once a bill is past due:
// its due_today stage is out of date the day after, and a notice queued for
// it would only be skipped by the dispatcher, one log line a bill.
func scanDueNoStageOnTheWrongSideOfTheDueDate(t *testing.T, s Store) {
	sms := []string{"sms"}
	gentle := []repo.Stage{
		{Name: "due_soon", OffsetDays: -3, Kind: "due_soon", Channels: sms},
		{Name: "due_today", OffsetDays: 0, Kind: "due_today", Channels: sms},
	}
	Customer(t, s, "c1")
	Plan(t, s, "p1", "c1", scanDue24)                               // pushed before its due date
	Plan(t, s, "p2", "c1", []repo.Date{repo.NewDate(2026, 11, 20)}) // pushed already past due
	res := scanDue(t, s, scanShanghai(2026, 11, 24, 10), gentle...)
	if res.Total() != 1 {
		t.Fatalf("on p1's due date queued %v, want p1's due_today only", res.Queued)
	}
	if res := scanDue(t, s, scanShanghai(2026, 11, 26, 10), gentle...); res.Total() != 0 {
		t.Fatalf("past the due dates queued %v, want nothing", res.Queued)
	}
	// Only due_soon: on the due date it no longer applies either.
	Plan(t, s, "p3", "c1", []repo.Date{repo.NewDate(2026, 11, 27)})
	if res := scanDue(t, s, scanShanghai(2026, 11, 27, 10), gentle[0]); res.Total() != 0 {
		t.Fatalf("on p3's due date a due_soon-only policy queued %v, want nothing", res.Queued)
	}
	scanWant(t, scanList(t, s), "c1 p1#1 due_today due_today sms pending ")
}

func scanDueCustomerLocalDate(t *testing.T, s Store) {
	Customer(t, s, "sh")
	Customer(t, s, "ny", func(c *repo.Customer) { c.Timezone = "America/New_York" })
	Customer(t, s, "ki", func(c *repo.Customer) { c.Timezone = "Pacific/Kiritimati" }) // UTC+14
	Plan(t, s, "p-sh", "sh", scanDue24)
	Plan(t, s, "p-ny", "ny", scanDue24)
	Plan(t, s, "p-ki", "ki", scanDue24)
	// 2026-11-20 10:00 UTC: already the 21st on Kiritimati, still the 20th
	// in Shanghai and New York.
	scanDue(t, s, time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC))
	scanWant(t, scanList(t, s), "ki p-ki#1 due_soon due_soon email pending ", "ki p-ki#1 due_soon due_soon sms pending ")
	// 17:00 UTC: the 21st in Shanghai too, still the 20th in New York.
	scanDue(t, s, time.Date(2026, 11, 20, 17, 0, 0, 0, time.UTC))
	scanWant(t, scanList(t, s), "sh p-sh#1 due_soon due_soon email pending ", "sh p-sh#1 due_soon due_soon sms pending ",
		"ki p-ki#1 due_soon due_soon email pending ", "ki p-ki#1 due_soon due_soon sms pending ")
}

// A customer whose time zone duebell cannot load (written to the table by
// hand, or a zone newer than the database server's tz data) gets no
// reminder and is reported by the scan; it no longer fails the scan, and
// with it every other customer's reminders. The local date is duebell's in
// both stores, as the dispatcher's is, not the database server's.
func scanDueUnknownZoneStopsOnlyItsCustomers(t *testing.T, s Store) {
	Customer(t, s, "sh")
	Customer(t, s, "mars", func(c *repo.Customer) { c.Timezone = "Mars/Olympus" })
	Plan(t, s, "p-sh", "sh", scanDue24)
	Plan(t, s, "p-mars", "mars", scanDue24)
	stages := scanStages()
	for i := range stages {
		stages[i].DigestChannels = stages[i].Channels
	}
	res, err := s.QueueDueReminders(context.Background(), scanShanghai(2026, 11, 21, 10), stages)
	if err != nil {
		t.Fatalf("scan: %v; want the other customers reminded", err)
	}
	scanWant(t, scanList(t, s), "sh p-sh#1 due_soon due_soon email pending ", "sh p-sh#1 due_soon due_soon sms pending ")
	if !slices.Equal(res.UnknownZones, []string{"Mars/Olympus"}) {
		t.Errorf("scan reports unknown zones %q, want [Mars/Olympus]", res.UnknownZones)
	}
}

func scanDueNeverRemindsSettled(t *testing.T, s Store) {
	Customer(t, s, "c1")
	Plan(t, s, "paid", "c1", scanDue24, func(p *repo.Plan) { p.Installments[0].Paid = 50000 })
	Plan(t, s, "waived", "c1", scanDue24, func(p *repo.Plan) { p.Installments[0].Status = repo.InstallmentWaived })
	Plan(t, s, "cancelled", "c1", scanDue24, func(p *repo.Plan) { p.Status = repo.PlanCancelled })
	Plan(t, s, "closed", "c1", scanDue24, func(p *repo.Plan) { p.Status = repo.PlanClosed })
	for _, at := range []time.Time{scanShanghai(2026, 11, 21, 10), scanShanghai(2026, 11, 24, 10), scanShanghai(2026, 12, 24, 10)} {
		if res := scanDue(t, s, at); res.Total() != 0 {
			t.Fatalf("settled installments reminded at %v: %v", at, res.Queued)
		}
	}
}

func scanDueOptOutSuppressed(t *testing.T, s Store) {
	Customer(t, s, "c1", func(c *repo.Customer) { c.SMSOptOut = true })
	Customer(t, s, "c2", func(c *repo.Customer) { c.Email = "" })
	Plan(t, s, "p1", "c1", scanDue24)
	Plan(t, s, "p2", "c2", scanDue24)
	res := scanDue(t, s, scanShanghai(2026, 11, 21, 10))
	want := "[{due_soon due_soon email pending 1} {due_soon due_soon email suppressed 1} " +
		"{due_soon due_soon sms pending 1} {due_soon due_soon sms suppressed 1}]"
	if got := fmt.Sprint(res.Queued); got != want {
		t.Errorf("queued %s, want %s (by kind, stage, channel, status)", got, want)
	}
	scanWant(t, scanList(t, s),
		"c1 p1#1 due_soon due_soon email pending ", "c1 p1#1 due_soon due_soon sms suppressed opted_out",
		"c2 p2#1 due_soon due_soon email suppressed no_email", "c2 p2#1 due_soon due_soon sms pending ")
}

func scanDueConcurrentCreateNothingTwice(t *testing.T, s Store) {
	Customer(t, s, "c1")
	Plan(t, s, "p1", "c1", []repo.Date{repo.NewDate(2026, 11, 24), repo.NewDate(2026, 11, 10), repo.NewDate(2026, 10, 1)})
	at := scanShanghai(2026, 11, 21, 10)
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for range 6 {
		wg.Go(func() {
			res, err := s.QueueDueReminders(context.Background(), at, scanStages())
			mu.Lock()
			defer mu.Unlock()
			if err != nil && !errors.Is(err, repo.ErrBusy) {
				t.Error(err)
			}
			total += res.Total()
		})
	}
	wg.Wait()
	// due_soon for the 24th, overdue_7 for the 10th and the 1st of October: 3 × 2 channels.
	if n := len(scanList(t, s)); n != 6 || total != 6 {
		t.Fatalf("notices %d, reported %d, want 6 once", n, total)
	}
}

func scanDuePreviewWritesNothing(t *testing.T, s Store) {
	Customer(t, s, "c1")
	Plan(t, s, "p1", "c1", scanDue24)
	res, err := s.PreviewDueReminders(context.Background(), scanShanghai(2026, 11, 21, 10), scanStages())
	if err != nil || res.Total() != 2 {
		t.Fatalf("preview = %v, %v; want 2 notices", res.Queued, err)
	}
	if rows := scanList(t, s); len(rows) != 0 {
		t.Fatalf("preview wrote %v", rows)
	}
	if res := scanDue(t, s, scanShanghai(2026, 11, 21, 10)); res.Total() != 2 {
		t.Fatalf("scan after preview queued %v, want the 2 previewed", res.Queued)
	}
}

var scanDigestSMS = repo.Stage{Name: "due_soon", OffsetDays: -3, Kind: "due_soon", Channels: []string{"sms"},
	DigestChannels: []string{"sms"}}

// scanDigestOf maps each plan's notice to the plan whose notice leads its
// digest ("" when in none).
func scanDigestOf(t *testing.T, s Store) map[string]string {
	t.Helper()
	ns := scanNotices(t, s)
	planOf := map[int64]string{}
	for _, n := range ns {
		planOf[n.ID] = n.PlanRef
	}
	out := map[string]string{}
	for _, n := range ns {
		full, err := s.GetNotification(context.Background(), n.ID)
		if err != nil {
			t.Fatal(err)
		}
		out[n.PlanRef] = ""
		if full.DigestOf != nil {
			out[n.PlanRef] = planOf[*full.DigestOf]
		}
	}
	return out
}

// A bill added later the same day joins the customer's digest while it
// waits; re-scans add nothing twice; once a dispatcher has claimed the
// digest, a later bill goes in a notice of its own.
func scanDigestGrowsUntilClaimed(t *testing.T, s Store) {
	ctx := context.Background()
	Customer(t, s, "c1")
	Plan(t, s, "p1", "c1", scanDue24)
	Plan(t, s, "p2", "c1", scanDue24)
	// The scan counts a bill put in a digest as skipped: it said pending,
	// and `duebell scan` printed every bill of a digest as a notice to go.
	res := scanDue(t, s, scanShanghai(2026, 11, 21, 8), scanDigestSMS)
	if got, want := fmt.Sprint(res.Queued), "[{due_soon due_soon sms pending 1} {due_soon due_soon sms skipped 1}]"; got != want {
		t.Errorf("first scan queued %s, want %s", got, want)
	}
	scanDue(t, s, scanShanghai(2026, 11, 21, 8), scanDigestSMS) // the same scan again
	Plan(t, s, "p3", "c1", scanDue24)
	res = scanDue(t, s, scanShanghai(2026, 11, 21, 9), scanDigestSMS)
	if got, want := fmt.Sprint(res.Queued), "[{due_soon due_soon sms skipped 1}]"; got != want {
		t.Errorf("the scan that put p3 in the waiting digest queued %s, want %s", got, want)
	}
	want := map[string]string{"p1": "p1", "p2": "p1", "p3": "p1"}
	if got := scanDigestOf(t, s); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("digests %v, want %v", got, want)
	}
	ns := scanNotices(t, s)
	if len(ns) != 3 || ns[1].Status != "skipped" || ns[1].StatusReason != fmt.Sprintf("in digest #%d", ns[0].ID) {
		t.Fatalf("notices %+v, want one per bill, the later ones skipped in the first's digest", ns)
	}
	claims, err := s.ClaimNotifications(ctx, "replica-a", scanShanghai(2026, 11, 21, 10), scanShanghai(2026, 11, 21, 10), time.Minute, 10, 0)
	if err != nil || len(claims) != 1 || !claims[0].LeadsDigest() {
		t.Fatalf("claimed %d (%v), want only the digest", len(claims), err)
	}
	Plan(t, s, "p4", "c1", scanDue24)
	scanDue(t, s, scanShanghai(2026, 11, 21, 11), scanDigestSMS)
	if got := scanDigestOf(t, s)["p4"]; got != "" {
		t.Errorf("p4's notice joined digest of %s after it was claimed", got)
	}
	// A digest groups one local day: bills queued the next day start their
	// own, and the waiting p4 of the day before does not join it.
	Plan(t, s, "p5", "c1", []repo.Date{repo.NewDate(2026, 11, 25)})
	Plan(t, s, "p6", "c1", []repo.Date{repo.NewDate(2026, 11, 25)})
	scanDue(t, s, scanShanghai(2026, 11, 22, 9), scanDigestSMS)
	if got := scanDigestOf(t, s); got["p4"] != "" || got["p5"] != "p5" || got["p6"] != "p5" {
		t.Errorf("digests %v, want p5 and p6 in a digest of the 22nd, p4 alone", got)
	}
}

// Bills in different currencies are not added up: each currency gets its
// own digest.
func scanDigestKeepsOneCurrency(t *testing.T, s Store) {
	Customer(t, s, "c1")
	Plan(t, s, "p1", "c1", scanDue24)
	Plan(t, s, "p2", "c1", scanDue24)
	Plan(t, s, "u1", "c1", scanDue24, func(p *repo.Plan) { p.Currency = "USD" })
	scanDue(t, s, scanShanghai(2026, 11, 21, 8), scanDigestSMS)
	want := map[string]string{"p1": "p1", "p2": "p1", "u1": ""}
	if got := scanDigestOf(t, s); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("digests %v, want %v", got, want)
	}
}

// scanT0 is when events occur: 2026-11-20 10:00 in Shanghai.
var scanT0 = time.Date(2026, 11, 20, 2, 0, 0, 0, time.UTC)

var (
	scanBoth = []string{"sms", "email"}
	scanDues = []repo.Date{repo.NewDate(2026, 11, 24), repo.NewDate(2026, 12, 24)}
)

func scanRecord(t *testing.T, s Store, in repo.EventInput) repo.Event {
	t.Helper()
	if in.OccurredAt.IsZero() {
		in.OccurredAt = scanT0
	}
	if in.Now.IsZero() {
		in.Now = in.OccurredAt
	}
	if in.Payload == nil {
		in.Payload = repo.JSONObject(`{}`)
	}
	ev, created, err := s.RecordEvent(context.Background(), in)
	if err != nil || !created {
		t.Fatalf("record event %s: created %v, %v", in.Ref, created, err)
	}
	return ev
}

func scanProcess(t *testing.T, s Store, at time.Time) repo.EventScanResult {
	t.Helper()
	res, err := s.ProcessChannelEvents(context.Background(), at, 0, scanBoth)
	if err != nil {
		t.Fatalf("process events at %v: %v", at, err)
	}
	return res
}

// scanPlanState is a plan's "status/repay method/card".
func scanPlanState(t *testing.T, s Store, ref string) string {
	t.Helper()
	p, err := s.GetPlan(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	return p.Status + "/" + p.RepayMethod + "/" + p.CardLast4
}

func scanEventRecordIdempotentByRef(t *testing.T, s Store) {
	ctx := context.Background()
	Customer(t, s, "c1")
	Customer(t, s, "c2")
	Plan(t, s, "p1", "c1", scanDues)
	in := repo.EventInput{Ref: "e1", Kind: repo.EventCardBound, Scope: repo.ScopePlan, PlanRef: "p1",
		OccurredAt: scanT0, Payload: repo.JSONObject(`{"card_last4": "1234", "bank": "ICBC"}`), Now: scanT0}
	first := scanRecord(t, s, in)
	if first.ID == 0 || first.Ref != "e1" || first.Kind != repo.EventCardBound || first.Scope != repo.ScopePlan ||
		first.CustomerRef != "c1" || first.PlanRef != "p1" || first.ProcessedAt != nil ||
		!first.OccurredAt.Equal(scanT0) || !first.ReceivedAt.Equal(scanT0) {
		t.Fatalf("stored %+v", first)
	}
	// The same event again, with the instant in another zone and the payload
	// spelt differently: the stored event, nothing new.
	same := in
	same.OccurredAt = scanT0.In(time.FixedZone("CST", 8*3600))
	same.Payload = repo.JSONObject(`{ "bank":"ICBC","card_last4":"1234" }`)
	same.CustomerRef = "c1"
	same.Now = scanT0.Add(time.Hour)
	got, created, err := s.RecordEvent(ctx, same)
	if err != nil || created || got.ID != first.ID || !got.ReceivedAt.Equal(first.ReceivedAt) {
		t.Fatalf("replay = %+v created %v, %v", got, created, err)
	}
	for name, mod := range map[string]func(*repo.EventInput){
		"payload":  func(e *repo.EventInput) { e.Payload = repo.JSONObject(`{"card_last4":"9999","bank":"ICBC"}`) },
		"instant":  func(e *repo.EventInput) { e.OccurredAt = scanT0.Add(time.Second) },
		"kind":     func(e *repo.EventInput) { e.Kind = repo.EventCardUnbound },
		"scope":    func(e *repo.EventInput) { e.Scope, e.PlanRef, e.CustomerRef = repo.ScopeCustomer, "", "c1" },
		"customer": func(e *repo.EventInput) { e.Scope, e.PlanRef, e.CustomerRef = repo.ScopeCustomer, "", "c2" },
	} {
		other := in
		mod(&other)
		if _, _, err := s.RecordEvent(ctx, other); !errors.Is(err, repo.ErrConflict) {
			t.Errorf("same ref, other %s: %v, want ErrConflict", name, err)
		}
	}
	stored, err := s.GetEvent(ctx, "e1")
	if err != nil || stored.ID != first.ID || stored.PlanRef != "p1" {
		t.Fatalf("GetEvent = %+v, %v", stored, err)
	}
	var payload map[string]string
	if err := json.Unmarshal(stored.Payload, &payload); err != nil || payload["card_last4"] != "1234" || payload["bank"] != "ICBC" {
		t.Errorf("stored payload %s (%v)", stored.Payload, err)
	}
	if _, err := s.GetEvent(ctx, "nope"); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("GetEvent of an unknown ref: %v, want ErrNotFound", err)
	}
}

func scanEventRecordRefusesUnknownTargets(t *testing.T, s Store) {
	ctx := context.Background()
	Customer(t, s, "c1")
	Customer(t, s, "c2")
	Plan(t, s, "p1", "c1", scanDues)
	for name, tt := range map[string]struct {
		in   repo.EventInput
		want error
	}{
		"unknown customer": {repo.EventInput{Kind: repo.EventVerificationChanged, Scope: repo.ScopeCustomer, CustomerRef: "nobody"}, repo.ErrNotFound},
		"unknown plan":     {repo.EventInput{Kind: repo.EventPlanCancelled, Scope: repo.ScopePlan, PlanRef: "nope"}, repo.ErrNotFound},
		"unknown seq":      {repo.EventInput{Kind: repo.EventAutodebitFailed, Scope: repo.ScopePlan, PlanRef: "p1", InstallmentSeq: 3}, repo.ErrNotFound},
		"another's plan":   {repo.EventInput{Kind: repo.EventPlanCancelled, Scope: repo.ScopePlan, PlanRef: "p1", CustomerRef: "c2"}, repo.ErrConflict},
		"unknown kind":     {repo.EventInput{Kind: "card_lost", Scope: repo.ScopeAll}, nil},
	} {
		tt.in.Ref, tt.in.OccurredAt, tt.in.Now, tt.in.Payload = "e-"+name, scanT0, scanT0, repo.JSONObject(`{}`)
		_, _, err := s.RecordEvent(ctx, tt.in)
		if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
			t.Errorf("%s: %v, want %v", name, err, tt.want)
		}
		if _, err := s.GetEvent(ctx, tt.in.Ref); !errors.Is(err, repo.ErrNotFound) {
			t.Errorf("%s: stored (%v)", name, err)
		}
	}
}

// scanEventList lists the event notices, oldest first, as "event-kind
// customer plan#seq channel status reason".
func scanEventList(t *testing.T, s Store) []string {
	t.Helper()
	var out []string
	for _, n := range scanNotices(t, s) {
		if n.Stage == "" {
			out = append(out, fmt.Sprintf("%s %s %s#%d %s %s %s", n.Kind, n.CustomerRef, n.PlanRef, n.Seq, n.Channel, n.Status, n.StatusReason))
		}
	}
	return out
}

func scanEventCardUnboundNamesNextBill(t *testing.T, s Store) {
	ctx := context.Background()
	Customer(t, s, "c1")
	auto := func(p *repo.Plan) { p.RepayMethod, p.CardLast4 = "auto_debit", "6789" }
	Plan(t, s, "later", "c1", []repo.Date{repo.NewDate(2026, 12, 5)}, auto)
	Plan(t, s, "sooner", "c1", []repo.Date{repo.NewDate(2026, 11, 1), repo.NewDate(2026, 12, 1)}, auto,
		func(p *repo.Plan) { p.Installments[0].Paid = 50000 })
	Plan(t, s, "closed", "c1", scanDues, auto, func(p *repo.Plan) { p.Status = repo.PlanClosed })
	scanRecord(t, s, repo.EventInput{Ref: "unbind-1", Kind: repo.EventCardUnbound, Scope: repo.ScopeCustomer, CustomerRef: "c1"})
	res := scanProcess(t, s, scanT0)
	want := "[{card_unbound  email pending 1} {card_unbound  sms pending 1}]"
	if res.Events != 1 || res.PlansChanged != 2 || fmt.Sprint(res.Queued) != want {
		t.Fatalf("scan = %+v, want 1 event, 2 plans changed, queued %s", res, want)
	}
	for ref, want := range map[string]string{"later": "active/manual/6789", "sooner": "active/manual/6789", "closed": "closed/auto_debit/6789"} {
		if got := scanPlanState(t, s, ref); got != want {
			t.Errorf("plan %s = %s, want %s", ref, got, want)
		}
	}
	scanWant(t, scanEventList(t, s), "card_unbound c1 sooner#2 sms pending ", "card_unbound c1 sooner#2 email pending ")
	for _, n := range scanNotices(t, s) {
		full, err := s.GetNotification(ctx, n.ID)
		if err != nil || !full.NotBefore.Equal(scanT0) || full.DedupKey == nil ||
			*full.DedupKey != fmt.Sprintf("event:%d:%d:%s", *full.EventID, full.CustomerID, full.Channel) {
			t.Errorf("notice %+v (%v), want not before the event and keyed event:<event>:<customer>:<channel>", full, err)
		}
	}
	stored, err := s.GetEvent(ctx, "unbind-1")
	if err != nil || stored.ProcessedAt == nil || !stored.ProcessedAt.Equal(scanT0) {
		t.Fatalf("event after scan = %+v, %v", stored, err)
	}
	if res := scanProcess(t, s, scanT0.Add(time.Hour)); res.Events != 0 || res.Total() != 0 {
		t.Fatalf("second scan = %+v", res)
	}
}

// A card unbound names a plan whose auto-debit it stopped, not a plan that
// paid manually anyway, even when that one's bill comes first; a card
// unbound from a customer none of whose plans it debited changes nothing and
// tells no one.
func scanEventCardUnboundNamesAPlanItStopped(t *testing.T, s Store) {
	Customer(t, s, "c1")
	Plan(t, s, "manual", "c1", []repo.Date{repo.NewDate(2026, 12, 1)})
	Plan(t, s, "auto", "c1", []repo.Date{repo.NewDate(2026, 12, 3)},
		func(p *repo.Plan) { p.RepayMethod, p.CardLast4 = "auto_debit", "5555" })
	Customer(t, s, "c2")
	Plan(t, s, "c2-manual", "c2", []repo.Date{repo.NewDate(2026, 12, 1)})
	for _, c := range []string{"c1", "c2"} {
		scanRecord(t, s, repo.EventInput{Ref: "unbind-" + c, Kind: repo.EventCardUnbound, Scope: repo.ScopeCustomer,
			CustomerRef: c, Payload: repo.JSONObject(`{"card_last4":"5555"}`)})
	}
	res := scanProcess(t, s, scanT0)
	if res.Events != 2 || res.PlansChanged != 1 || res.Superseded != 1 || res.Total() != 2 {
		t.Fatalf("scan = %+v, want c1's auto plan changed and told, c2's event changing nothing", res)
	}
	scanWant(t, scanEventList(t, s), "card_unbound c1 auto#1 sms pending ", "card_unbound c1 auto#1 email pending ")
}

func scanEventCardBoundOnePlan(t *testing.T, s Store) {
	Customer(t, s, "c1")
	Plan(t, s, "p1", "c1", scanDues)
	Plan(t, s, "p2", "c1", scanDues)
	scanRecord(t, s, repo.EventInput{Ref: "bind-1", Kind: repo.EventCardBound, Scope: repo.ScopePlan, PlanRef: "p1",
		Payload: repo.JSONObject(`{"card_last4":"1234"}`)})
	// A customer-scope bind names the newest active plan (no installment).
	scanRecord(t, s, repo.EventInput{Ref: "bind-2", Kind: repo.EventCardBound, Scope: repo.ScopeCustomer, CustomerRef: "c1",
		OccurredAt: scanT0.Add(time.Minute), Payload: repo.JSONObject(`{"card_last4":"12345"}`)})
	res := scanProcess(t, s, scanT0.Add(time.Minute))
	if res.Events != 2 || res.PlansChanged != 2 || res.Total() != 4 {
		t.Fatalf("scan = %+v", res)
	}
	// The second card is not four digits: the method changes, the card stays.
	if got := scanPlanState(t, s, "p1") + " " + scanPlanState(t, s, "p2"); got != "active/auto_debit/1234 active/auto_debit/" {
		t.Errorf("plans = %s", got)
	}
	scanWant(t, scanEventList(t, s), "card_bound c1 p1#0 sms pending ", "card_bound c1 p1#0 email pending ",
		"card_bound c1 p2#0 sms pending ", "card_bound c1 p2#0 email pending ")
}

func scanEventLateCardEventChangesNothing(t *testing.T, s Store) {
	Customer(t, s, "c1")
	Plan(t, s, "p1", "c1", scanDues, func(p *repo.Plan) { p.RepayMethod, p.CardLast4 = "auto_debit", "6789" })
	scanRecord(t, s, repo.EventInput{Ref: "unbind", Kind: repo.EventCardUnbound, Scope: repo.ScopePlan, PlanRef: "p1",
		OccurredAt: scanT0.Add(time.Hour)})
	scanProcess(t, s, scanT0.Add(time.Hour))
	// A bind that happened before the unbind arrives afterwards: applying it
	// would silently restart auto-debit on an unbound card.
	scanRecord(t, s, repo.EventInput{Ref: "bind", Kind: repo.EventCardBound, Scope: repo.ScopeCustomer, CustomerRef: "c1",
		Payload: repo.JSONObject(`{"card_last4":"1111"}`)})
	res := scanProcess(t, s, scanT0.Add(2*time.Hour))
	if res.Events != 1 || res.Superseded != 1 || res.Total() != 0 || res.PlansChanged != 0 {
		t.Fatalf("late event scan = %+v", res)
	}
	if got := scanPlanState(t, s, "p1"); got != "active/manual/6789" {
		t.Errorf("plan = %s", got)
	}
}

func scanEventPlanCancelledSuppresses(t *testing.T, s Store) {
	Customer(t, s, "c1")
	Plan(t, s, "p1", "c1", scanDues)
	Plan(t, s, "p2", "c1", scanDues)
	scanDue(t, s, scanShanghai(2026, 11, 21, 10)) // due_soon for both plans, sms and email
	scanRecord(t, s, repo.EventInput{Ref: "cancel-1", Kind: repo.EventPlanCancelled, Scope: repo.ScopePlan, PlanRef: "p1",
		OccurredAt: scanShanghai(2026, 11, 21, 11)})
	res := scanProcess(t, s, scanShanghai(2026, 11, 21, 11))
	if res.PlansChanged != 1 || res.Suppressed != 2 || res.Total() != 2 {
		t.Fatalf("scan = %+v", res)
	}
	scanWant(t, scanList(t, s),
		"c1 p1#1 due_soon due_soon email suppressed plan cancelled", "c1 p1#1 due_soon due_soon sms suppressed plan cancelled",
		"c1 p2#1 due_soon due_soon email pending ", "c1 p2#1 due_soon due_soon sms pending ",
		"c1 p1#0 plan_cancelled  sms pending ", "c1 p1#0 plan_cancelled  email pending ")
	if got := scanPlanState(t, s, "p1"); got != "cancelled/manual/" {
		t.Errorf("p1 = %s", got)
	}
	// The cancelled plan gets no more reminders.
	if res := scanDue(t, s, scanShanghai(2026, 11, 24, 10)); res.Total() != 2 {
		t.Errorf("due_today queued %v, want p2's only", res.Queued)
	}
}

// A plan_cancelled event for the plan whose notice leads a digest leaves
// that notice pending: suppressed, it would end the digest, and the bills
// of the customer's other plans it covers (skipped "in digest #…") would
// never hear of that stage. The dispatcher's pre-send re-check then hands
// the digest over to the first bill still due, as it does after a plan
// push cancels the plan. A cancelled plan's notice that leads no other
// plan's bill is suppressed as before.
func scanEventPlanCancelledKeepsOtherPlansDigest(t *testing.T, s Store) {
	ctx := context.Background()
	Customer(t, s, "c1")
	Plan(t, s, "p1", "c1", scanDue24)
	Plan(t, s, "p2", "c1", scanDue24)
	Plan(t, s, "p3", "c1", scanDue24)
	Customer(t, s, "c2")
	Plan(t, s, "q1", "c2", scanDue24)
	scanDue(t, s, scanShanghai(2026, 11, 21, 8), scanDigestSMS)
	if got := scanDigestOf(t, s); got["p2"] != "p1" || got["p3"] != "p1" {
		t.Fatalf("digests %v, want p2 and p3 in p1's", got)
	}
	for _, ref := range []string{"p1", "q1"} {
		scanRecord(t, s, repo.EventInput{Ref: "cancel-" + ref, Kind: repo.EventPlanCancelled, Scope: repo.ScopePlan, PlanRef: ref,
			OccurredAt: scanShanghai(2026, 11, 21, 9)})
	}
	if res := scanProcess(t, s, scanShanghai(2026, 11, 21, 9)); res.PlansChanged != 2 || res.Suppressed != 1 {
		t.Fatalf("scan = %+v, want both plans cancelled and q1's reminder alone suppressed", res)
	}
	var reminders []string
	leader := ""
	for _, n := range scanNotices(t, s) {
		if n.Kind == "due_soon" {
			reminders = append(reminders, fmt.Sprintf("%s %s %s", n.PlanRef, n.Status, n.StatusReason))
		}
		if n.PlanRef == "p1" && n.Kind == "due_soon" {
			leader = fmt.Sprintf("in digest #%d", n.ID)
		}
	}
	scanWant(t, reminders, "p1 pending ", "p2 skipped "+leader, "p3 skipped "+leader, "q1 suppressed plan cancelled")
	claims, err := s.ClaimNotifications(ctx, "w1", scanShanghai(2026, 11, 21, 10), scanShanghai(2026, 11, 21, 10), time.Minute, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	var lead []repo.Claim // the events' own notices are claimed too
	for _, c := range claims {
		if c.Kind == "due_soon" {
			lead = append(lead, c)
		}
	}
	if len(lead) != 1 || !lead[0].LeadsDigest() || lead[0].Plan.Ref != "p1" {
		t.Fatalf("claimed %d reminders, want p1's notice, leading the digest", len(lead))
	}
	items, err := s.DigestItems(ctx, lead[0].ID)
	if err != nil || len(items) != 3 || items[0].Plan.Status != repo.PlanCancelled ||
		items[1].Plan.Status != repo.PlanActive || items[2].Plan.Status != repo.PlanActive {
		t.Fatalf("digest items %+v, %v: want p1 (cancelled), p2 and p3 for the re-check to hand over", items, err)
	}
}

// A notice whose bill's due date moved later after it was queued waits for
// its stage's day (the dispatcher defers it), so a bill queued later the
// same local day for the same stage is not grouped behind it: it would
// wait with it, a day late, or miss its stage.
func scanDigestLeavesABillMovedLater(t *testing.T, s Store) {
	ctx := context.Background()
	Customer(t, s, "c1")
	Plan(t, s, "p1", "c1", scanDue24)
	scanDue(t, s, scanShanghai(2026, 11, 21, 8), scanDigestSMS)
	p, err := s.GetPlan(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	p.Installments[0].DueDate = repo.NewDate(2026, 12, 4) // due_soon from 1 December
	if _, err := s.UpsertPlan(ctx, p, scanShanghai(2026, 11, 21, 9)); err != nil {
		t.Fatal(err)
	}
	Plan(t, s, "p2", "c1", scanDue24)
	scanDue(t, s, scanShanghai(2026, 11, 21, 11), scanDigestSMS)
	if got := scanDigestOf(t, s); got["p1"] != "" || got["p2"] != "" {
		t.Fatalf("digests %v, want p2's notice on its own, not behind p1's, which waits for 1 December", got)
	}
	for _, n := range scanNotices(t, s) {
		if n.Status != repo.StatusPending {
			t.Errorf("%s's notice is %s, want pending", n.PlanRef, n.Status)
		}
	}
}

func scanEventAllScopeFansOut(t *testing.T, s Store) {
	Customer(t, s, "a")
	Customer(t, s, "b", func(c *repo.Customer) { c.SMSOptOut = true })
	Customer(t, s, "c", func(c *repo.Customer) { c.Email = "" })
	Customer(t, s, "inactive")
	Customer(t, s, "planless")
	Plan(t, s, "pa", "a", scanDues)
	Plan(t, s, "pa2", "a", scanDues)
	Plan(t, s, "pb", "b", scanDues)
	Plan(t, s, "pc", "c", scanDues)
	Plan(t, s, "px", "inactive", scanDues, func(p *repo.Plan) { p.Status = repo.PlanCancelled })
	scanRecord(t, s, repo.EventInput{Ref: "moved", Kind: repo.EventRepaymentEntryMoved, Scope: repo.ScopeAll,
		Payload: repo.JSONObject(`{"app_name":"Example Pay","url":"https://pay.example.com/app"}`)})
	// service_closed names each customer's next bill: a's pa (the older
	// of two plans due the same day goes... the newer, by id), b's, c's.
	scanRecord(t, s, repo.EventInput{Ref: "closed", Kind: repo.EventServiceClosed, Scope: repo.ScopeAll,
		OccurredAt: scanT0.Add(time.Minute)})
	res := scanProcess(t, s, scanT0.Add(time.Minute))
	want := "[{repayment_entry_moved  email pending 2} {repayment_entry_moved  email suppressed 1} " +
		"{repayment_entry_moved  sms pending 2} {repayment_entry_moved  sms suppressed 1} " +
		"{service_closed  email pending 2} {service_closed  email suppressed 1} " +
		"{service_closed  sms pending 2} {service_closed  sms suppressed 1}]"
	if res.Events != 2 || fmt.Sprint(sortQueued(res.Queued)) != want {
		t.Fatalf("scan = %+v, want queued %s", res, want)
	}
	got := scanEventList(t, s)
	sort.Strings(got)
	scanWant(t, got,
		"repayment_entry_moved a #0 email pending ", "repayment_entry_moved a #0 sms pending ",
		"repayment_entry_moved b #0 email pending ", "repayment_entry_moved b #0 sms suppressed opted_out",
		"repayment_entry_moved c #0 email suppressed no_email", "repayment_entry_moved c #0 sms pending ",
		"service_closed a pa2#1 email pending ", "service_closed a pa2#1 sms pending ",
		"service_closed b pb#1 email pending ", "service_closed b pb#1 sms suppressed opted_out",
		"service_closed c pc#1 email suppressed no_email", "service_closed c pc#1 sms pending ")
}

// sortQueued orders counts by kind, channel, status: event scans add up
// batches, whose order is the store's.
func sortQueued(q []repo.QueuedCount) []repo.QueuedCount {
	sort.Slice(q, func(i, j int) bool {
		return fmt.Sprint(q[i].Kind, " ", q[i].Channel, " ", q[i].Status) < fmt.Sprint(q[j].Kind, " ", q[j].Channel, " ", q[j].Status)
	})
	return q
}

func scanEventAutodebitFailedNamesInstallment(t *testing.T, s Store) {
	Customer(t, s, "c1")
	Plan(t, s, "p1", "c1", scanDues, func(p *repo.Plan) { p.RepayMethod = "auto_debit" })
	Plan(t, s, "paid", "c1", scanDues[:1], func(p *repo.Plan) { p.Installments[0].Paid = 50000 })
	scanRecord(t, s, repo.EventInput{Ref: "f-seq", Kind: repo.EventAutodebitFailed, Scope: repo.ScopePlan, PlanRef: "p1",
		Payload: repo.JSONObject(`{"seq":2,"reason":"insufficient_funds"}`), InstallmentSeq: 2})
	scanRecord(t, s, repo.EventInput{Ref: "f-next", Kind: repo.EventAutodebitFailed, Scope: repo.ScopePlan, PlanRef: "p1",
		OccurredAt: scanT0.Add(time.Second)})
	scanRecord(t, s, repo.EventInput{Ref: "f-nothing", Kind: repo.EventAutodebitFailed, Scope: repo.ScopePlan, PlanRef: "paid",
		OccurredAt: scanT0.Add(2 * time.Second)})
	if res := scanProcess(t, s, scanT0.Add(time.Minute)); res.Events != 3 || res.Total() != 4 {
		t.Fatalf("scan = %+v", res)
	}
	scanWant(t, scanEventList(t, s),
		"autodebit_failed c1 p1#2 sms pending ", "autodebit_failed c1 p1#2 email pending ",
		"autodebit_failed c1 p1#1 sms pending ", "autodebit_failed c1 p1#1 email pending ")
}

func scanEventWaitsUntilItOccurs(t *testing.T, s Store) {
	Customer(t, s, "c1")
	scanRecord(t, s, repo.EventInput{Ref: "v1", Kind: repo.EventVerificationChanged, Scope: repo.ScopeCustomer, CustomerRef: "c1",
		OccurredAt: scanT0.Add(time.Hour)})
	if res := scanProcess(t, s, scanT0); res.Events != 0 {
		t.Fatalf("an event processed before it occurred: %+v", res)
	}
	if res := scanProcess(t, s, scanT0.Add(time.Hour)); res.Events != 1 || res.Total() != 2 {
		t.Fatalf("scan = %+v", res)
	}
	// Without an active plan the notice names none.
	scanWant(t, scanEventList(t, s), "verification_changed c1 #0 sms pending ", "verification_changed c1 #0 email pending ")
}

func scanEventConcurrentScansQueueOnce(t *testing.T, s Store) {
	ctx := context.Background()
	for i := range 12 {
		ref := fmt.Sprintf("c%02d", i)
		Customer(t, s, ref)
		Plan(t, s, "p"+ref, ref, scanDues, func(p *repo.Plan) { p.RepayMethod, p.CardLast4 = "auto_debit", "1111" })
		scanRecord(t, s, repo.EventInput{Ref: "unbind-" + ref, Kind: repo.EventCardUnbound, Scope: repo.ScopeCustomer,
			CustomerRef: ref, OccurredAt: scanT0.Add(time.Duration(i) * time.Second)})
	}
	scanRecord(t, s, repo.EventInput{Ref: "moved", Kind: repo.EventRepaymentEntryMoved, Scope: repo.ScopeAll,
		Payload: repo.JSONObject(`{"app_name":"Example Pay"}`), OccurredAt: scanT0.Add(time.Minute)})
	var wg sync.WaitGroup
	var mu sync.Mutex
	events, queued, changed := 0, 0, 0
	for range 4 {
		wg.Go(func() {
			// Small batches, so scans interleave between transactions.
			res, err := s.ProcessChannelEvents(ctx, scanT0.Add(time.Minute), 3, scanBoth)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && !errors.Is(err, repo.ErrBusy) {
				t.Error(err)
			}
			events, queued, changed = events+res.Events, queued+res.Total(), changed+res.PlansChanged
		})
	}
	wg.Wait()
	rest := scanProcess(t, s, scanT0.Add(time.Minute))
	if rest.Events+events != 13 || rest.Total()+queued != 48 || rest.PlansChanged+changed != 12 {
		t.Fatalf("processed %d+%d events, queued %d+%d, changed %d+%d; want 13 events, 48 notices, 12 plans once",
			events, rest.Events, queued, rest.Total(), changed, rest.PlansChanged)
	}
	if n := len(scanNotices(t, s)); n != 48 {
		t.Fatalf("%d notices, want 48", n)
	}
}

func scanEventPreviewWritesNothing(t *testing.T, s Store) {
	ctx := context.Background()
	Customer(t, s, "c1")
	Plan(t, s, "p1", "c1", scanDues)
	for i := range 3 {
		scanRecord(t, s, repo.EventInput{Ref: fmt.Sprint("v", i), Kind: repo.EventVerificationChanged, Scope: repo.ScopeCustomer, CustomerRef: "c1"})
	}
	scanRecord(t, s, repo.EventInput{Ref: "cancel", Kind: repo.EventPlanCancelled, Scope: repo.ScopePlan, PlanRef: "p1"})
	res, err := s.PreviewChannelEvents(ctx, scanT0, 2, scanBoth)
	if err != nil || res.Events != 4 || res.Total() != 8 || res.PlansChanged != 1 {
		t.Fatalf("preview = %+v, %v", res, err)
	}
	if n := len(scanNotices(t, s)); n != 0 {
		t.Fatalf("preview wrote %d notices", n)
	}
	if ev, err := s.GetEvent(ctx, "cancel"); err != nil || ev.ProcessedAt != nil {
		t.Fatalf("preview marked the event processed: %+v %v", ev, err)
	}
	if got := scanPlanState(t, s, "p1"); got != "active/manual/" {
		t.Fatalf("preview cancelled the plan: %s", got)
	}
	if res := scanProcess(t, s, scanT0); res.Events != 4 || res.Total() != 8 {
		t.Fatalf("scan after preview = %+v, want what the preview said", res)
	}
}

func scanEventUnknownChannel(t *testing.T, s Store) {
	Customer(t, s, "c1")
	scanRecord(t, s, repo.EventInput{Ref: "v1", Kind: repo.EventVerificationChanged, Scope: repo.ScopeCustomer, CustomerRef: "c1"})
	if _, err := s.ProcessChannelEvents(context.Background(), scanT0, 0, []string{"sms", "fax"}); err == nil {
		t.Fatal("a scan on channel fax ran")
	}
	if ev, err := s.GetEvent(context.Background(), "v1"); err != nil || ev.ProcessedAt != nil {
		t.Fatalf("refused scan processed the event: %+v %v", ev, err)
	}
	// No channels: the event is applied and marked, nothing is queued.
	if res, err := s.ProcessChannelEvents(context.Background(), scanT0, 0, nil); err != nil || res.Events != 1 || res.Total() != 0 {
		t.Fatalf("scan without channels = %+v, %v", res, err)
	}
}

func scanPurge(t *testing.T, s Store, before time.Time, batch int) repo.Purged {
	t.Helper()
	p, err := s.PurgeFinished(context.Background(), before, batch)
	if err != nil {
		t.Fatalf("purge before %v: %v", before, err)
	}
	return p
}

// Finished notices older than the cutoff go, in small batches; notices still
// to send and newer ones stay; unmatched receipts older than it go too.
func scanRetentionRemovesOldFinished(t *testing.T, s Store) {
	ctx := context.Background()
	Customer(t, s, "c1", func(c *repo.Customer) { c.SMSOptOut = true })
	Plan(t, s, "p1", "c1", scanDue24)
	t1, t2 := scanShanghai(2026, 11, 21, 10), scanShanghai(2026, 11, 24, 10)
	scanDue(t, s, t1) // due_soon: sms suppressed (opted out), email pending
	scanDue(t, s, t2) // due_today: sms suppressed, email pending; due_soon's email skipped
	// Settled, so its stages are no longer what keeps them going out once
	// (see scanRetentionKeepsStagesOfUnpaidBills).
	if _, err := s.RecordPayment(ctx, repo.PaymentInput{PlanRef: "p1", Seq: 1, Amount: 50000, PaidAt: t2, Now: t2}); err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Time{t1.Add(-time.Hour), t2.Add(time.Hour)} {
		if _, err := s.RecordReceipt(ctx, repo.Receipt{Provider: "webhook", ProviderMsgID: "nobody-" + at.String(),
			Status: "delivered", Raw: "{}", ReceivedAt: at}, at); err != nil {
			t.Fatal(err)
		}
	}
	if p := scanPurge(t, s, t1, 1); p.Notifications != 0 || p.Receipts != 1 {
		t.Fatalf("purge before the first scan removed %+v, want only the older receipt", p)
	}
	if p := scanPurge(t, s, t1.Add(time.Hour), 1); p.Notifications != 1 || p.Receipts != 0 {
		t.Fatalf("purged %+v, want the first scan's suppressed notice and the old receipt", p)
	}
	scanWant(t, scanList(t, s), "c1 p1#1 due_soon due_soon email skipped superseded by due_today",
		"c1 p1#1 due_today due_today email pending ", "c1 p1#1 due_today due_today sms suppressed opted_out")
	if p := scanPurge(t, s, t2.Add(2*time.Hour), 1); p.Notifications != 2 || p.Receipts != 1 {
		t.Fatalf("purged %+v, want 2 notices in batches of 1 and the second receipt", p)
	}
	scanWant(t, scanList(t, s), "c1 p1#1 due_today due_today email pending ")
	if p := scanPurge(t, s, t2.Add(2*time.Hour), 1); p.Total() != 0 {
		t.Fatalf("second run purged %+v, want nothing", p)
	}
}

// A digest's leader stays while a bill it told of is unpaid, even once its
// own bill is paid: it is the only message that reminded the borrower of
// the other bill (its members are "skipped, in digest #…"). Once every bill
// of the digest is settled, the leader and its members go.
func scanRetentionKeepsDigestOfUnpaidBill(t *testing.T, s Store) {
	ctx := context.Background()
	Customer(t, s, "c1")
	Plan(t, s, "p1", "c1", scanDue24)
	Plan(t, s, "p2", "c1", scanDue24)
	scanDue(t, s, scanShanghai(2026, 11, 21, 8), scanDigestSMS)
	// p1's notice leads the digest and goes out; p2's is skipped in it.
	// Then p1's bill is paid: p2's is still owed.
	sentAt := scanShanghai(2026, 11, 21, 9)
	claims, err := s.ClaimNotifications(ctx, "w1", sentAt, sentAt, time.Minute, 10, 0)
	if err != nil || len(claims) != 1 || !claims[0].LeadsDigest() {
		t.Fatalf("claimed %d (%v), want the digest's leader", len(claims), err)
	}
	if err := s.FinishNotifications(ctx, "w1", sentAt, []repo.Outcome{dispatchSent(claims[0], "outbox", "m1", sentAt)}); err != nil {
		t.Fatal(err)
	}
	pay := func(plan string, at time.Time) {
		t.Helper()
		if _, err := s.RecordPayment(ctx, repo.PaymentInput{PlanRef: plan, Seq: 1, Amount: 50000, Ref: "pay-" + plan,
			PaidAt: at, Now: at}); err != nil {
			t.Fatal(err)
		}
	}
	pay("p1", sentAt)
	ns := scanNotices(t, s)
	if len(ns) < 2 || ns[0].Status != "sent" || ns[1].Status != "skipped" {
		t.Fatalf("notices %+v, want p1's sent, p2's skipped in its digest", ns)
	}
	if p := scanPurge(t, s, scanShanghai(2026, 11, 21, 10), 1); p.Notifications != 0 {
		t.Fatalf("purged %+v while p2's bill, which the digest told of, is unpaid: want nothing", p)
	}
	if n, err := s.GetNotification(ctx, ns[0].ID); err != nil || n.Status != "sent" || n.ProviderMsgID != "m1" {
		t.Fatalf("the digest %+v (%v), want it kept with what the provider said of it", n, err)
	}
	if n, err := s.GetNotification(ctx, ns[1].ID); err != nil || n.DigestOf == nil || *n.DigestOf != ns[0].ID {
		t.Fatalf("p2's reminder %+v (%v), want it kept, still in digest #%d", n, err, ns[0].ID)
	}

	// p2 paid too: nothing of the digest is owed, and both notices go.
	pay("p2", scanShanghai(2026, 11, 22, 9))
	if p := scanPurge(t, s, scanShanghai(2026, 11, 22, 10), 1); p.Notifications != 2 {
		t.Fatalf("purged %+v once every bill of the digest is paid, want the leader and its member", p)
	}
	for _, n := range scanNotices(t, s) {
		if n.Kind == "due_soon" {
			t.Fatalf("reminder %+v kept after both bills were paid", n)
		}
	}
}

// A resend of a stage notice that retention keeps (its bill unpaid) is kept
// too: the original failed, the resend is what reached the borrower, and a
// bulk resend run again reads it to skip the original ("already resent").
// Once the bill is paid both go.
func scanRetentionKeepsResendsOfKeptStages(t *testing.T, s Store) {
	ctx := context.Background()
	Customer(t, s, "c1")
	Plan(t, s, "p1", "c1", scanDue24)
	sms := []repo.Stage{{Name: "due_soon", OffsetDays: -3, Kind: "due_soon", Channels: []string{"sms"}}}
	at := scanShanghai(2026, 11, 21, 9)
	scanDue(t, s, at, sms...)
	claims := supportClaim(t, s, at)
	if len(claims) != 1 {
		t.Fatalf("claimed %d, want the due_soon SMS", len(claims))
	}
	supportFinish(t, s, at, "outbox", repo.StatusFailed, claims...)
	res, err := s.Resend(ctx, repo.ResendInput{ID: claims[0].ID, Reason: "outage", Actor: "ops", Now: at.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if resends := supportDispatch(t, s, at.Add(time.Hour), "outbox", repo.StatusSent); len(resends) != 1 {
		t.Fatalf("sent %d, want the resend", len(resends))
	}
	if p := scanPurge(t, s, at.Add(48*time.Hour), 10); p.Notifications != 0 {
		t.Fatalf("purged %+v while the bill is unpaid: want the failed reminder and its resend kept", p)
	}
	if n, err := s.GetNotification(ctx, res.Notification.ID); err != nil || n.Status != "sent" || n.ResendOf == nil || *n.ResendOf != claims[0].ID {
		t.Fatalf("the resend %+v (%v), want it kept, linked to its original", n, err)
	}
	if _, err := s.RecordPayment(ctx, repo.PaymentInput{PlanRef: "p1", Seq: 1, Amount: 50000, Ref: "pay", Now: at.Add(50 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if p := scanPurge(t, s, at.Add(72*time.Hour), 10); p.Notifications < 2 {
		t.Fatalf("purged %+v once the bill is paid, want the reminder and its resend", p)
	}
}

// A bill that stays unpaid past retention keeps its stage notices: their
// dedup keys are what make each stage go out once, so purging them would
// let the next scan remind the borrower of the same stage again. Once the
// bill is settled they go like any other.
func scanRetentionKeepsStagesOfUnpaidBills(t *testing.T, s Store) {
	ctx := context.Background()
	Customer(t, s, "c1", func(c *repo.Customer) { c.SMSOptOut = true })
	Plan(t, s, "p1", "c1", scanDue24)
	overdue7 := scanShanghai(2026, 12, 1, 10)
	scanDue(t, s, overdue7)
	want := []string{"c1 p1#1 overdue overdue_7 email pending ", "c1 p1#1 overdue overdue_7 sms suppressed opted_out"}
	scanWant(t, scanList(t, s), want...)

	// A year and a half later the bill is still unpaid: the retention run
	// removes nothing of it, and the scan queues the stage no second time.
	later := overdue7.AddDate(0, 18, 0)
	if p := scanPurge(t, s, later, 10); p.Notifications != 0 {
		t.Fatalf("purged %+v of a bill still unpaid, want nothing", p)
	}
	if res := scanDue(t, s, later.Add(time.Hour)); res.Total() != 0 {
		t.Fatalf("scan after retention queued %v again", res.Queued)
	}
	scanWant(t, scanList(t, s), want...)

	// Paid, its finished notices go once they are old enough.
	if _, err := s.RecordPayment(ctx, repo.PaymentInput{PlanRef: "p1", Seq: 1, Amount: 50000,
		PaidAt: later, Now: later}); err != nil {
		t.Fatal(err)
	}
	if p := scanPurge(t, s, later.Add(2*time.Hour), 10); p.Notifications != 1 {
		t.Fatalf("purged %+v of a settled bill, want its suppressed SMS", p)
	}
	scanWant(t, scanList(t, s), "c1 p1#1 overdue overdue_7 email pending ")
}
