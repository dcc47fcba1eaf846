package templates

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"duebell/link"
)

// fullCheck is what the renderer must agree with: link.CheckURLs over the
// whole output of every part, as every message was checked before static
// text was checked once at load.
func fullCheck(t *testing.T, s *Set, d Data) error {
	t.Helper()
	d.Locale = ResolveLocale(d.Locale)
	if d.Currency == "" {
		d.Currency = "CNY"
	}
	kt := s.byKey[key{d.Locale, d.Kind}]
	ts := []interface{ Execute(io.Writer, any) error }{kt.sms}
	if d.Channel == ChannelEmail {
		ts = []interface{ Execute(io.Writer, any) error }{kt.subject, kt.text, kt.html}
	}
	for _, tp := range ts {
		var b strings.Builder
		if err := tp.Execute(&b, d); err != nil {
			t.Fatal(err)
		}
		if err := link.CheckURLs(b.String(), s.allowedFor(d.Kind)); err != nil {
			return err
		}
	}
	return nil
}

// attackSeeds are values that make or hide a foreign link.
var attackSeeds = []string{
	"evil.io/pay", "https://evil.io", "//evil.io/x", "www.evil.io", "HTTPS:\\\\evil.io",
	"pay.example.com@evil.io/", "https://pay.example.com.evil.io/", "javascript:alert(1)",
	"&#104;ttps://evil.io", "evil", ".io/x", "张三 evil.io/领奖", "a\" href=\"//evil.io",
	"x' style='background:url(//evil.io)", "https://pay.example.com/ok", "\x00evil.io/", "www1.evil.io",
}

// overrideSet loads the defaults plus an override of due_soon whose static
// text sits right against the values in the ways a URL can be split: a
// scheme before a value, a path after one, an attribute and a CSS url()
// with spaces and newlines around the value. extra is more static HTML.
func overrideSet(t testing.TB, extra string) *Set {
	dir := t.TempDir()
	files := map[string]string{
		"en/due_soon.sms.txt": "{{.CustomerName}}/{{.Seq}} https://{{.PlanTitle}} www.{{.Merchant}}/p {{.Link}}",
		"en/due_soon.html": `{{template "header" .}}<p><a title="a>b" href = "{{.PlanTitle}}">x</a>` +
			"<a\nhref\n=\n\"  {{.Merchant}}\">y</a><span style=\"background: url( {{.PlanTitle}} )\">z</span>" +
			`<a href="https://pay.example.com{{.Reason}}/ok">pay</a></p>` + extra + `{{template "button" .Link}}{{template "footer" .}}`,
	}
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return load(t, Options{Dir: dir})
}

// FuzzRenderURLCheck checks that rendering, which re-reads only the values
// and their surroundings, refuses exactly the messages a check of the whole
// output refuses, for every kind, locale and channel, in the default
// templates and in an override built to split URLs across values.
func FuzzRenderURLCheck(f *testing.F) {
	f.Add("Ann", "pay.example.com", "example.com")
	for _, a := range attackSeeds {
		f.Add(a, "pay.example.com", "example.com")
		f.Add("Ann", a, "Shop")
		f.Add("Ann", "Plan", a)
	}
	sets := map[string]*Set{"default": load(f, Options{}), "override": overrideSet(f, "")}
	lnk := sampleLink(f)
	f.Fuzz(func(t *testing.T, name, title, merchant string) {
		for setName, s := range sets {
			for _, kind := range Names() {
				if k, _ := KindOf(kind); k != kind {
					continue
				}
				for _, locale := range Locales() {
					for _, channel := range []string{ChannelSMS, ChannelEmail} {
						d := Sample(kind, locale, channel, lnk)
						d.CustomerName, d.PlanTitle, d.Merchant = name, title, merchant
						if d.AppName != "" {
							d.AppName = merchant
						}
						if d.Reason != "" {
							d.Reason = title
						}
						_, got := s.Render(d)
						var fe *link.ForeignURLError
						gotForeign := errors.As(got, &fe)
						want := fullCheck(t, s, d)
						if gotForeign != (want != nil) {
							t.Fatalf("%s %s/%s/%s: Render = %v, whole-text check = %v", setName, kind, locale, channel, got, want)
						}
					}
				}
			}
		}
	})
}

// TestRenderChecksValuesAndSeams: a value that forms a foreign URL with
// the static text around it is refused, and so is a foreign URL made of two
// static pieces that are harmless alone, joined by a conditional.
func TestRenderChecksValuesAndSeams(t *testing.T) {
	t.Parallel()
	s := overrideSet(t, "")
	var fe *link.ForeignURLError
	for _, channel := range []string{ChannelSMS, ChannelEmail} {
		d := Sample(KindDueSoon, LocaleEn, channel, sampleLink(t))
		d.PlanTitle, d.Merchant = "pay.example.com", "example.com"
		if _, err := s.Render(d); err != nil {
			t.Fatalf("harmless values: %v", err)
		}
	}
	joined := overrideSet(t, `<a href={{if .AutoDebit}}{{end}}"//evil.io">x</a>`)
	d := Sample(KindDueSoon, LocaleEn, ChannelEmail, sampleLink(t))
	d.PlanTitle, d.Merchant = "pay.example.com", "example.com"
	if _, err := joined.Render(d); !errors.As(err, &fe) || fe.URL != "//evil.io" {
		t.Errorf("static pieces joined into //evil.io: Render = %v", err)
	}
	for _, tc := range []struct{ channel, field, value string }{
		{ChannelSMS, "PlanTitle", "evil.io"},       // https://{{.PlanTitle}}
		{ChannelSMS, "Merchant", "evil.io"},        // www.{{.Merchant}}/p
		{ChannelSMS, "CustomerName", "evil.io"},    // {{.CustomerName}}/{{.Seq}}
		{ChannelEmail, "Merchant", "//evil.io"},    // href\n=\n"  {{.Merchant}}"
		{ChannelEmail, "PlanTitle", "//evil.io/x"}, // url( {{.PlanTitle}} )
		{ChannelEmail, "PlanTitle", "evil.io"},     // href = "{{.PlanTitle}}"
	} {
		channel := tc.channel
		d := Sample(KindDueSoon, LocaleEn, channel, sampleLink(t))
		d.PlanTitle, d.Merchant = "pay.example.com", "example.com"
		switch tc.field {
		case "PlanTitle":
			d.PlanTitle = tc.value
		case "Merchant":
			d.Merchant = tc.value
		case "CustomerName":
			d.CustomerName = tc.value
		}
		if _, err := s.Render(d); !errors.As(err, &fe) {
			t.Errorf("%s %s=%q: Render = %v, want a foreign URL", channel, tc.field, tc.value, err)
		}
	}
}
