package link

import (
	"errors"
	"testing"
)

func TestCheckURLs(t *testing.T) {
	t.Parallel()
	allowed := []string{"example.com", "Pay.Example.ORG."}
	tests := []struct {
		name    string
		text    string
		foreign string // "" = no error; else the URL reported
	}{
		{"no url", "您的账单将于2026年11月24日到期，应还¥1,234.56。", ""},
		{"allowed", "Pay: https://example.com/repay?t=abc.def", ""},
		{"subdomain", "https://pay.example.com/repay", ""},
		{"case and port", "HTTPS://PAY.EXAMPLE.COM:8443/x", ""},
		{"configured with odd case and dot", "https://pay.example.org/x", ""},
		{"sibling of configured subdomain", "https://www.example.org/x", "https://www.example.org/x"},
		{"trailing full stop", "Visit https://example.com.", ""},
		{"chinese punctuation", "请点击https://pay.example.com/r?t=x，谢谢", ""},
		{"ideographic full stop", "还款：https://pay.example.com。", ""},
		{"allowed www", "visit www.example.com today", ""},
		{"percent-encoded allowed host", "https://exa%6Dple.com/", ""},

		{"other domain", "see https://evil.io/pay now", "https://evil.io/pay"},
		{"lookalike prefix", "https://evil-example.com/", "https://evil-example.com/"},
		{"lookalike suffix", "https://pay.example.com.evil.io/x", "https://pay.example.com.evil.io/x"},
		{"glued suffix", "https://myexample.com/", "https://myexample.com/"},
		{"userinfo trick", "https://example.com@evil.io/", "https://example.com@evil.io/"},
		{"userinfo on allowed host", "https://evil.io@example.com/", "https://evil.io@example.com/"},
		{"password userinfo", "https://u:p@example.com/", "https://u:p@example.com/"},
		{"port trick", "https://example.com:evil.io/", "https://example.com:evil.io/"},
		{"encoded dot", "https://example.com%2Eevil.io/", "https://example.com%2Eevil.io/"},
		{"zero-width space", "https://example.com\u200b.evil.io/", "https://example.com\u200b.evil.io/"},
		{"ip literal", "http://[::1]/", "http://[::1]/"},
		{"ip address", "http://10.0.0.1/", "http://10.0.0.1/"},
		{"ftp", "ftp://evil.io/f", "ftp://evil.io/f"},
		{"glued to a word", "xhttps://evil.io", "xhttps://evil.io"},
		{"backslashes", `http:\\evil.io\x`, `http:\\evil.io\x`},
		{"no slashes", "https:evil.io/x", "https:evil.io/x"},
		{"triple slash", "https:///evil.io", "https:///evil.io"},
		{"open redirect", "https://example.com/?next=https://evil.io/", "https://evil.io/"},
		{"bare www", "请访问 www.evil.io 还款", "www.evil.io"},
		{"bare host with path", "还款请访问evil.io/pay", "evil.io/pay"},
		{"text glued to host", "https://example.com还款", "https://example.com还款"},
		{"first of two", "https://example.com/a https://evil.io/b https://bad.io/c", "https://evil.io/b"},

		{"html allowed href", `<a href="https://pay.example.com/repay?t=a&amp;x=1" style="color:#fff">Pay</a>`, ""},
		{"html fragment and mailto", `<a href="#top">top</a> <a href="mailto:help@example.com">mail</a> <a href='tel:+861234'>call</a>`, ""},
		{"html foreign href", `<a href="https://evil.io/pay">https://example.com/pay</a>`, "https://evil.io/pay"},
		{"html scheme-relative", `<a href="//evil.io/x">pay</a>`, "//evil.io/x"},
		{"html scheme-less", `<a href="evil.io/pay">pay</a>`, "evil.io/pay"},
		{"html relative path", `<a href="/repay">pay</a>`, "/repay"},
		{"html unquoted", `<a href=evil.io>pay</a>`, "evil.io"},
		{"html single quotes", `<a class=x href='//evil.io'>pay</a>`, "//evil.io"},
		{"html javascript", `<a href="javascript:alert(1)">x</a>`, "javascript:alert(1)"},
		{"html entity colon", `<a href="https&#58;//evil.io/">x</a>`, "https&#58;//evil.io/"},
		{"html newline in scheme", "<a href=\"ht\ntps://evil.io/\">x</a>", "ht\ntps://evil.io/"},
		{"html img src", `<img src="http://evil.io/p.png">`, "http://evil.io/p.png"},
		{"html css url", `<div style="background:url(//evil.io/bg.png)">`, "//evil.io/bg.png"},
		{"html escaped text link", `<p>https://evil.io/?a=1&amp;b=2</p>`, "https://evil.io/?a=1&amp;b=2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := CheckURLs(tt.text, allowed)
			if tt.foreign == "" {
				if err != nil {
					t.Fatalf("CheckURLs(%q) = %v, want nil", tt.text, err)
				}
				return
			}
			var fe *ForeignURLError
			if !errors.As(err, &fe) {
				t.Fatalf("CheckURLs(%q) = %v, want *ForeignURLError", tt.text, err)
			}
			if fe.URL != tt.foreign {
				t.Fatalf("ForeignURLError.URL = %q, want %q", fe.URL, tt.foreign)
			}
		})
	}
}

func TestCheckURLsEmptyAllowList(t *testing.T) {
	t.Parallel()
	if err := CheckURLs("https://example.com/", nil); err == nil {
		t.Fatal("empty allow list accepted a URL")
	}
	if err := CheckURLs("如非本人操作，请致电客服 400-000-0000。", nil); err != nil {
		t.Fatalf("text without URL: %v", err)
	}
}
