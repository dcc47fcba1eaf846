package input

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MaxAmount bounds every amount of money duebell accepts, in minor units
// (fen): 10^12 fen is 10 billion yuan, far above any consumer installment,
// and far enough below 2^63 that sums of amounts (a plan's 600 installments,
// a lifetime of payments) cannot overflow a bigint.
const MaxAmount int64 = 1_000_000_000_000

// Amount checks a non-negative amount of money within MaxAmount.
func Amount(v int64) error {
	switch {
	case v < 0:
		return errors.New("must not be negative")
	case v > MaxAmount:
		return fmt.Errorf("must not exceed %d (10^12 fen)", MaxAmount)
	}
	return nil
}

// The range dates and instants must fall in: duebell handles consumer
// installments of this century, and anything outside is a typo or an attack
// (PostgreSQL has no year 0; a 0001 event would be queued at once).
var (
	MinTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	MaxTime = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

// Date checks a calendar date lies in 2000-01-01..2099-12-31.
func Date(d time.Time) error {
	y := d.Year()
	if y < MinTime.Year() || y >= MaxTime.Year() {
		return errors.New("must lie between 2000-01-01 and 2099-12-31")
	}
	return nil
}

// MaxOffset is the largest UTC offset a time zone has (+14:00, Kiribati;
// the most negative is -12:00). RFC 3339 and Go allow up to ±23:59, and
// PostgreSQL refuses an instant written beyond ±15:59.
const MaxOffset = 14 * time.Hour

// offset checks t was written with an offset some time zone has.
func offset(t time.Time) error {
	if _, off := t.Zone(); time.Duration(max(off, -off))*time.Second > MaxOffset {
		return errors.New("has a UTC offset beyond ±14:00, which no time zone has")
	}
	return nil
}

// Instant checks a time lies in the sane range, between MinTime and MaxTime,
// written with a real UTC offset.
func Instant(t time.Time) error {
	if err := offset(t); err != nil {
		return err
	}
	if t.Before(MinTime) || !t.Before(MaxTime) {
		return errors.New("must lie between 2000-01-01 and 2100-01-01 (UTC)")
	}
	return nil
}

// MaxAhead is how far after now a reported instant (a payment's paid_at, an
// event's occurred_at) may lie: a lender's clock may be off, not by days.
const MaxAhead = 24 * time.Hour

// Past checks an instant that has happened: written with a real UTC offset,
// not before 2000, and not more than MaxAhead after now.
func Past(t, now time.Time) error {
	if err := offset(t); err != nil {
		return err
	}
	if t.Before(MinTime) {
		return errors.New("before 2000-01-01; want the real time it happened")
	}
	if t.After(now.Add(MaxAhead)) {
		return errors.New("more than 24 hours in the future")
	}
	return nil
}

// MaxAsOfSkew is how far after now a plan push's as_of (when the lender
// read the data it holds) may lie: the data has been read, so only a
// lender's clock running ahead puts it later, and by seconds, not hours. A
// looser bound would let one push with a clock far ahead fence off every
// later, correct push of the plan as stale.
const MaxAsOfSkew = 5 * time.Minute

// AsOf checks when a push's data was read: written with a real UTC offset,
// not before 2000, and not more than MaxAsOfSkew after now.
func AsOf(t, now time.Time) error {
	if err := offset(t); err != nil {
		return err
	}
	if t.Before(MinTime) {
		return errors.New("before 2000-01-01; want when the data in this push was read")
	}
	if limit := now.Add(MaxAsOfSkew); t.After(limit) {
		return fmt.Errorf("%s is more than %v after this server's clock (%s); want when the data in this push was read (check the sender's clock)",
			t.UTC().Format(time.RFC3339), MaxAsOfSkew, now.UTC().Format(time.RFC3339))
	}
	return nil
}

// zoneRE is the shape of IANA zone names: Area/Location[/Sub], or a bare
// legacy name such as UTC or EST5EDT, each part starting upper-case.
var zoneRE = regexp.MustCompile(`^[A-Z][A-Za-z0-9_+-]*(/[A-Z0-9][A-Za-z0-9_+-]*){0,2}$`)

// notZones are names time.LoadLocation accepts that are not time zones:
// the process's own zone, the tz database's internals, and the
// "posix/"/"right/" copies some systems install.
var notZones = map[string]bool{"Local": true, "localtime": true, "posixrules": true, "Factory": true}

// zones keeps the zones Zone has loaded: loading one reads and parses a
// file, and a nightly import names the same few zones for every customer.
// Only names the zone database has are kept, so the map is bounded by it.
var zones sync.Map // name → *time.Location

// Zone loads name, accepting only real IANA time zone names.
func Zone(name string) (*time.Location, error) {
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location), nil
	}
	if name == "" || notZones[name] || !zoneRE.MatchString(name) ||
		strings.HasPrefix(name, "posix/") || strings.HasPrefix(name, "right/") || strings.HasPrefix(name, "SystemV/") {
		return nil, errors.New("want an IANA time zone name such as Asia/Shanghai")
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, errors.New("unknown time zone; want an IANA name such as Asia/Shanghai")
	}
	zones.Store(name, loc)
	return loc, nil
}

// PositiveInt reads s as a positive decimal integer up to max, written as
// one is: digits only, no sign, no leading zero ("+1" and "01" are not 1),
// as an id or a sequence number is given in a path or on a command line.
func PositiveInt(s string, max int64) (int64, bool) {
	if s == "" || s[0] == '0' || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n <= max
}

// rfc3339 is RFC 3339's date-time (section 5.6): time.Parse also takes an
// offset minute of 60 (+00:60 read as +01:00) and a comma before the
// fraction, which are not RFC 3339 and which a lender's clock bug should
// not turn into another instant.
var rfc3339 = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-5][0-9])$`)

// ParseRFC3339 parses an RFC 3339 date-time, refusing what is not one.
func ParseRFC3339(s string) (time.Time, error) {
	if !rfc3339.MatchString(s) {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time", s)
	}
	return time.Parse(time.RFC3339Nano, s)
}
