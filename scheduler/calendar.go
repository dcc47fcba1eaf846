package scheduler

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Calendar marks dates as public holidays (节假日) or as make-up workdays
// (调休: a weekend day worked in exchange for a longer holiday). Dates are
// calendar dates, read in each customer's own zone. The zero Calendar marks
// nothing. It is read-only after loading and safe for concurrent use.
type Calendar struct {
	days map[civilDate]dayType
}

type dayType int

const (
	dayHoliday dayType = iota + 1
	dayWorkday
)

// civilDate is a calendar date with no zone.
type civilDate struct {
	Y int
	M time.Month
	D int
}

func dateOf(t time.Time) civilDate {
	y, m, d := t.Date()
	return civilDate{y, m, d}
}

func (c civilDate) String() string { return fmt.Sprintf("%04d-%02d-%02d", c.Y, c.M, c.D) }

func (c civilDate) time() time.Time { return time.Date(c.Y, c.M, c.D, 0, 0, 0, 0, time.UTC) }

// UnmarshalText reads a TOML local date (2026-02-15) or the string
// "2026-02-15".
func (c *civilDate) UnmarshalText(b []byte) error {
	s := string(b)
	// BurntSushi/toml hands a TOML local date over as midnight UTC.
	s = strings.TrimSuffix(s, "T00:00:00Z")
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return fmt.Errorf("%q is not a date YYYY-MM-DD", b)
	}
	*c = dateOf(t)
	return nil
}

// calendarFile is the file format: [[holiday]] and [[workday]] tables, each
// with a date, or from and to (inclusive), and an optional name.
type calendarFile struct {
	Holiday []calendarEntry `toml:"holiday"`
	Workday []calendarEntry `toml:"workday"`
}

type calendarEntry struct {
	Name string     `toml:"name"`
	Date *civilDate `toml:"date"`
	From *civilDate `toml:"from"`
	To   *civilDate `toml:"to"`
}

// maxRangeDays bounds one entry: the longest Chinese holiday is nine days,
// so a range longer than a month is a typo in the year.
const maxRangeDays = 31

// LoadCalendar reads a calendar file (see ParseCalendar).
func LoadCalendar(path string) (*Calendar, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("calendar: %w", err)
	}
	c, err := ParseCalendar(string(b))
	if err != nil {
		return nil, fmt.Errorf("calendar %s: %w", path, err)
	}
	return c, nil
}

// ParseCalendar reads the TOML calendar format:
//
//	[[holiday]]
//	name = "春节"
//	from = 2026-02-15
//	to   = 2026-02-23
//
//	[[workday]]          # 调休: a weekend day that is worked
//	name = "春节调休"
//	date = 2026-02-14
//
// Each entry has date, or from and to (inclusive, at most 31 days). A date
// marked both holiday and workday, or an unknown key, is an error.
func ParseCalendar(body string) (*Calendar, error) {
	var f calendarFile
	md, err := toml.Decode(body, &f)
	if err != nil {
		return nil, err
	}
	if undec := md.Undecoded(); len(undec) > 0 {
		return nil, fmt.Errorf("unknown key %q (want [[holiday]] or [[workday]] with name, date or from/to)", undec[0].String())
	}
	c := &Calendar{days: map[civilDate]dayType{}}
	for _, list := range []struct {
		key  string
		typ  dayType
		list []calendarEntry
	}{{"holiday", dayHoliday, f.Holiday}, {"workday", dayWorkday, f.Workday}} {
		for i, e := range list.list {
			where := fmt.Sprintf("%s[%d]", list.key, i)
			if e.Name != "" {
				where += " (" + e.Name + ")"
			}
			from, to, err := e.span()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			for d := from.time(); !d.After(to.time()); d = d.AddDate(0, 0, 1) {
				day := dateOf(d)
				if prev, ok := c.days[day]; ok && prev != list.typ {
					return nil, fmt.Errorf("%s: %s is marked both holiday and workday", where, day)
				}
				c.days[day] = list.typ
			}
		}
	}
	return c, nil
}

