package scheduler

import (
	"os"
	"strings"
	"testing"
	"time"
)

var shanghai, _ = time.LoadLocation("Asia/Shanghai")

func loadExample(t *testing.T) *Calendar {
	t.Helper()
	c, err := LoadCalendar("../calendar.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func day(mo time.Month, d, h, m int) time.Time { return time.Date(2026, mo, d, h, m, 0, 0, shanghai) }

func TestExampleCalendarIs2026(t *testing.T) {
	t.Parallel()
	c := loadExample(t)
	for _, tt := range []struct {
		at               time.Time
		holiday, workday bool
	}{
		{day(2, 14, 0, 0), false, true},  // Saturday, 调休
		{day(2, 15, 0, 0), true, false},  // 春节, Sunday
		{day(2, 17, 0, 0), true, false},  // 春节, Tuesday
		{day(2, 23, 0, 0), true, false},  // 春节, Monday
		{day(2, 24, 0, 0), false, true},  // Tuesday after
		{day(2, 28, 0, 0), false, true},  // Saturday, 调休
		{day(3, 7, 0, 0), false, false},  // an ordinary Saturday
		{day(10, 7, 0, 0), true, false},  // 国庆
		{day(10, 10, 0, 0), false, true}, // Saturday, 调休
	} {
		if c.Holiday(tt.at) != tt.holiday || c.Workday(tt.at) != tt.workday {
			t.Errorf("%s: holiday %v workday %v, want %v %v", tt.at.Format(time.DateOnly),
				c.Holiday(tt.at), c.Workday(tt.at), tt.holiday, tt.workday)
		}
	}
	if !c.Covers(2026) || c.Covers(2027) {
		t.Error("the example covers 2026 only")
	}
}

func TestNextAllowed(t *testing.T) {
	t.Parallel()
	c := loadExample(t)
	holiday := Quiet{Holiday: true}
	both := Quiet{Holiday: true, Weekend: true}
	for _, tt := range []struct {
		name string
		q    Quiet
		at   time.Time
		want time.Time
		why  string
	}{
		{"workday inside the window", both, day(3, 4, 10, 0), day(3, 4, 10, 0), ""},
		{"workday before the window", both, day(3, 4, 7, 0), day(3, 4, 9, 0), "window"},
		{"Spring Festival waits for the first workday", holiday, day(2, 16, 10, 0), day(2, 24, 9, 0), "holiday"},
		{"evening before the festival", holiday, day(2, 13, 21, 0), day(2, 14, 9, 0), "window"},
		{"调休 Saturday is a workday", both, day(2, 28, 10, 0), day(2, 28, 10, 0), ""},
		{"ordinary Saturday waits for Monday", both, day(3, 7, 10, 0), day(3, 9, 9, 0), "weekend"},
		{"holiday rule alone sends on a Saturday", holiday, day(3, 7, 10, 0), day(3, 7, 10, 0), ""},
		{"weekend rule alone sends on a weekday holiday", Quiet{Weekend: true}, day(10, 1, 10, 0), day(10, 1, 10, 0), ""},
		{"weekend rule keeps a weekend holiday quiet", Quiet{Weekend: true}, day(10, 3, 10, 0), day(10, 5, 9, 0), "weekend"},
		{"National Day waits for the first workday after it", both, day(10, 1, 10, 0), day(10, 8, 9, 0), "holiday"},
		{"no rule", Quiet{}, day(2, 16, 10, 0), day(2, 16, 10, 0), ""},
	} {
		got, why := NextAllowed(DefaultWindow, c, tt.q, tt.at, shanghai)
		if !got.Equal(tt.want) || why != tt.why {
			t.Errorf("%s: %v (%s), want %v (%s)", tt.name, got, why, tt.want, tt.why)
		}
	}
}

// The days are the customer's: 2026-02-24 09:00 in Shanghai is still the
// 23rd, a holiday, in Los Angeles.
func TestNextAllowedUsesTheCustomersDate(t *testing.T) {
	t.Parallel()
	la, _ := time.LoadLocation("America/Los_Angeles")
	got, _ := NextAllowed(DefaultWindow, loadExample(t), Quiet{Holiday: true}, day(2, 24, 9, 0), la)
	if want := time.Date(2026, 2, 24, 9, 0, 0, 0, la); !got.Equal(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestParseCalendarErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ body, want string }{
		{"[[holiday]]\nname = \"x\"\n", "holiday[0] (x): give date, or from and to"},
		{"[[holiday]]\nfrom = 2026-02-23\nto = 2026-02-15\n", "is after to"},
		{"[[holiday]]\nfrom = 2026-01-01\nto = 2026-12-31\n", "longer than 31 days"},
		{"[[holiday]]\ndate = 2026-02-14\n[[workday]]\ndate = 2026-02-14\n", "2026-02-14 is marked both holiday and workday"},
		{"[[holidays]]\ndate = 2026-02-14\n", "unknown key \"holidays\""},
		{"[[holiday]]\ndate = \"14/02/2026\"\n", "not a date YYYY-MM-DD"},
		{"[[holiday]]\ndate = 2026-02-14T10:00:00\n", "not a date YYYY-MM-DD"},
	} {
		if _, err := ParseCalendar(tt.body); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v, want %q", tt.body, err, tt.want)
		}
	}
	c, err := ParseCalendar("[[workday]]\ndate = \"2026-02-14\"\n")
	if err != nil || !c.Workday(day(2, 14, 0, 0)) {
		t.Errorf("a quoted date: %v", err)
	}
	if _, err := LoadCalendar("no-such-calendar.toml"); !os.IsNotExist(unwrapAll(err)) {
		t.Errorf("missing file: %v", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

func TestParseQuiet(t *testing.T) {
	t.Parallel()
	if q, err := ParseQuiet([]string{"holiday", "weekend"}); err != nil || q != (Quiet{Holiday: true, Weekend: true}) {
		t.Errorf("%+v %v", q, err)
	}
	for _, bad := range [][]string{{"sunday"}, {"holiday", "holiday"}} {
		if _, err := ParseQuiet(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
