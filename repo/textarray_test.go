package repo

import (
	"strings"
	"testing"

	"github.com/lib/pq"
)

// FuzzTextArrayMatchesPQ: the literal textArray sends is the one
// pq.StringArray sends, for any strings (the fuzz input is split at NUL
// bytes into elements).
func FuzzTextArrayMatchesPQ(f *testing.F) {
	for _, s := range []string{"", "a", "a\x00b", `say "hi"\n`, "\\\x00\"\x00", `<a href="https://pay.example.com/r?t=x">付款</a>`, "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, joined string) {
		for _, a := range [][]string{strings.Split(joined, "\x00"), nil, {}} {
			got, err := textArray(a).Value()
			if err != nil {
				t.Fatal(err)
			}
			want, err := pq.StringArray(a).Value()
			if err != nil {
				t.Fatal(err)
			}
			if g, ok := got.([]byte); ok {
				got = string(g)
			}
			if got != want {
				t.Fatalf("%q: textArray %q, pq.StringArray %q", a, got, want)
			}
		}
	})
}

// BenchmarkTextArray encodes a group's email bodies (300 HTML parts of
// 1.7 KB) as lib/pq does and as textArray does.
func BenchmarkTextArray(b *testing.B) {
	html := strings.Repeat(`<p style="margin:0 0 12px">您的“iPhone 16 Pro”分期第3/12期账单 <a href="https://pay.example.com/r?t=x">还款</a></p>`, 12)
	bodies := make([]string, 300)
	for i := range bodies {
		bodies[i] = html
	}
	b.Run("pq", func(b *testing.B) {
		for b.Loop() {
			_, _ = pq.StringArray(bodies).Value()
		}
	})
	b.Run("duebell", func(b *testing.B) {
		for b.Loop() {
			_, _ = textArray(bodies).Value()
		}
	})
}
