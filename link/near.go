package link

import (
	"html"
	"strings"
)

// nearContext is how far, in bytes, a window around a changed span reaches
// before it is widened to whole tokens: it covers what a URL match can
// need to the left of a value (`href = "`, `url( `, `https://`) and to the
// right (the rest of a host, a closing quote).
const nearContext = 128

// CheckURLsNear is CheckURLs for a text of which only parts can have
// changed since it was checked: the spans [start, end), in text order (end
// may equal start, a seam where two checked pieces meet). It checks every URL that can
// overlap a span: each span is widened by nearContext bytes on both sides,
// then out to whitespace or a tag bracket (no URL crosses one), and out to
// the whole tag when the span sits inside one, and those windows are
// checked as CheckURLs checks a text. The pieces between spans must each
// pass CheckURLs on their own; a template renderer uses this to check its
// static text once and only the substituted values per message.
func CheckURLsNear(text string, spans [][2]int, allowed []string) error {
	al := normalizeAllowed(allowed)
	for _, w := range windows(text, spans) {
		part := text[w[0]:w[1]]
		if err := checkText(part, al); err != nil {
			return err
		}
		if u := html.UnescapeString(part); u != part {
			if err := checkText(u, al); err != nil {
				return err
			}
		}
	}
	return nil
}

// windows returns the merged, ordered byte ranges CheckURLsNear checks.
// Spans in text order give windows in start order (widening is monotonic,
// and a later span inside a tag that began before an earlier span shares
// that tag with it), so merging neighbours is enough. The last '<' and '>'
// before each span are searched for in the text since the span before, not
// back to the start from every span (an email's HTML has dozens of spans).
func windows(text string, spans [][2]int) [][2]int {
	var merged [][2]int
	lastLT, lastGT, seen := -1, -1, 0 // the last '<' and '>' in text[:seen]
	for _, s := range spans {
		lo, hi := widenLeft(text, s[0]-nearContext), widenRight(text, s[1]+nearContext)
		if i := strings.LastIndexByte(text[seen:s[0]], '<'); i >= 0 {
			lastLT = seen + i
		}
		if i := strings.LastIndexByte(text[seen:s[0]], '>'); i >= 0 {
			lastGT = seen + i
		}
		seen = s[0]
		// Inside a tag (a '<' after the last '>'): the whole tag, so an
		// attribute's name and quotes are always in the window.
		if lastLT > lastGT {
			lo = min(lo, lastLT)
			if gt := strings.IndexByte(text[s[1]:], '>'); gt >= 0 {
				hi = max(hi, s[1]+gt+1)
			} else {
				hi = len(text)
			}
		}
		if n := len(merged); n > 0 && lo <= merged[n-1][1] {
			merged[n-1][1] = max(merged[n-1][1], hi)
			continue
		}
		merged = append(merged, [2]int{lo, hi})
	}
	return merged
}

// isSeam reports whether b separates tokens: no URL match in running text
// crosses ASCII whitespace or a tag bracket (see isTokenEnd, isTextDelim).
func isSeam(b byte) bool { return b <= ' ' || b == '<' || b == '>' }

// widenLeft moves i left to a seam byte, which it includes, so the window
// starts where a token starts (a \b or an attribute's leading space matches).
func widenLeft(text string, i int) int {
	if i <= 0 || len(text) == 0 {
		return 0
	}
	i = min(i, len(text)-1)
	for i > 0 && !isSeam(text[i]) {
		i--
	}
	return i
}

// widenRight moves i right past the next seam byte.
func widenRight(text string, i int) int {
	if i >= len(text) {
		return len(text)
	}
	i = max(i, 0)
	for i < len(text) && !isSeam(text[i]) {
		i++
	}
	return min(i+1, len(text))
}
