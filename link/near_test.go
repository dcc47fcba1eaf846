package link

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// windowsBack is the reference windows: the tag a span sits in is found
// by searching back from the span for the last '<' and '>'.
func windowsBack(text string, spans [][2]int) [][2]int {
	var out [][2]int
	for _, s := range spans {
		lo, hi := widenLeft(text, s[0]-nearContext), widenRight(text, s[1]+nearContext)
		if lt := strings.LastIndexByte(text[:s[0]], '<'); lt > strings.LastIndexByte(text[:s[0]], '>') {
			lo = min(lo, lt)
			if gt := strings.IndexByte(text[s[1]:], '>'); gt >= 0 {
				hi = max(hi, s[1]+gt+1)
			} else {
				hi = len(text)
			}
		}
		if n := len(out); n > 0 && lo <= out[n-1][1] {
			out[n-1][1] = max(out[n-1][1], hi)
			continue
		}
		out = append(out, [2]int{lo, hi})
	}
	return out
}

// FuzzWindowsMatchBackSearch: the windows CheckURLsNear checks, found in
// one pass over the text, are those a search back from every span finds,
// for spans in text order (each byte of cuts, mod 4: 0 ends a static piece,
// 1 ends a value, 2 marks a seam, 3 nothing) over any text.
func FuzzWindowsMatchBackSearch(f *testing.F) {
	f.Add(`<p>Dear <b>Ann</b>, <a title="a>b" href="https://pay.example.com/r?t=x">pay</a></p>`, []byte{3, 1, 0, 2, 1})
	f.Add("尊敬的张伟：您的分期账单将于2026年11月24日到期 https://pay.example.com/r", []byte{0, 1, 3, 3, 0, 1})
	// A span well past a closed tag: not inside it.
	f.Add(strings.Repeat("word ", 60)+"<b>x</b> "+strings.Repeat("value ", 60), []byte{3, 0, 1})
	if raw, err := os.ReadFile("testdata/email.html"); err == nil {
		f.Add(string(raw), []byte{0, 1, 2, 0, 1, 3, 0, 1, 0, 1, 0, 1})
	}
	f.Fuzz(func(t *testing.T, text string, cuts []byte) {
		if len(text) == 0 {
			return
		}
		var spans [][2]int
		step := max(1, len(text)/(len(cuts)+1))
		start := 0
		for i, c := range cuts {
			at := min(len(text), (i+1)*step)
			switch c % 4 {
			case 0:
				start = at
			case 1:
				spans = append(spans, [2]int{start, at})
				start = at
			case 2:
				spans = append(spans, [2]int{at, at})
				start = at
			}
		}
		if got, want := windows(text, spans), windowsBack(text, spans); !reflect.DeepEqual(got, want) {
			t.Fatalf("spans %v: windows %v, searched back %v", spans, got, want)
		}
	})
}
