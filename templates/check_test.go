package templates

import (
	"errors"
	"strings"
	"testing"

	"duebell/link"
)

func TestCheckDefaults(t *testing.T) {
	t.Parallel()
	s := load(t, Options{})
	res := s.Check(sampleLink(t), "", "")
	if want := len(Names()) * len(Locales()) * 2; len(res) != want {
		t.Fatalf("Check returned %d results, want %d", len(res), want)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Errorf("%s/%s/%s: %v", r.Locale, r.Kind, r.Channel, r.Err)
			continue
		}
		switch r.Channel {
		case ChannelSMS:
			if r.Segments < 1 || r.Encoding == "" {
				t.Errorf("%s/%s sms: segments %d encoding %q", r.Locale, r.Kind, r.Segments, r.Encoding)
			}
			// A lender pays per part: with a realistic merchant, plan
			// title, amount and the per-user link, both locales fit 2.
			limit, enc := 2, EncodingUCS2
			if r.Locale == LocaleEn {
				enc = EncodingGSM7
			}
			if r.Segments > limit || r.Encoding != enc {
				t.Errorf("%s/%s sms: %d segments %s, want ≤ %d %s", r.Locale, r.Template, r.Segments, r.Encoding, limit, enc)
			}
			t.Logf("%-22s %-5s sms %d × %s", r.Template, r.Locale, r.Segments, r.Encoding)
		case ChannelEmail:
			if r.Segments != 0 {
				t.Errorf("%s/%s email reports segments", r.Locale, r.Kind)
			}
		}
	}
}

func TestCheckZhCNFitsTwoSegmentsWithShortLink(t *testing.T) {
	t.Parallel()
	s := load(t, Options{})
	// A fixed, filed URL (link_mode for mainland carriers) instead of a per-user one.
	for _, r := range s.Check("https://pay.example.com/r", "", "") {
		if r.Err != nil {
			t.Errorf("%s/%s/%s: %v", r.Locale, r.Kind, r.Channel, r.Err)
		}
		if r.Channel == ChannelSMS && r.Segments > 2 {
			t.Errorf("%s/%s sms: %d segments, want ≤ 2", r.Locale, r.Kind, r.Segments)
		}
	}
}

func TestCheckFailsSMSOverTwoSegments(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// 70 UCS-2 characters fit one part; these 140 plus the link need three.
	writeFile(t, dir, "zh-CN/overdue.sms.txt", strings.Repeat("请尽快还款。", 20)+`{{.Link}}`)
	s := load(t, Options{Dir: dir})
	for _, r := range s.Check(sampleLink(t), "", "") {
		over := r.Locale == LocaleZhCN && r.Template == KindOverdue && r.Channel == ChannelSMS
		if over != (r.Err != nil) {
			t.Errorf("%s/%s/%s: err %v", r.Locale, r.Kind, r.Channel, r.Err)
		}
		if over && (r.Segments != 3 || !strings.Contains(r.Err.Error(), "3 SMS segments")) {
			t.Errorf("overdue zh-CN: %d segments, %v", r.Segments, r.Err)
		}
	}
}

// The lender's SMS signature signs every SMS in the check too: a long one
// takes the longest zh-CN SMS (due_soon, 134 of 134 characters with the
// sample merchant's six) over two parts, and no e-mail.
func TestCheckSignsSMSWithTheLendersSignature(t *testing.T) {
	t.Parallel()
	s := load(t, Options{})
	for _, r := range s.Check(sampleLink(t), "", "优品数码消费金融分期服务中心") {
		over := r.Locale == LocaleZhCN && r.Template == KindDueSoon && r.Channel == ChannelSMS
		if over && (r.Err == nil || r.Segments != 3) {
			t.Errorf("due_soon zh-CN SMS signed with a 14-character signature: %d segments, %v; want 3, refused", r.Segments, r.Err)
		}
		if r.Channel == ChannelEmail && r.Err != nil {
			t.Errorf("%s/%s email: %v", r.Locale, r.Template, r.Err)
		}
	}
}

func TestCheckReportsBrokenOverride(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// Parses, but fails on the manual-repayment branch only.
	writeFile(t, dir, "en/due_today.sms.txt", `{{if .AutoDebit}}ok{{else}}{{.NoSuchField}}{{end}}`)
	writeFile(t, dir, "zh-CN/card_unbound.sms.txt", `请访问 https://evil.io/x`)
	s := load(t, Options{Dir: dir})
	bad := map[string]bool{}
	for _, r := range s.Check(sampleLink(t), "", "") {
		if r.Err != nil {
			bad[r.Locale+"/"+r.Kind+"/"+r.Channel] = true
			var fe *link.ForeignURLError
			if r.Kind == KindCardUnbound && !errors.As(r.Err, &fe) {
				t.Errorf("card_unbound: %v, want ForeignURLError", r.Err)
			}
		}
	}
	if len(bad) != 2 || !bad["en/due_today/sms"] || !bad["zh-CN/card_unbound/sms"] {
		t.Fatalf("Check flagged %v", bad)
	}
}
