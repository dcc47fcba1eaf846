package repo

import (
	"database/sql/driver"
	"strings"
)

// textArray is pq.StringArray's value, a PostgreSQL text[] literal with
// every element quoted, built with one allocation: lib/pq's grows its
// buffer element by element and copies each string to bytes first, and
// for a group of emails' bodies (≈2 KB each, 300 a group) that was 3 % of
// the dispatcher's CPU. A test checks that the two write the same literal.
type textArray []string

// Value writes {"a","b\"c"}: each element in double quotes, a '"' or '\'
// in it escaped with a '\'; nil is SQL NULL.
func (a textArray) Value() (driver.Value, error) {
	if a == nil {
		return nil, nil
	}
	n := 2 + max(len(a)-1, 0) // braces and commas
	for _, s := range a {
		n += len(s) + 2 + strings.Count(s, `"`) + strings.Count(s, `\`)
	}
	b := make([]byte, 0, n)
	b = append(b, '{')
	for i, s := range a {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		next := func(s string) int { return strings.IndexByte(s, '"') } // vectorized; most texts have no '\'
		if strings.IndexByte(s, '\\') >= 0 {
			next = func(s string) int { return strings.IndexAny(s, `"\`) }
		}
		for {
			j := next(s)
			if j < 0 {
				break
			}
			b = append(b, s[:j]...)
			b = append(b, '\\', s[j])
			s = s[j+1:]
		}
		b = append(b, s...)
		b = append(b, '"')
	}
	return append(b, '}'), nil
}
