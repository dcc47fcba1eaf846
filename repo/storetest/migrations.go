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
