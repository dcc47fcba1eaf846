package notify_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"duebell/notify"
	"duebell/repo"
	"duebell/repo/storetest"
	"duebell/scheduler"
)

// holidaySetup is the default policy with every overdue stage quiet on
// holidays and weekends, the 2026 example calendar, and one borrower with
// one bill due on due.
func holidaySetup(t *testing.T, due repo.Date) *bundle {
	t.Helper()
	cal, err := scheduler.LoadCalendar("../calendar.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	quiet := scheduler.Quiet{Holiday: true, Weekend: true}
	b := setup(t, func(c *notify.Config) {
		c.Calendar, c.StageTemplates = cal, stageTemplates()
		c.StageQuiet = map[string]scheduler.Quiet{"overdue_1": quiet, "overdue_7": quiet}
	})
	storetest.Customer(t, b.r, "c1")
	storetest.Plan(t, b.r, "p1", "c1", []repo.Date{due})
	return b
}

func (b *bundle) scan(t *testing.T, at time.Time) {
	t.Helper()
	if _, err := b.r.QueueDueReminders(context.Background(), at, scheduler.DefaultStages()); err != nil {
		t.Fatal(err)
	}
}

func (b *bundle) notices(t *testing.T) []repo.Notification {
	t.Helper()
	var ns []repo.Notification
	if err := b.r.DB().Select(&ns, `SELECT * FROM notifications ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	return ns
}

// A bill due on the Friday before the Mid-Autumn holiday (Fri 25 – Sun 27
// September 2026): its first overdue notice waits through the holiday and
// the weekend to Monday's window, spends no attempt waiting, and tells the
// true days overdue when it goes.
func TestHolidayDefersOverdueToFirstWorkdayWindow(t *testing.T) {
	t.Parallel()
	b := holidaySetup(t, repo.NewDate(2026, 9, 24))
	b.scan(t, sh(9, 25, 8, 0))
	b.dispatch(t, sh(9, 25, 10, 0))
	b.dispatch(t, sh(9, 27, 19, 0)) // Sunday: still quiet
	if n := len(b.sms.messages()) + len(b.email.messages()); n != 0 {
		t.Fatalf("%d notices sent on the holiday", n)
	}
	for _, n := range b.notices(t) {
		if n.Status != repo.StatusPending || n.Attempts != 0 || !n.NextAttemptAt.Equal(sh(9, 28, 9, 0)) ||
			!strings.HasPrefix(n.StatusReason, "quiet on holiday") {
			t.Errorf("%s notice: %s attempts %d next %v reason %q", n.Channel, n.Status, n.Attempts, n.NextAttemptAt, n.StatusReason)
		}
	}
	b.dispatch(t, sh(9, 28, 9, 0))
	msgs := b.sms.messages()
	if len(msgs) != 1 || len(b.email.messages()) != 1 || !strings.Contains(msgs[0].Text, "已逾期4天") {
		t.Fatalf("Monday: %d SMS %d email: %+v", len(msgs), len(b.email.messages()), msgs)
	}
	for _, n := range b.notices(t) {
		if n.Status != repo.StatusSent || n.Attempts != 1 || n.Stage != "overdue_1" {
			t.Errorf("%s notice after Monday: %s, %d attempts, stage %s", n.Channel, n.Status, n.Attempts, n.Stage)
		}
	}
}

// The nine-day Spring Festival outlasts the first overdue stage: +7 comes
// due during the holiday and supersedes +1, so the borrower gets one notice,
// the firm one, on the first workday, and none of the stale one.
func TestSpringFestivalSendsOnlyTheLatestStageAfterwards(t *testing.T) {
	t.Parallel()
	b := holidaySetup(t, repo.NewDate(2026, 2, 15))
	for d := 16; d <= 23; d++ { // the scan and the dispatcher run every day of the holiday
		b.scan(t, sh(2, d, 8, 0))
		b.dispatch(t, sh(2, d, 10, 0))
	}
	if n := len(b.sms.messages()) + len(b.email.messages()); n != 0 {
		t.Fatalf("%d notices sent during the Spring Festival", n)
	}
	b.scan(t, sh(2, 24, 8, 0))
	b.dispatch(t, sh(2, 24, 9, 0))
	msgs := b.sms.messages()
	if len(msgs) != 1 || len(b.email.messages()) != 1 {
		t.Fatalf("after the festival: %d SMS, %d email, want 1 each", len(msgs), len(b.email.messages()))
	}
	if !strings.Contains(msgs[0].Text, "已逾期9天") || !strings.Contains(msgs[0].Text, "征信") || msgs[0].Template != "overdue_firm" {
		t.Errorf("SMS after the festival: %s (%s)", msgs[0].Text, msgs[0].Template)
	}
	got := map[string]string{}
	for _, n := range b.notices(t) {
		got[n.Stage+"/"+n.Channel] = n.Status
	}
	want := map[string]string{"overdue_1/sms": "skipped", "overdue_1/email": "skipped", "overdue_7/sms": "sent", "overdue_7/email": "sent"}
	if len(got) != len(want) {
		t.Fatalf("notices %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s, want %s", k, got[k], v)
		}
	}
}

// A make-up working Saturday (调休, 28 February 2026) is a workday: the
// notice goes at once. An ordinary Saturday (7 March) waits for Monday.
func TestWeekendRuleAndMakeUpWorkday(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		due     repo.Date
		at      time.Time
		sendsAt time.Time
		text    string // the true days overdue on the day it goes
	}{
		{"调休 Saturday", repo.NewDate(2026, 2, 27), sh(2, 28, 10, 0), sh(2, 28, 10, 0), "已逾期1天"},
		{"ordinary Saturday", repo.NewDate(2026, 3, 6), sh(3, 7, 10, 0), sh(3, 9, 9, 0), "已逾期3天"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := holidaySetup(t, tt.due)
			b.scan(t, tt.at.Add(-2*time.Hour))
			b.dispatch(t, tt.at)
			if sent := len(b.sms.messages()) == 1; sent != tt.at.Equal(tt.sendsAt) {
				t.Fatalf("sent at %v: %v", tt.at, sent)
			}
			n := b.notice(t, "sms")
			if !tt.at.Equal(tt.sendsAt) {
				if !n.NextAttemptAt.Equal(tt.sendsAt) || n.Attempts != 0 || !strings.HasPrefix(n.StatusReason, "quiet on weekend") {
					t.Fatalf("deferred notice: next %v attempts %d reason %q", n.NextAttemptAt, n.Attempts, n.StatusReason)
				}
				b.dispatch(t, tt.sendsAt)
			}
			if msgs := b.sms.messages(); len(msgs) != 1 || !strings.Contains(msgs[0].Text, tt.text) {
				t.Fatalf("SMS: %+v", msgs)
			}
		})
	}
}