func (e calendarEntry) span() (from, to civilDate, err error) {
	switch {
	case e.Date != nil && e.From == nil && e.To == nil:
		return *e.Date, *e.Date, nil
	case e.Date == nil && e.From != nil && e.To != nil:
		days := int(e.To.time().Sub(e.From.time()).Hours() / 24)
		if days < 0 {
			return from, to, fmt.Errorf("from %s is after to %s", e.From, e.To)
		}
		if days >= maxRangeDays {
			return from, to, fmt.Errorf("%s to %s is longer than %d days", e.From, e.To, maxRangeDays)
		}
		return *e.From, *e.To, nil
	}
	return from, to, fmt.Errorf("give date, or from and to")
}

// Holiday reports whether the calendar date of t (in t's location) is a
// public holiday.
func (c *Calendar) Holiday(t time.Time) bool {
	return c != nil && c.days[dateOf(t)] == dayHoliday
}

// Workday reports whether the calendar date of t is a working day: Monday
// to Friday unless a holiday, or a weekend day marked workday (调休).
func (c *Calendar) Workday(t time.Time) bool {
	if c != nil {
		switch c.days[dateOf(t)] {
		case dayHoliday:
			return false
		case dayWorkday:
			return true
		}
	}
	wd := t.Weekday()
	return wd != time.Saturday && wd != time.Sunday
}

// weekend reports whether t's date is a Saturday or Sunday not marked
// workday (a holiday on a weekend is still a weekend).
func (c *Calendar) weekend(t time.Time) bool {
	wd := t.Weekday()
	if wd != time.Saturday && wd != time.Sunday {
		return false
	}
	return c == nil || c.days[dateOf(t)] != dayWorkday
}

// Covers reports whether the calendar marks any date in year: an operator
// supplies each year's official dates, and a year without any is likely
// forgotten.
func (c *Calendar) Covers(year int) bool {
	if c == nil {
		return false
	}
	for d := range c.days {
		if d.Y == year {
			return true
		}
	}
	return false
}

// Quiet is a stage's quiet_on rule: the days on which its notices wait.
type Quiet struct {
	Holiday bool // public holidays in the calendar
	Weekend bool // Saturdays and Sundays not marked workday
}

// Quiet days a stage may name in quiet_on.
const (
	QuietHoliday = "holiday"
	QuietWeekend = "weekend"
)

// ParseQuiet reads a quiet_on list: "holiday", "weekend", each at most once.
func ParseQuiet(list []string) (Quiet, error) {
	var q Quiet
	for _, s := range list {
		var dst *bool
		switch s {
		case QuietHoliday:
			dst = &q.Holiday
		case QuietWeekend:
			dst = &q.Weekend
		default:
			return Quiet{}, fmt.Errorf("unknown day %q (holiday, weekend)", s)
		}
		if *dst {
			return Quiet{}, fmt.Errorf("%q listed twice", s)
		}
		*dst = true
	}
	return q, nil
}

// Any reports whether the rule keeps any day quiet.
func (q Quiet) Any() bool { return q.Holiday || q.Weekend }

// reason says why the local date of t is quiet under q, "" when it is not.
func (q Quiet) reason(cal *Calendar, t time.Time) string {
	switch {
	case q.Holiday && cal.Holiday(t):
		return QuietHoliday
	case q.Weekend && cal.weekend(t):
		return QuietWeekend
	}
	return ""
}

// maxQuietDays bounds the search for an allowed day: a calendar that keeps
// a notice quiet for longer than this is misconfigured, and the notice goes
// out on the last day looked at rather than waiting for ever.
const maxQuietDays = 60

// NextAllowed returns t when t is inside the window in loc on a day q allows,
// otherwise the next window opening on such a day, and why it waits ("" when
// it does not; "holiday" or "weekend" when a quiet day moved it past the
// first opening; "window" otherwise). Days are the customer's local dates.
func NextAllowed(w Window, cal *Calendar, q Quiet, t time.Time, loc *time.Location) (time.Time, string) {
	next := w.Next(t, loc)
	why := ""
	if !next.Equal(t) {
		why = "window"
	}
	for range maxQuietDays {
		r := q.reason(cal, next.In(loc))
		if r == "" {
			return next, why
		}
		why = r
		y, m, d := next.In(loc).Date()
		next = w.Next(time.Date(y, m, d+1, 0, 0, 0, 0, loc), loc)
	}
	return next, why
}
