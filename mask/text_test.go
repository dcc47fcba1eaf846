package mask

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestText(t *testing.T) {
	cases := []struct{ in, want string }{
		// The audit's reply: a number three ways, the HTTP status readable.
		{`400 {"error":"recipient 139.4444.7777 / tel:139%204444%207777 / 139_4444_7777"}`,
			`400 {"error":"recipient ***.****.7777 / tel:***%20****%20**** / ***_****_7777"}`},
		{"13812345678", "*******5678"},
		{"+8613812345678", "+*********5678"},
		{"+86 138 1234 5678", "+** *** **** 5678"},
		{"(+86) 138-1234-5678", "(+**) ***-****-5678"},
		{"138.1234.5678", "***.****.5678"},
		{"139 - 4444 - 7777", "*** - **** - 7777"},
		{"139/4444/7777", "***/****/7777"},
		{`139\/4444\/7777`, `***\/****\/7777`},
		{"(139)44447777", "(***)****7777"},
		{"tel:%2B8613812345678", "tel:%2B*********5678"},
		{"to=139+4444+7777", "to=***+****+7777"},
		{"138%2D1234%2d5678", "***%2D****%2d5678"},
		{"139%25204444%25207777", "***%2520****%25207777"},
		{"１３８１２３４５６７８", "*******５６７８"},
		{"号码13812345678格式错误", "号码*******5678格式错误"},
		{"li.lei@example.com", "***@example.com"},
		{"user%40example.com", "***%40example.com"},
		{"to=li.lei%40example.com&x=1", "to=***%40example.com&x=1"},
		{"13812345678@139.com", "***@139.com"},
		{"发送至 li.lei@example.com 失败", "发送至 ***@example.com 失败"},
		// Names are not recognized.
		{"recipient Li Lei <li.lei@example.com>", "recipient Li Lei <***@example.com>"},
		// Not phone numbers: left as they are.
		{"isv.BUSINESS_LIMIT_CONTROL", "isv.BUSINESS_LIMIT_CONTROL"},
		{"HTTP 400", "HTTP 400"},
		{"HTTP 400: error 1001", "HTTP 400: error 1001"},
		{"amount 1200.00, code 123456", "amount 1200.00, code 123456"},
		{"balance 12345.67", "balance 12345.67"},
		{"due 2026-11-30", "due 2026-11-30"},
		{"at 2026-11-30 10:00:00.", "at 2026-11-30 10:00:00."},
		{"2026/1/5, 2026.01.05", "2026/1/5, 2026.01.05"},
		{"50% off, 100%", "50% off, 100%"},
		{"", ""},
		// Shaped like a date or an amount, but more digits follow.
		{"2026-11-30-1234", "****-**-**-1234"},
		{"139.44.7777", "***.**.7777"},
		{"1.415.555.0123", "*.***.***.0123"},
	}
	for _, tc := range cases {
		if got := Text(tc.in); got != tc.want {
			t.Errorf("Text(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzText: whatever surrounds it, a number or an address does not survive.
func FuzzText(f *testing.F) {
	f.Add("", "")
	f.Add("recipient", "/ tel:139%204444%207777")
	f.Add("%25", "%2")
	f.Add("2026-11-30", "12345.67")
	f.Fuzz(func(t *testing.T, before, after string) {
		in := before + " 13812345678 li.lei@example.com " + after
		out := Text(in)
		if strings.Contains(out, "1381234") {
			t.Errorf("Text(%q) = %q keeps the number", in, out)
		}
		if strings.Count(out, "li.lei") > strings.Count(before, "li.lei")+strings.Count(after, "li.lei") {
			t.Errorf("Text(%q) = %q keeps the address", in, out)
		}
		if utf8.ValidString(in) && !utf8.ValidString(out) {
			t.Errorf("Text(%q) = %q, not valid UTF-8", in, out)
		}
	})
}

// Quote masks, then cuts to max bytes at a UTF-8 boundary; a long reply is
// read only so far (a number at its end never shows).
func TestQuote(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"550 no such user 李雷 <li.lei@example.com>, tel 138-1234-5678", 200, "550 no such user 李雷 <***@example.com>, tel ***-****-5678"},
		// Spellings a re-verification found in the clear.
		{"li.lei＠example.com", 200, "***@example.com"},
		{`{"to":"\uff11\uff13\uff19\uff14\uff14\uff14\uff14\uff17\uff17\uff17\uff17"}`, 200, `{"to":"*******7777"}`},
		{`li.lei\uff20example.com`, 200, "***@example.com"},
		{"li.lei%2540example.com", 200, "***@example.com"},
		{"li.lei&#64;example.com", 200, "***@example.com"},
		{`\u96f7 13944447777 \ud83d\ude00 \ud800`, 200, `雷 *******7777 😀 \ud800`},
		{strings.Repeat("错", 30), 20, strings.Repeat("错", 6) + "…"},                       // 6 runes of 3 bytes
		{strings.Repeat("x", 100000) + " 13812345678", 20, strings.Repeat("x", 20) + "…"}, // read to 80 bytes, cut to 20
	} {
		if got := Quote(tc.in, tc.max); got != tc.want {
			t.Errorf("Quote(%.40q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}

// Quote never panics and masks a planted number whatever surrounds it.
func FuzzQuote(f *testing.F) {
	for _, s := range []string{`\u12`, `\ud800\u`, "%", "%25%", "&#", "＠", `\ud83d\ude00`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got := Quote(s+" 13812345678 ", 1000); strings.Contains(got, "1381234") {
			t.Errorf("Quote(%q) = %q keeps the number", s, got)
		}
	})
}
