package scheduler

import (
	"testing"
	"time"
)

// The budget a borrower has left, in their own days: the day limit frees at
// the next local midnight, the week limit on the day the oldest send leaves
// the seven days, and a limit of 0 is none.
func TestCollectionBudgetInLocalDays(t *testing.T) {
	sh, _ := time.LoadLocation("Asia/Shanghai")
	at := func(d, h int) time.Time { return time.Date(2026, 11, d, h, 0, 0, 0, sh) }
	now := at(24, 10)
	for _, tt := range []struct {
		name        string
		lim         Collection
		sent        []time.Time
		today, week int
		frees       time.Time // zero: room left
	}{
		{"room", Collection{PerDay: 1, PerWeek: 3}, []time.Time{at(21, 10), at(23, 10)}, 0, 2, time.Time{}},
		{"day spent", Collection{PerDay: 1, PerWeek: 3}, []time.Time{at(24, 9)}, 1, 1, at(25, 0)},
		// 00:30 local is today in Shanghai though it is yesterday in UTC.
		{"local midnight", Collection{PerDay: 1}, []time.Time{time.Date(2026, 11, 24, 0, 30, 0, 0, sh)}, 1, 1, at(25, 0)},
		{"week spent", Collection{PerDay: 1, PerWeek: 3}, []time.Time{at(18, 10), at(20, 10), at(22, 10)}, 0, 3, at(25, 0)},
		{"week spent later", Collection{PerDay: 1, PerWeek: 3}, []time.Time{at(21, 10), at(22, 10), at(23, 10)}, 0, 3, at(28, 0)},
		{"older than a week", Collection{PerWeek: 1}, []time.Time{at(17, 10)}, 0, 0, time.Time{}},
		{"day off", Collection{PerWeek: 3}, []time.Time{at(24, 9), at(24, 9)}, 2, 2, time.Time{}},
		{"all off", Collection{}, []time.Time{at(24, 9), at(24, 9), at(24, 9)}, 3, 3, time.Time{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.lim.Used(tt.sent, now, sh)
			if b.Today != tt.today || b.Week != tt.week || b.Full != !tt.frees.IsZero() || !b.FreesOn.Equal(tt.frees) {
				t.Errorf("budget %+v, want today %d week %d frees %v", b, tt.today, tt.week, tt.frees)
			}
		})
	}
}
