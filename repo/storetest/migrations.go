package storetest

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"duebell/kinds"
	"duebell/repo"
)

// MigratingStore is a store whose last migrations can be undone and run
// again by hand: both stores' DB and Migrate.
type MigratingStore interface {
	Store
	DB() *sqlx.DB
	Migrate(ctx context.Context) ([]string, error)
	PendingMigrations(ctx context.Context) ([]repo.Migration, error)
	NewerMigrations(ctx context.Context) ([]int, error)
}

// ReceiptsOnceMigration checks the migration that stores each receipt once
// (version, named name in its store) on a log that holds receipts twice
// (batches posted again before it): the earliest of each report stays, with
// the notice and the applied time a later copy had; receipts that differ,
// or name no message, all stay; afterwards the same report cannot be stored
// twice. s is migrated up to date.
func ReceiptsOnceMigration(t *testing.T, s MigratingStore, version int, name string) {
	t.Helper()
	ctx := context.Background()
	Customer(t, s, "c1")
	Plan(t, s, "p1", "c1", []repo.Date{repo.NewDate(2026, 11, 24)})
	sent := time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC)
	if _, err := s.QueueDueReminders(ctx, sent, []repo.Stage{{Name: kinds.DueSoon, OffsetDays: -3, Kind: kinds.DueSoon,
		Channels: []string{"sms"}}}); err != nil {
		t.Fatal(err)
	}
	db := s.DB()
	var notice int64
	if err := db.GetContext(ctx, &notice, `SELECT id FROM notifications`); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DROP INDEX sms_receipts_once`, `DELETE FROM schema_migrations WHERE version = ` + strconv.Itoa(version)} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	reported, applied := sent.Add(5*time.Second), sent.Add(time.Minute)
	type row struct {
		msgID, outID, status string
		reported             *time.Time
		notice               *int64
		applied              *time.Time
	}
	for _, rc := range []row{
		{"biz-1", "", "delivered", &reported, nil, nil},            // 1: came before the send was recorded
		{"biz-1", "", "delivered", &reported, &notice, &applied},   // 2: posted again, weighed
		{"biz-1", "", "delivered", &reported, &notice, &reported},  // 3: and again
		{"biz-1", "", "undelivered", &reported, &notice, &applied}, // 4: another outcome
		{"biz-1", "", "delivered", nil, &notice, &applied},         // 5: no time: another report
		{"", "", "delivered", &reported, nil, nil},                 // 6: names no message
		{"", "", "delivered", &reported, nil, nil},                 // 7: … nor this one
		{"", "gw-1", "undelivered", nil, nil, nil},                 // 8: by out-id alone
		{"", "gw-1", "undelivered", nil, nil, nil},                 // 9: … posted again
	} {
		if _, err := db.ExecContext(ctx, `INSERT INTO sms_receipts (provider, provider_msg_id, out_id, status, code,
			reported_at, received_at, notification_id, applied_at, raw) VALUES ('aliyun', $1, $2, $3, 'DELIVERED', $4, $5, $6, $7, '{}')`,
			rc.msgID, rc.outID, rc.status, rc.reported, sent, rc.notice, rc.applied); err != nil {
			t.Fatal(err)
		}
	}
	if done, err := s.Migrate(ctx); err != nil || !slices.Equal(done, []string{name}) {
		t.Fatalf("migrate: %v, %v", done, err)
	}
	var kept []struct {
		ID      int64      `db:"id"`
		Notice  *int64     `db:"notification_id"`
		Applied *time.Time `db:"applied_at"`
	}
	if err := db.SelectContext(ctx, &kept, `SELECT id, notification_id, applied_at FROM sms_receipts ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, k := range kept {
		ids = append(ids, k.ID)
	}
	if !slices.Equal(ids, []int64{1, 4, 5, 6, 7, 8}) {
		t.Fatalf("receipts kept %v, want 1, 4, 5, 6, 7, 8", ids)
	}
	if k := kept[0]; k.Notice == nil || *k.Notice != notice || k.Applied == nil || !k.Applied.Equal(reported) {
		t.Errorf("the earliest copy kept %+v, want the notice and the first applied time of its copies", k)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO sms_receipts (provider, provider_msg_id, status, code, reported_at,
		received_at, raw) VALUES ('aliyun', 'biz-1', 'delivered', 'DELIVERED', $1, $2, '{}')`, reported, sent); err == nil {
		t.Errorf("a receipt stored twice after the migration")
	}
}

// laterColumnsSQL is what a later release's migration typically does:
// columns added to the tables the daemon reads whole (nullable, or with a
// default, so an older binary's inserts still work).
var laterColumnsSQL = []string{
	`ALTER TABLE notifications ADD COLUMN later_release text NOT NULL DEFAULT ''`,
	`ALTER TABLE customers ADD COLUMN later_release text`,
	`ALTER TABLE plans ADD COLUMN later_release text`,
	`ALTER TABLE installments ADD COLUMN later_release text`,
	`ALTER TABLE channel_events ADD COLUMN later_release text`,
	`ALTER TABLE delivery_attempts ADD COLUMN later_release text`,
	`INSERT INTO schema_migrations (version, name) VALUES (999, '999_later_release')`,
}

// NewerSchema checks that a binary keeps working on a schema a later
// release migrated (README, Production: a replica whose binary is older
// than the schema keeps running while the replicas are rolled): the
// release's migrations ran while it served, adding columns to the tables it
// reads whole. It keeps taking pushes, scanning, claiming, sending and
// answering support; the statements it prepared before the migration too.
func NewerSchema(t *testing.T, s MigratingStore) {
	t.Helper()
	ctx := context.Background()
	due := repo.NewDate(2026, 11, 24)
	stages := []repo.Stage{{Name: kinds.DueSoon, OffsetDays: -3, Kind: kinds.DueSoon, Channels: []string{"sms"}}}
	scanAt := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	sendAt := scanAt.Add(2 * time.Hour)
	// Before the migration: a claim and a finish, as a running daemon's.
	Customer(t, s, "c1")
	Plan(t, s, "p1", "c1", []repo.Date{due})
	if _, err := s.QueueDueReminders(ctx, scanAt, stages); err != nil {
		t.Fatal(err)
	}
	claims, err := s.ClaimNotifications(ctx, "old", sendAt, sendAt, time.Minute, 10, 5)
	if err != nil || len(claims) != 1 {
		t.Fatalf("claim before the migration: %d, %v", len(claims), err)
	}
	sent := func(c repo.Claim, msgID string) repo.Outcome {
		return repo.Outcome{ID: c.ID, Status: repo.StatusSent, Provider: "webhook", ProviderMsgID: msgID, SentAt: &sendAt,
			Attempt: &repo.Attempt{N: c.Attempts, Channel: c.Channel, Provider: "webhook", StartedAt: sendAt,
				FinishedAt: sendAt, Outcome: repo.OutcomeSent, ProviderMsgID: msgID}}
	}
	if err := s.FinishNotifications(ctx, "old", sendAt, []repo.Outcome{sent(claims[0], "m1")}); err != nil {
		t.Fatal(err)
	}

	for _, q := range laterColumnsSQL {
		if _, err := s.DB().ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// Nothing is pending for this binary (it starts), and the schema is
	// known to be ahead of it (migrate says so).
	if pending, err := s.PendingMigrations(ctx); err != nil || len(pending) != 0 {
		t.Errorf("pending on the newer schema: %v, %v; want none", pending, err)
	}
	if newer, err := s.NewerMigrations(ctx); err != nil || !slices.Equal(newer, []int{999}) {
		t.Errorf("newer migrations: %v, %v; want [999]", newer, err)
	}

	if _, err := s.UpsertCustomer(ctx, repo.Customer{Ref: "c2", Name: "李四", Phone: "+8613812345679",
		Locale: "zh-CN", Timezone: "Asia/Shanghai"}, Now); err != nil {
		t.Errorf("customer push on the newer schema: %v", err)
	}
	if _, err := s.GetCustomer(ctx, "c1"); err != nil {
		t.Errorf("customer read on the newer schema: %v", err)
	}
	if _, err := s.UpsertPlan(ctx, repo.Plan{Ref: "p2", CustomerRef: "c2", Merchant: "优品手机", Title: "iPhone",
		Currency: "CNY", Total: 50000, Periods: 1, Status: repo.PlanActive, RepayMethod: "manual",
		Installments: []repo.Installment{{Seq: 1, DueDate: due, Amount: 50000, Status: repo.InstallmentPending}}},
		Now); err != nil {
		t.Errorf("plan push on the newer schema: %v", err)
	}
	if _, err := s.GetPlan(ctx, "p1"); err != nil {
		t.Errorf("plan read on the newer schema: %v", err)
	}
	if res, err := importTry(s, repo.ImportBatch{Customers: []repo.ImportCustomer{importCust(1, "c3")}}, Now); err != nil ||
		len(res) != 1 || res[0].Err != nil {
		t.Errorf("import on the newer schema: %+v, %v", res, err)
	}
	if _, err := s.QueueDueReminders(ctx, scanAt, stages); err != nil {
		t.Errorf("scan on the newer schema: %v", err)
	}
	claims, err = s.ClaimNotifications(ctx, "old", sendAt, sendAt, time.Minute, 10, 5)
	if err != nil || len(claims) != 1 {
		t.Fatalf("claim on the newer schema: %d, %v", len(claims), err)
	}
	if err := s.FinishNotifications(ctx, "old", sendAt, []repo.Outcome{sent(claims[0], "m2")}); err != nil {
		t.Fatalf("finish on the newer schema: %v", err)
	}
	if n, err := s.GetNotification(ctx, claims[0].ID); err != nil || n.Status != repo.StatusSent {
		t.Errorf("notice on the newer schema: %s, %v", n.Status, err)
	}
	if as, err := s.ListAttempts(ctx, claims[0].ID); err != nil || len(as) != 1 {
		t.Errorf("attempts on the newer schema: %d, %v", len(as), err)
	}
	if _, err := s.GetNotificationDetail(ctx, claims[0].ID); err != nil {
		t.Errorf("notice detail on the newer schema: %v", err)
	}
	if page, err := s.SearchNotifications(ctx, repo.NoticeFilter{}, 10, ""); err != nil || len(page.Notices) != 2 {
		t.Errorf("search on the newer schema: %d, %v", len(page.Notices), err)
	}
	if _, err := s.GetCustomerView(ctx, "c2"); err != nil {
		t.Errorf("customer page on the newer schema: %v", err)
	}
}
