package link

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// pattern is one of the URL-finding expressions with what makes it cheap:
// every match contains the anchor byte, and for an anchor at i, extent
// returns a range of text that holds every match containing that anchor,
// starting one rune early where the expression looks behind (\b, or a
// delimiter it matches), or ok=false when no match can contain it. findAll
// runs the expression only over those ranges (merged where they meet),
// which a fuzz test checks gives exactly the matches of running it over
// the whole text; on a rendered email that is a few percent of the text.
type pattern struct {
	re     *regexp.Regexp
	anchor byte
	extent func(text string, i int) (lo, hi int, ok bool)
}

var (
	patScheme = pattern{reScheme, ':', schemeExtent}
	patHTTP   = pattern{reHTTP, ':', httpExtent}
	patWWW    = pattern{reWWW, '.', wwwExtent}
	patBare   = pattern{reBare, '/', bareExtent}
	patAttr   = pattern{reAttr, '=', attrExtent}
	patCSS    = pattern{reCSS, '(', cssExtent}
)

// findAll is p.re.FindAllStringSubmatchIndex(text, -1), computed over the
// anchors' ranges only.
func (p pattern) findAll(text string) [][]int {
	var out [][]int
	lo, hi := -1, -1
	flush := func() {
		for _, m := range p.re.FindAllStringSubmatchIndex(text[lo:hi], -1) {
			for k := range m {
				if m[k] >= 0 {
					m[k] += lo
				}
			}
			out = append(out, m)
		}
	}
	for i := 0; i < len(text); {
		j := strings.IndexByte(text[i:], p.anchor)
		if j < 0 {
			break
		}
		a := i + j
		i = a + 1
		l, h, ok := p.extent(text, a)
		if !ok {
			continue
		}
		if lo >= 0 && l <= hi {
			lo, hi = min(lo, l), max(hi, h)
			continue
		}
		if lo >= 0 {
			flush()
		}
		lo, hi = l, h
	}
	if lo >= 0 {
		flush()
	}
	return out
}

// foldsToASCII reports whether (?i) lets r match an ASCII letter: the
// Kelvin sign matches k and the long s matches s.
func foldsToASCII(r rune) bool {
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < utf8.RuneSelf {
			return true
		}
	}
	return false
}

func isASCIILetter(b byte) bool { return b|0x20 >= 'a' && b|0x20 <= 'z' }
func isDigit(b byte) bool       { return b >= '0' && b <= '9' }

// runBack returns where the run of runes in class that ends at i starts.
func runBack(text string, i int, class func(byte) bool) int {
	for i > 0 {
		if b := text[i-1]; b < utf8.RuneSelf {
			if !class(b) {
				return i
			}
			i--
			continue
		}
		r, n := utf8.DecodeLastRuneInString(text[:i])
		if !foldsToASCII(r) {
			return i
		}
		i -= n
	}
	return 0
}

// runeBefore steps back one rune from i (the look-behind context).
func runeBefore(text string, i int) int {
	if i == 0 {
		return 0
	}
	_, n := utf8.DecodeLastRuneInString(text[:i])
	return i - n
}

// backBytes steps back about n bytes from i, to a rune start.
func backBytes(text string, i, n int) int {
	i = max(0, i-n)
	for i > 0 && !utf8.RuneStart(text[i]) {
		i--
	}
	return i
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\f' || b == '\r' }

// valueEnd is where an attribute or url() value that starts at i (after
// spaces) can end: at its closing quote, or at the first byte stop accepts,
// whichever is later (an unclosed quote may be part of an unquoted value).
func valueEnd(text string, i int, stop func(byte) bool) int {
	for i < len(text) && isSpace(text[i]) {
		i++
	}
	end := i
	if i < len(text) && (text[i] == '"' || text[i] == '\'') {
		if k := strings.IndexByte(text[i+1:], text[i]); k >= 0 {
			end = i + 1 + k + 1
		}
	}
	for i < len(text) && !stop(text[i]) {
		i++
	}
	return max(end, i)
}

// schemeExtent: "scheme://", the scheme a run of letters, digits, + . -.
func schemeExtent(text string, i int) (int, int, bool) {
	if !strings.HasPrefix(text[i:], "://") {
		return 0, 0, false
	}
	lo := runBack(text, i, func(b byte) bool {
		return isASCIILetter(b) || isDigit(b) || b == '+' || b == '.' || b == '-'
	})
	return lo, i + 3, lo < i
}

// httpExtent: "http:" or "https:" (the s perhaps a long s) and slashes.
func httpExtent(text string, i int) (int, int, bool) {
	if i == 0 {
		return 0, 0, false
	}
	if b := text[i-1]; b|0x20 != 'p' && b|0x20 != 's' && b != 0xBF {
		return 0, 0, false
	}
	hi := i + 1
	for hi < len(text) && (text[hi] == '/' || text[hi] == '\\') {
		hi++
	}
	return backBytes(text, i, 6), hi, true
}

// wwwExtent: "www", up to three digits and a dot, after a word boundary.
func wwwExtent(text string, i int) (int, int, bool) {
	if i == 0 {
		return 0, 0, false
	}
	if b := text[i-1]; b|0x20 != 'w' && !isDigit(b) {
		return 0, 0, false
	}
	return backBytes(text, i, 7), i + 1, true
}

// bareExtent: a host (labels, dots, a port) right before a slash, after a
// word boundary.
func bareExtent(text string, i int) (int, int, bool) {
	lo := runBack(text, i, func(b byte) bool {
		return isASCIILetter(b) || isDigit(b) || b == '-' || b == '.' || b == ':'
	})
	return runeBefore(text, lo), i + 1, lo < i
}

// attrExtent: a delimiter, an attribute name, spaces, "=", spaces and a value.
func attrExtent(text string, i int) (int, int, bool) {
	j := i
	for j > 0 && isSpace(text[j-1]) {
		j--
	}
	lo := runBack(text, j, func(b byte) bool { return isASCIILetter(b) || b == ':' })
	// The expression wants a delimiter, then one of its names: the whole run
	// (letters and colons are not delimiters). Most '=' in an email are
	// style= and the like.
	if !isURLAttr(text[lo:j]) {
		return 0, 0, false
	}
	return runeBefore(text, lo), valueEnd(text, i+1, func(b byte) bool {
		return isSpace(b) || b == '"' || b == '\'' || b == '>'
	}), true
}

// urlAttrs are reAttr's attribute names.
var urlAttrs = []string{"href", "src", "action", "formaction", "background", "poster", "cite", "longdesc", "xlink:href"}

// isURLAttr reports whether name is one of urlAttrs under (?i)'s folding.
func isURLAttr(name string) bool {
	for _, a := range urlAttrs {
		if strings.EqualFold(name, a) {
			return true
		}
	}
	return false
}

// cssExtent: "url(", spaces and a value.
func cssExtent(text string, i int) (int, int, bool) {
	if i < 3 || !strings.EqualFold(text[i-3:i], "url") {
		return 0, 0, false
	}
	return i - 3, valueEnd(text, i+1, func(b byte) bool { return isSpace(b) || b == ')' }), true
}
