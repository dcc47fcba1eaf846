// Package storetest is the conformance suite: the same behavioural tests,
// through the same methods, against every store duebell has (PostgreSQL in
// repo, SQLite in repo/sqlite). A store passes when it keeps DESIGN.md's
// rules the way the other does; the PostgreSQL run also proves each test
// against the reference behaviour.
//
// Each area file registers its tests with register; Run runs them all.
// Fixtures go through store methods only, never SQL, so a test reads the
// same on both stores.
package storetest

import (
	"context"
	"sort"
	"testing"
	"time"

	"duebell/repo"
)

// Store is every method the suite exercises: what both stores implement.
type Store interface {
	RescueExpired(ctx context.Context, now time.Time, keep string, providers map[string]string) (int, error)
	ReloadClaim(ctx context.Context, id int64) (repo.Claim, error)
	ExtendLeases(ctx context.Context, owner string, now time.Time, lease time.Duration) ([]int64, error)
	ClaimNotifications(ctx context.Context, owner string, now, leaseNow time.Time, lease time.Duration, limit, smsCap int) ([]repo.Claim, error)
	FinishNotifications(ctx context.Context, owner string, now time.Time, outs []repo.Outcome) error
	GetNotification(ctx context.Context, id int64) (repo.Notification, error)
	ListAttempts(ctx context.Context, notificationID int64) ([]repo.Attempt, error)
	QueueDepth(ctx context.Context) ([]repo.StatusCount, error)
	NextDue(ctx context.Context) (time.Time, bool, error)
	CollectionCounts(ctx context.Context, owner string, leaseNow, since time.Time, kinds []string) (map[int64]repo.CollectionCount, error)
	CollectionSent(ctx context.Context, customerID int64, since time.Time, kinds []string) ([]time.Time, error)
	DigestItems(ctx context.Context, leader int64) ([]repo.DigestItem, error)
	NextBill(ctx context.Context, planID int64) (repo.Installment, error)
	OldestDue(ctx context.Context, now time.Time, channels []string) ([]repo.ChannelAge, error)
	QueueFallbacks(ctx context.Context, now, since time.Time, stages []string, ch string) (int, error)
	RecordReceipt(ctx context.Context, in repo.Receipt, now time.Time) (repo.ReceiptResult, error)
	RecordReceipts(ctx context.Context, ins []repo.Receipt, now time.Time) ([]repo.ReceiptResult, error)
	ListReceipts(ctx context.Context, notificationID int64) ([]repo.Receipt, error)
	OptOut(ctx context.Context, in repo.OptOutInput) (bool, error)
	OpenCircuit(ctx context.Context, c repo.Circuit) error
	CloseCircuit(ctx context.Context, provider string, now time.Time) error
	OpenCircuits(ctx context.Context) ([]repo.Circuit, error)
	UpsertCustomer(ctx context.Context, c repo.Customer, now time.Time) (repo.Customer, error)
	GetCustomer(ctx context.Context, ref string) (repo.Customer, error)
	UpsertPlan(ctx context.Context, p repo.Plan, now time.Time) (repo.Plan, error)
	GetPlan(ctx context.Context, ref string) (repo.Plan, error)
	RecordPayment(ctx context.Context, in repo.PaymentInput) (repo.PaymentResult, error)
	GetLinkTarget(ctx context.Context, notificationID int64) (repo.LinkTarget, error)
	RevokeConsoleSession(ctx context.Context, id string, expires, now time.Time) error
	ConsoleSessionRevoked(ctx context.Context, id string) (bool, error)
	AppendAudit(ctx context.Context, e repo.AuditEntry) error
	ListAudit(ctx context.Context, since time.Time, actor string, limit int) ([]repo.AuditEntry, error)
	FindCustomers(ctx context.Context, q string) ([]repo.CustomerHit, error)
	GetCustomerView(ctx context.Context, ref string) (repo.CustomerView, error)
	DeleteCustomers(ctx context.Context, refs []string) (int, error)
	EffectReport(ctx context.Context, kinds []string, since, until, now time.Time) ([]repo.EffectRow, error)
	GetOverview(ctx context.Context, since, until, now time.Time, loc *time.Location) (repo.Overview, error)
	QueueDueReminders(ctx context.Context, now time.Time, stages []repo.Stage) (repo.ScanResult, error)
	PreviewDueReminders(ctx context.Context, now time.Time, stages []repo.Stage) (repo.ScanResult, error)
	RecordEvent(ctx context.Context, in repo.EventInput) (repo.Event, bool, error)
	GetEvent(ctx context.Context, ref string) (repo.Event, error)
	ProcessChannelEvents(ctx context.Context, now time.Time, batch int, channels []string) (repo.EventScanResult, error)
	PreviewChannelEvents(ctx context.Context, now time.Time, batch int, channels []string) (repo.EventScanResult, error)
	PurgeFinished(ctx context.Context, before time.Time, batch int) (repo.Purged, error)
	SearchNotifications(ctx context.Context, f repo.NoticeFilter, limit int, cursor string) (repo.NoticePage, error)
	GetNotificationDetail(ctx context.Context, id int64) (repo.NoticeDetail, error)
	ResendMatching(ctx context.Context, in repo.BulkResendInput) (repo.BulkResendResult, error)
	Resend(ctx context.Context, in repo.ResendInput) (repo.ResendResult, error)
	BeginImport(ctx context.Context, confirmChannels []string) (repo.ImportTx, error)
}

