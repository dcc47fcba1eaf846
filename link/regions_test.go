package link

import (
	"os"
	"reflect"
	"testing"
)

// wholeText is the reference findAll: the expression over the whole text.
func wholeText(p pattern, text string) [][]int { return p.re.FindAllStringSubmatchIndex(text, -1) }

// FuzzFindURLsMatchesWholeText: finding URLs by running each expression
// only around its anchors finds exactly what running it over the whole
// text finds, so the faster check refuses exactly the same texts.
func FuzzFindURLsMatchesWholeText(f *testing.F) {
	for _, s := range []string{
		"https://pay.example.com/repay?t=x", "xhttps://evil.io", `http:\\evil.io\x`, "HTTPſ://evil.io",
		"www.evil.io www123.x.io awww.b.io _www.c.io", "a.io/b.io/ evil.io:80/x ex\u212Ample.com/ ſ.io/",
		`<a href="//evil.io">x</a> <a x=1 href = 'a b' SRC=evil.io/x XLINK:HREF="y">`, `href="x href=//evil.io"`,
		`style="background:url( 'evil.io' )" URL(x) url(  "a)" url(b c)`, "=\n=\"\"= =a", "::// :// a://b",
		"还款请访问evil.io/pay，谢谢 https://example.com还款", "\xff\xfe/.\xc5\xbf.io/", "h:t:t:p:https:http:/",
	} {
		f.Add(s)
	}
	if raw, err := os.ReadFile("testdata/email.html"); err == nil {
		f.Add(string(raw))
	}
	f.Fuzz(func(t *testing.T, text string) {
		for _, p := range []pattern{patScheme, patHTTP, patWWW, patBare, patAttr, patCSS} {
			if got, want := p.findAll(text), wholeText(p, text); !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: around anchors %v, whole text %v", p.re, got, want)
			}
		}
		if got, want := findURLs(text), findURLsWith(text, wholeText); !reflect.DeepEqual(got, want) {
			t.Fatalf("findURLs %+v, whole text %+v", got, want)
		}
	})
}
