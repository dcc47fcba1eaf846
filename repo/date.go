package repo

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Date is a calendar date without a time zone, stored as PostgreSQL date and
// written as YYYY-MM-DD in JSON.
type Date struct{ time.Time }

// DateLayout is the wire form of a Date.
const DateLayout = "2006-01-02"

// ParseDate parses YYYY-MM-DD.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(DateLayout, s)
	var pe *time.ParseError
	if errors.As(err, &pe) && strings.HasSuffix(pe.Message, "out of range") { // 2027-02-29, 2026-13-01
		return Date{}, fmt.Errorf("%w: %s is not a day of the calendar", ErrNoSuchDay, s)
	}
	if err != nil {
		return Date{}, fmt.Errorf("date %q: want YYYY-MM-DD", s)
	}
	return Date{t}, nil
}

// ErrNoSuchDay is a date of the right form that the calendar lacks.
var ErrNoSuchDay = errors.New("no such day")

// NewDate makes a Date.
func NewDate(y int, m time.Month, d int) Date { return Date{time.Date(y, m, d, 0, 0, 0, 0, time.UTC)} }

func (d Date) String() string { return d.Format(DateLayout) }

// Value implements driver.Valuer.
func (d Date) Value() (driver.Value, error) { return d.Format(DateLayout), nil }

// Scan implements sql.Scanner.
func (d *Date) Scan(src any) error {
	switch v := src.(type) {
	case nil: // a LEFT JOINed installment that is not there
		*d = Date{}
		return nil
	case time.Time:
		d.Time = time.Date(v.Year(), v.Month(), v.Day(), 0, 0, 0, 0, time.UTC)
		return nil
	case string:
		p, err := ParseDate(v)
		*d = p
		return err
	case []byte:
		p, err := ParseDate(string(v))
		*d = p
		return err
	}
	return fmt.Errorf("cannot scan %T into Date", src)
}

// MarshalJSON writes "YYYY-MM-DD".
func (d Date) MarshalJSON() ([]byte, error) { return []byte(`"` + d.String() + `"`), nil }

// UnmarshalJSON reads "YYYY-MM-DD".
func (d *Date) UnmarshalJSON(b []byte) error {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return fmt.Errorf("date: want a \"YYYY-MM-DD\" string")
	}
	p, err := ParseDate(string(b[1 : len(b)-1]))
	*d = p
	return err
}
