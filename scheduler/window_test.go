package scheduler

import (
	"testing"
	"time"
)

func TestParseWindow(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Window
		wantErr bool
	}{
		{in: "09:00-20:00", want: Window{540, 1200}},
		{in: "00:00-24:00", want: Window{0, 1440}},
		{in: " 08:30 - 21:15 ", want: Window{510, 1275}},
		{in: "25:00-08:00", wantErr: true},
		{in: "20:00-09:00", wantErr: true},
		{in: "09:00", wantErr: true},
		{in: "9-20", wantErr: true},
		{in: "09:60-20:00", wantErr: true},
		{in: "24:30-24:45", wantErr: true},
	} {
		got, err := ParseWindow(tc.in)
		if (err != nil) != tc.wantErr || (!tc.wantErr && got != tc.want) {
			t.Errorf("ParseWindow(%q) = %v, %v; want %v, err %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestWindowNext(t *testing.T) {
	sh, _ := time.LoadLocation("Asia/Shanghai")
	ny, _ := time.LoadLocation("America/New_York")
	w := DefaultWindow
	at := func(loc *time.Location, y int, mo time.Month, d, h, m int) time.Time {
		return time.Date(y, mo, d, h, m, 0, 0, loc)
	}
	for _, tc := range []struct {
		name string
		now  time.Time
		loc  *time.Location
		want time.Time
	}{
		{"inside", at(sh, 2026, 11, 21, 10, 0), sh, at(sh, 2026, 11, 21, 10, 0)},
		{"at opening", at(sh, 2026, 11, 21, 9, 0), sh, at(sh, 2026, 11, 21, 9, 0)},
		{"before opening", at(sh, 2026, 11, 21, 7, 59), sh, at(sh, 2026, 11, 21, 9, 0)},
		{"at closing waits for tomorrow", at(sh, 2026, 11, 21, 20, 0), sh, at(sh, 2026, 11, 22, 9, 0)},
		{"late night", at(sh, 2026, 11, 21, 23, 30), sh, at(sh, 2026, 11, 22, 9, 0)},
		{"month end", at(sh, 2026, 11, 30, 22, 0), sh, at(sh, 2026, 12, 1, 9, 0)},
		// 10:00 UTC is 18:00 in Shanghai (inside) but 05:00 in New York (before opening).
		{"customer zone, not server zone", time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC), ny, at(ny, 2026, 11, 21, 9, 0)},
		// The night before DST ends in New York: next opening is 09:00 local, whatever the offset.
		{"across DST change", at(ny, 2026, 10, 31, 21, 0), ny, at(ny, 2026, 11, 1, 9, 0)},
	} {
		got := w.Next(tc.now, tc.loc)
		if !got.Equal(tc.want) {
			t.Errorf("%s: Next(%v) = %v, want %v", tc.name, tc.now, got, tc.want)
		}
	}
	// Santiago's clock jumps from 00:00 to 01:00 on 6 September 2026: a
	// window opening at 00:00 opens at the jump (01:00 local, 04:00 UTC),
	// never at an instant before it (23:00 the evening before).
	scl, _ := time.LoadLocation("America/Santiago")
	midnight := Window{0, 20 * 60}
	for _, now := range []time.Time{time.Date(2026, 9, 6, 3, 30, 0, 0, time.UTC), time.Date(2026, 9, 6, 3, 0, 0, 0, time.UTC)} {
		if got, want := midnight.Next(now, scl), time.Date(2026, 9, 6, 4, 0, 0, 0, time.UTC); !got.Equal(want) {
			t.Errorf("00:00-20:00 in Santiago from %v: Next = %v, want %v (the clock's jump to 01:00)", now, got, want)
		}
	}
	always := Window{0, 1440}
	now := at(sh, 2026, 11, 21, 3, 0)
	if got := always.Next(now, sh); !got.Equal(now) {
		t.Errorf("00:00-24:00 should always be open, got %v", got)
	}
}

func TestValidateStages(t *testing.T) {
	if err := ValidateStages(DefaultStages()); err != nil {
		t.Fatalf("default policy invalid: %v", err)
	}
	bad := DefaultStages()
	bad[0].Kind = "due_later"
	if err := ValidateStages(bad); err == nil {
		t.Error("unknown kind accepted")
	}
	bad = DefaultStages()
	bad[2].OffsetDays = 0
	if err := ValidateStages(bad); err == nil {
		t.Error("overdue at offset 0 accepted")
	}
	bad = DefaultStages()
	bad[1].Channels = []string{"fax"}
	if err := ValidateStages(bad); err == nil {
		t.Error("unknown channel accepted")
	}
}

func TestWindowCloses(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	for _, tc := range []struct {
		w    Window
		now  time.Time
		want time.Time
	}{
		{DefaultWindow, time.Date(2027, 3, 14, 19, 59, 59, 0, ny), time.Date(2027, 3, 15, 0, 0, 0, 0, time.UTC)}, // spring forward: 20:00 EDT
		{DefaultWindow, time.Date(2027, 11, 7, 9, 0, 0, 0, ny), time.Date(2027, 11, 8, 1, 0, 0, 0, time.UTC)},    // fall back: 20:00 EST
		{Window{0, 1440}, time.Date(2027, 3, 13, 23, 0, 0, 0, ny), time.Date(2027, 3, 14, 5, 0, 0, 0, time.UTC)}, // always: the local midnight
		{Window{0, 150}, time.Date(2027, 3, 14, 1, 0, 0, 0, ny), time.Date(2027, 3, 14, 7, 0, 0, 0, time.UTC)},   // 02:30 does not exist: closes at the jump to 03:00
	} {
		if got := tc.w.Closes(tc.now, ny); !got.Equal(tc.want) {
			t.Errorf("%v.Closes(%v) = %v, want %v", tc.w, tc.now, got.UTC(), tc.want)
		}
	}
}
