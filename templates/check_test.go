package templates

import (
	"errors"
	"testing"

	"duebell/link"
)

func TestCheckDefaults(t *testing.T) {
	t.Parallel()
	s := load(t, Options{})
	res := s.Check(sampleLink(t))
	if want := len(Kinds()) * len(Locales()) * 2; len(res) != want {
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
			// zh-CN fits 3 parts with a full signed link, English 2.
			limit, enc := 3, EncodingUCS2
			if r.Locale == LocaleEn {
				limit, enc = 2, EncodingGSM7
			}
			if r.Segments > limit || r.Encoding != enc {
				t.Errorf("%s/%s sms: %d segments %s, want ≤ %d %s", r.Locale, r.Kind, r.Segments, r.Encoding, limit, enc)
			}
			t.Logf("%-22s %-5s sms %d × %s", r.Kind, r.Locale, r.Segments, r.Encoding)
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
	for _, r := range s.Check("https://pay.example.com/r") {
		if r.Err != nil {
			t.Errorf("%s/%s/%s: %v", r.Locale, r.Kind, r.Channel, r.Err)
		}
		if r.Channel == ChannelSMS && r.Segments > 2 {
			t.Errorf("%s/%s sms: %d segments, want ≤ 2", r.Locale, r.Kind, r.Segments)
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
	for _, r := range s.Check(sampleLink(t)) {
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
