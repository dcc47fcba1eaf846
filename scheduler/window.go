package scheduler

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Window is the part of the customer's day in which notices may go out, as
// minutes after local midnight: [Start, End). End 24:00 is allowed; a window
// of 00:00-24:00 is always open.
type Window struct {
	Start, End int
}

// DefaultWindow is 09:00-20:00.
var DefaultWindow = Window{Start: 9 * 60, End: 20 * 60}

// ParseWindow reads "HH:MM-HH:MM". The start must come before the end; a
// window across midnight is refused, since quiet hours are at night.
func ParseWindow(s string) (Window, error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		return Window{}, fmt.Errorf("send window %q: want HH:MM-HH:MM", s)
	}
	start, err := parseClock(a)
	if err != nil {
		return Window{}, fmt.Errorf("send window %q: %w", s, err)
	}
	end, err := parseClock(b)
	if err != nil {
		return Window{}, fmt.Errorf("send window %q: %w", s, err)
	}
	if start >= end {
		return Window{}, fmt.Errorf("send window %q: start must be before end (windows do not cross midnight)", s)
	}
	return Window{Start: start, End: end}, nil
}

func parseClock(s string) (int, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || len(m) != 2 || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && mm != 0) {
		return 0, fmt.Errorf("%q is not a time of day HH:MM", s)
	}
	return hh*60 + mm, nil
}

func (w Window) String() string {
	return fmt.Sprintf("%02d:%02d-%02d:%02d", w.Start/60, w.Start%60, w.End/60, w.End%60)
}

// Next returns t when t is inside the window in loc, otherwise the next
// instant the window opens. Days are walked as calendar days, so daylight
// saving changes in the customer's zone are honoured.
func (w Window) Next(t time.Time, loc *time.Location) time.Time {
	lt := t.In(loc)
	y, mo, d := lt.Date()
	minute := lt.Hour()*60 + lt.Minute()
	if minute >= w.Start && minute < w.End {
		return t
	}
	if minute >= w.End {
		d++
	}
	open := time.Date(y, mo, d, w.Start/60, w.Start%60, 0, 0, loc)
	// An opening inside a daylight-saving gap (00:00 where the clock jumps
	// to 01:00) does not exist, and time.Date gives an instant before the
	// jump, which may lie before t and outside the window: the window then
	// opens where the jumping clock lands in it. Gaps last an hour or two.
	for i := 0; i < 3*60 && (!open.After(t) || !w.contains(open.In(loc))); i++ {
		open = open.Add(time.Minute)
	}
	return open
}

// contains reports whether local time lt's minute of the day is in w.
func (w Window) contains(lt time.Time) bool {
	m := lt.Hour()*60 + lt.Minute()
	return m >= w.Start && m < w.End
}

// Closes returns when the window that t lies in closes in loc: the end of
// t's local day's window (t must be inside it; see Next). A send that could
// only start at or after this instant is outside the window. A window to
// 24:00 closes at the local midnight (the next day's may open at once).
func (w Window) Closes(t time.Time, loc *time.Location) time.Time {
	y, mo, d := t.In(loc).Date()
	if w.End == 24*60 {
		return time.Date(y, mo, d+1, 0, 0, 0, 0, loc)
	}
	end := time.Date(y, mo, d, w.End/60, w.End%60, 0, 0, loc)
	// An end inside a daylight-saving gap does not exist, and time.Date
	// may give an instant on either side of the jump: the window closes
	// at the jump, the first minute whose clock reads past the end.
	for i := 0; i < 3*60 && w.contains(end.In(loc)); i++ {
		end = end.Add(time.Minute)
	}
	for i := 0; i < 3*60 && end.After(t) && !w.contains(end.Add(-time.Minute).In(loc)); i++ {
		end = end.Add(-time.Minute)
	}
	return end
}