// Opener returns a new, empty, migrated store, closed when t ends.
type Opener func(t testing.TB) Store

type suite struct {
	name string
	run  func(t *testing.T, open Opener)
}

var suites []suite

// register adds an area's tests (call it from an init function).
func register(name string, run func(t *testing.T, open Opener)) {
	suites = append(suites, suite{name, run})
}

// Run runs every registered test against the stores open returns.
func Run(t *testing.T, open Opener) {
	sort.Slice(suites, func(i, j int) bool { return suites[i].name < suites[j].name })
	for _, s := range suites {
		t.Run(s.name, func(t *testing.T) { s.run(t, open) })
	}
}

// Now is when fixtures are written.
var Now = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// Customer stores a borrower with a phone and an email, in Shanghai, zh-CN;
// edit changes it before it is stored.
func Customer(t testing.TB, s interface {
	UpsertCustomer(ctx context.Context, c repo.Customer, now time.Time) (repo.Customer, error)
}, ref string, edit ...func(*repo.Customer)) repo.Customer {
	t.Helper()
	c := repo.Customer{Ref: ref, Name: "张三", Phone: "+8613812345678", Email: ref + "@example.net",
		Locale: "zh-CN", Timezone: "Asia/Shanghai"}
	for _, e := range edit {
		e(&c)
	}
	out, err := s.UpsertCustomer(context.Background(), c, Now)
	if err != nil {
		t.Fatalf("fixture customer %s: %v", ref, err)
	}
	return out
}

// Plan stores an active manual-repayment plan for customerRef with one
// installment of 500.00 per due date; edit changes it before it is stored.
func Plan(t testing.TB, s interface {
	UpsertPlan(ctx context.Context, p repo.Plan, now time.Time) (repo.Plan, error)
}, ref, customerRef string, dues []repo.Date, edit ...func(*repo.Plan)) repo.Plan {
	t.Helper()
	p := repo.Plan{Ref: ref, CustomerRef: customerRef, Merchant: "优品手机", Title: "iPhone 17 12期",
		Currency: "CNY", Total: int64(len(dues)) * 50000, Periods: len(dues), Status: repo.PlanActive,
		RepayMethod: "manual"}
	for i, d := range dues {
		p.Installments = append(p.Installments, repo.Installment{Seq: i + 1, DueDate: d, Amount: 50000,
			Status: repo.InstallmentPending})
	}
	for _, e := range edit {
		e(&p)
	}
	out, err := s.UpsertPlan(context.Background(), p, Now)
	if err != nil {
		t.Fatalf("fixture plan %s: %v", ref, err)
	}
	return out
}
