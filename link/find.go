package link

import (
	"html"
	"regexp"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// candidate is one URL-looking thing found in a text.
type candidate struct {
	pos, end  int    // byte span of the URL-looking token
	display   string // what ForeignURLError reports
	authority string // host[:port], maybe with user info
	foreign   bool   // foreign whatever its host
	skip      bool   // not a link to a host (#frag, mailto:, tel:)
}

var (
	reScheme = regexp.MustCompile(`(?i)[a-z][a-z0-9+.\-]*://`)
	// Browsers accept "https:evil.io" and "https:\\evil.io" too.
	reHTTP = regexp.MustCompile(`(?i)https?:[/\\]*`)
	reWWW  = regexp.MustCompile(`(?i)\bwww[0-9]{0,3}\.`)
	// A bare host followed by a path, as phones linkify "evil.io/pay".
	reBare = regexp.MustCompile(`(?i)\b(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}(?::[0-9]{1,5})?/`)
	reAttr = regexp.MustCompile(`(?i)[\s"'/](?:href|src|action|formaction|background|poster|cite|longdesc|xlink:href)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))`)
	reCSS  = regexp.MustCompile(`(?i)url\(\s*(?:"([^"]*)"|'([^']*)'|([^)\s]*))`)

	reSchemePrefix = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.\-]*:`)
)

const maxDisplay = 200

// findURLs returns every URL-looking candidate in text, in text order.
// "scheme://" URLs and attribute values are always candidates; lenient
// "https:" forms, "www." hosts and bare host/path forms are skipped where
// they lie inside a URL already found (its path or query).
func findURLs(text string) []candidate { return findURLsWith(text, pattern.findAll) }

// findURLsWith is findURLs with the matcher given: pattern.findAll, or, as
// its test's reference, each expression run over the whole text.
func findURLsWith(text string, find func(pattern, string) [][]int) []candidate {
	var cs []candidate
	for _, m := range find(patScheme, text) {
		cs = append(cs, textCandidate(text, m[0], m[1]))
	}
	for _, p := range []pattern{patAttr, patCSS} {
		for _, m := range find(p, text) {
			for g := 2; g+1 < len(m); g += 2 {
				if m[g] >= 0 {
					cs = append(cs, attrCandidate(text[m[g]:m[g+1]], m[g]))
					break
				}
			}
		}
	}
	for _, p := range []pattern{patHTTP, patWWW, patBare} {
		for _, m := range find(p, text) {
			if inside(cs, m[0]) {
				continue
			}
			authStart := m[0] // www. and bare hosts start with the host
			if p.re == reHTTP {
				authStart = m[1]
			}
			cs = append(cs, textCandidate(text, m[0], authStart))
		}
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].pos < cs[j].pos })
	return cs
}

func inside(cs []candidate, pos int) bool {
	for _, c := range cs {
		if c.pos <= pos && pos < c.end {
			return true
		}
	}
	return false
}

// textCandidate reads a URL in running text starting at pos whose authority
// starts at authStart.
func textCandidate(text string, pos, authStart int) candidate {
	end := len(text)
	if i := strings.IndexFunc(text[pos:], isTokenEnd); i >= 0 {
		end = pos + i
	}
	auth := text[authStart:]
	if i := strings.IndexFunc(auth, isTextDelim); i >= 0 {
		auth = auth[:i]
	}
	return candidate{pos: pos, end: max(end, authStart+len(auth)), display: clip(text[pos:end]), authority: auth}
}

// attrCandidate reads an attribute or url() value the way a browser would:
// entities decoded, tabs and newlines dropped, any number of slashes or
// backslashes before the host, and a scheme-less value read as a host.
func attrCandidate(raw string, pos int) candidate {
	c := candidate{pos: pos, end: pos + len(raw), display: clip(raw)}
	v := strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, html.UnescapeString(raw))
	v = strings.TrimFunc(v, func(r rune) bool { return r <= ' ' })
	if v == "" || v[0] == '#' {
		c.skip = true
		return c
	}
	if m := reSchemePrefix.FindString(v); m != "" {
		switch asciiLower(m[:len(m)-1]) {
		case "http", "https":
			v = v[len(m):]
		case "mailto", "tel", "sms":
			c.skip = true
			return c
		default: // javascript:, data:, ftp:, …
			c.foreign = true
			return c
		}
	}
	v = strings.TrimLeft(v, "/\\")
	if i := strings.IndexAny(v, "/\\?#"); i >= 0 {
		v = v[:i]
	}
	c.authority = v
	return c
}

// isTokenEnd ends the URL-looking token reported to the user.
func isTokenEnd(r rune) bool {
	return r <= ' ' || strings.ContainsRune("\"'<>", r) || unicode.IsSpace(r) ||
		strings.ContainsRune("，、；！？（）【】「」『』《》“”‘’…", r)
}

// isTextDelim reports whether r ends a host found in running text. Only
// characters a browser or a phone's linkifier would also stop at are
// delimiters; anything else (including invisible characters IDNA drops)
// stays in the host and makes it foreign.
func isTextDelim(r rune) bool {
	if r < utf8.RuneSelf {
		return r <= ' ' || r == 0x7f || strings.ContainsRune("/\\?#\"'<>()[]{}|^`,;!", r)
	}
	return unicode.IsSpace(r) || strings.ContainsRune("，、；！？（）【】「」『』《》“”‘’…", r)
}

func clip(s string) string {
	if len(s) <= maxDisplay {
		return s
	}
	i := maxDisplay
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}
