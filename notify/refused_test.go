package notify_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"duebell/internal/syncbuf"
	"duebell/notify"
	"duebell/repo"
	"duebell/repo/sqlite"
	"duebell/repo/storetest"
)

// deletingSender, at the send of notice victim, deletes that notice from
// outside, the way an operator's hand-run DELETE would: its outcome (and its
// try's attempt row, which references it) can then never be written. The
// sends of the other notices are held until the deletion is done, so their
// outcomes reach the committers together with the refused one.
type deletingSender struct {
	sendCount
	db      dbHolder
	victim  int64
	deleted chan struct{}
	t       *testing.T
}

func (s *deletingSender) Provider() string { return "deleting" }

func (s *deletingSender) Send(_ context.Context, m notify.Message) (notify.Result, error) {
	if m.NotificationID == s.victim {
		if _, err := s.db.DB().Exec(`DELETE FROM notifications WHERE id = $1`, s.victim); err != nil {
			s.t.Error(err)
		}
		close(s.deleted)
	} else {
		<-s.deleted
	}
	s.record(m.NotificationID)
	return notify.Result{ProviderMsgID: "d-" + m.To}, nil
}

// A group of outcomes the database refuses for what one of them holds (here
// an attempt row for a notice deleted while it was being sent: a foreign
// key violation) must not hold the others: retried whole, it was refused
// forever, every notice of the group stayed sending, and the run never
// ended. Each store's own refusal (PostgreSQL's SQLSTATE 23503, SQLite's
// constraint error) is met.
func TestOutcomeRefusedForItsDataDoesNotHoldTheOthers(t *testing.T) {
	t.Parallel()
	for _, store := range []string{"postgres", "sqlite"} {
		t.Run(store, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			var s interface {
				storetest.Store
				dbHolder
			} = b.r
			if store == "sqlite" {
				st, err := sqlite.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "duebell.db"))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { st.Close() })
				if _, err := st.Migrate(context.Background()); err != nil {
					t.Fatal(err)
				}
				s = st
			}
			for _, ref := range []string{"ca", "cb", "cc", "cd"} {
				storetest.Customer(t, s, ref)
				storetest.Plan(t, s, "p"+ref, ref, []repo.Date{repo.NewDate(2026, 11, 24)})
			}
			at := sh(11, 21, 10, 0)
			if _, err := s.QueueDueReminders(context.Background(), at, smsOnlyStages); err != nil {
				t.Fatal(err)
			}
			var victim int64
			if err := s.DB().Get(&victim, `SELECT min(id) FROM notifications`); err != nil {
				t.Fatal(err)
			}
			sender := &deletingSender{db: s, victim: victim, deleted: make(chan struct{}), t: t}
			var logs syncbuf.Buffer
			cfg := b.cfg
			cfg.Store, cfg.Senders["sms"] = s, sender
			cfg.Workers, cfg.Now = 4, func() time.Time { return at }
			cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			d, err := notify.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			done := make(chan error, 1)
			go func() { _, err := d.RunOnce(ctx); done <- err }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("the run never ended: a refused outcome held its group\n%s", logs.String())
			}
			if got := statusCounts(t, s); got["sent"] != 3 || len(got) != 1 {
				t.Errorf("statuses %v, want the other 3 notices sent", got)
			}
			sender.onceEach(t, 4)
			attemptsAgree(t, s)
			var msgIDs []string
			if err := s.DB().Select(&msgIDs, `SELECT provider_msg_id FROM delivery_attempts ORDER BY id`); err != nil {
				t.Fatal(err)
			}
			if len(msgIDs) != 3 || msgIDs[0] == "" {
				t.Errorf("attempt rows' message ids %q: want the 3 other tries logged in full", msgIDs)
			}
			if out := logs.String(); !strings.Contains(out, "outcome refused by the database for its data") ||
				!strings.Contains(out, "notification_id="+strconv.FormatInt(victim, 10)) {
				t.Errorf("the refused outcome was not logged with its notice:\n%s", out)
			}
		})
	}
}
