package templates

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"duebell/link"
)

func writeFile(t *testing.T, dir, rel, body string) string {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestOverrideReplacesOneTemplate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "en/due_soon.sms.txt", "{{.Merchant}}: {{money .Amount .Currency}} due {{date .DueDate}}. {{.Link}}\n")
	writeFile(t, dir, "README.md", "notes are ignored")
	writeFile(t, dir, ".git/HEAD.txt", "dot dirs are ignored")
	s := load(t, Options{Dir: dir})
	lnk := sampleLink(t)

	got := render(t, s, Sample(KindDueSoon, LocaleEn, ChannelSMS, lnk)).Text
	if want := "Example Store: ¥1,234.56 due Nov 24, 2026. " + lnk; got != want {
		t.Fatalf("override: %q, want %q", got, want)
	}
	def := load(t, Options{})
	for _, d := range []Data{
		Sample(KindDueSoon, LocaleZhCN, ChannelSMS, lnk),
		Sample(KindDueSoon, LocaleEn, ChannelEmail, lnk),
		Sample(KindDueToday, LocaleEn, ChannelSMS, lnk),
	} {
		if a, b := render(t, s, d), render(t, def, d); a != b {
			t.Errorf("%s/%s/%s changed by an unrelated override", d.Locale, d.Kind, d.Channel)
		}
	}
}

func TestOverrideLayoutPartial(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "zh-CN/_layout.txt", `{{define "greeting"}}亲爱的用户：{{end}}{{define "footer"}}——客服团队{{end}}`)
	s := load(t, Options{Dir: dir})
	got := render(t, s, Sample(KindPlanCancelled, LocaleZhCN, ChannelEmail, "")).Text
	if !strings.HasPrefix(got, "亲爱的用户：") || !strings.HasSuffix(got, "——客服团队") {
		t.Fatalf("layout override not used:\n%s", got)
	}
}

func TestOverrideWithForeignURLFailsRender(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "zh-CN/overdue.html", `{{template "header" .}}<p><a href="https://pay.example.com.evil.io/r">还款</a></p>{{template "footer" .}}`)
	writeFile(t, dir, "en/overdue.sms.txt", "Pay at www.evil-example.com now")
	s := load(t, Options{Dir: dir})

	tests := []struct {
		d    Data
		want string
	}{
		{Sample(KindOverdue, LocaleZhCN, ChannelEmail, sampleLink(t)), "https://pay.example.com.evil.io/r"},
		{Sample(KindOverdue, LocaleEn, ChannelSMS, sampleLink(t)), "www.evil-example.com"},
	}
	for _, tt := range tests {
		r, err := s.Render(tt.d)
		var fe *link.ForeignURLError
		if !errors.As(err, &fe) {
			t.Fatalf("Render = %+v, %v; want *link.ForeignURLError", r, err)
		}
		if fe.URL != tt.want {
			t.Errorf("ForeignURLError.URL = %q, want %q", fe.URL, tt.want)
		}
		if r != (Rendered{}) {
			t.Errorf("a failed render returned content: %+v", r)
		}
	}
}

func TestLoadFailsOnBrokenOverride(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ rel, body string }{
		{"en/due_today.text.txt", "Hello {{.CustomerName"},
		{"zh-CN/card_bound.html", "{{if .CardLast4}}unclosed"},
		{"en/_layout.html", `{{define "header"}}{{end`},
		{"en/overdue.subject.txt", "{{nosuchfunc .Amount}}"},
	} {
		dir := t.TempDir()
		p := writeFile(t, dir, tt.rel, tt.body)
		_, err := Load(Options{Dir: dir, AllowedDomains: allowed})
		if err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: Load = %v, want an error naming %s", tt.rel, err, p)
		}
	}
}

func TestLoadFailsOnUnknownOverrideFile(t *testing.T) {
	t.Parallel()
	// A misspelt name, and the right name in another spelling of its
	// extension, which was passed over for the default without a word.
	for _, rel := range []string{"en/due_son.sms.txt", "en/due_soon.sms.TXT", "en/due_soon.htm"} {
		dir := t.TempDir()
		p := writeFile(t, dir, rel, "typo")
		_, err := Load(Options{Dir: dir})
		if err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: Load = %v, want an error naming %s", rel, err, p)
		}
	}
	// Other files in the directory are not templates.
	dir := t.TempDir()
	writeFile(t, dir, "README.md", "our overrides")
	writeFile(t, dir, "en/due_soon.sms.txt~", "an editor's backup")
	if _, err := Load(Options{Dir: dir}); err != nil {
		t.Errorf("Load with a README and a backup file: %v", err)
	}
}

func TestLoadFailsOnMissingDir(t *testing.T) {
	t.Parallel()
	if _, err := Load(Options{Dir: filepath.Join(t.TempDir(), "nope")}); err == nil {
		t.Fatal("Load accepted a missing override dir")
	}
}

func TestEmbeddedFilesMatchKinds(t *testing.T) {
	t.Parallel()
	want := map[string]bool{}
	for _, l := range Locales() {
		want[l+"/"+layoutText], want[l+"/"+layoutHTML] = true, true
		for _, k := range Names() {
			for _, p := range []string{partSMS, partSubject, partText, partHTML} {
				want[l+"/"+k+p] = true
			}
		}
	}
	for _, l := range Locales() {
		entries, err := defaults.ReadDir("default/" + l)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if !want[l+"/"+e.Name()] {
				t.Errorf("embedded default/%s/%s belongs to no kind", l, e.Name())
			}
			delete(want, l+"/"+e.Name())
		}
	}
	for f := range want {
		t.Errorf("embedded default/%s missing", f)
	}
}
