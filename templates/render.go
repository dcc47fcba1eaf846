package templates

import (
	"cmp"
	"fmt"
	"io"
	"strings"

	"duebell/link"
)

// Render renders the notice d describes: kind (with d.Template, one of its
// escalation levels), channel, and locale (an
// unknown locale falls back to zh-CN; see ResolveLocale). Every rendered part
// is then checked with link.CheckURLs against the allowed domains, and a
// foreign URL fails the render with the *link.ForeignURLError wrapped.
// verification_changed must carry no URL at all. A part that renders empty
// is an error too.
func (s *Set) Render(d Data) (Rendered, error) {
	d.Locale = ResolveLocale(d.Locale)
	if d.Currency == "" {
		d.Currency = "CNY"
	}
	tname := cmp.Or(d.Template, d.Kind)
	if kind, ok := KindOf(tname); ok && kind != d.Kind {
		return Rendered{}, fmt.Errorf("templates: template %q is for %s, not %s", tname, kind, d.Kind)
	}
	kt, ok := s.byKey[key{d.Locale, tname}]
	if !ok {
		return Rendered{}, fmt.Errorf("templates: unknown template %q", tname)
	}
	name := d.Locale + "/" + tname
	var r Rendered
	var err error
	switch d.Channel {
	case ChannelSMS:
		r.Text, err = execute(kt.sms, d)
		if err != nil {
			return Rendered{}, fmt.Errorf("templates: render %s%s: %w", name, partSMS, err)
		}
	case ChannelEmail:
		for _, p := range []struct {
			suffix string
			t      interface{ Execute(io.Writer, any) error }
			dst    *string
		}{{partSubject, kt.subject, &r.Subject}, {partText, kt.text, &r.Text}, {partHTML, kt.html, &r.HTML}} {
			if *p.dst, err = execute(p.t, d); err != nil {
				return Rendered{}, fmt.Errorf("templates: render %s%s: %w", name, p.suffix, err)
			}
		}
		r.Subject = strings.Join(strings.Fields(r.Subject), " ") // one line, no header injection
		if r.Subject == "" || r.HTML == "" {
			return Rendered{}, fmt.Errorf("templates: render %s email: subject or HTML is empty", name)
		}
	default:
		return Rendered{}, fmt.Errorf("templates: unknown channel %q", d.Channel)
	}
	if r.Text == "" {
		return Rendered{}, fmt.Errorf("templates: render %s %s: text is empty", name, d.Channel)
	}
	if err := s.checkParts(name, d.Kind, r); err != nil {
		return Rendered{}, err
	}
	return r, nil
}

func (s *Set) checkParts(name, kind string, r Rendered) error {
	allowed := s.allowed
	if kind == KindVerificationChanged {
		allowed = nil // a security notice never carries a link
	}
	for _, p := range []struct{ part, text string }{{"subject", r.Subject}, {"text", r.Text}, {"html", r.HTML}} {
		if err := link.CheckURLs(p.text, allowed); err != nil {
			return fmt.Errorf("templates: %s %s: %w", name, p.part, err)
		}
	}
	return nil
}

func execute(t interface{ Execute(io.Writer, any) error }, d Data) (string, error) {
	var b strings.Builder
	if err := t.Execute(&b, d); err != nil {
		return "", err
	}
	return tidy(b.String()), nil
}

// tidy trims trailing spaces from lines, collapses runs of blank lines that
// template conditionals leave behind into one, and trims the ends.
func tidy(s string) string {
	lines := strings.Split(s, "\n")
	out := lines[:0]
	blank := false
	for _, l := range lines {
		l = strings.TrimRight(l, " \t\r")
		if l == "" && blank {
			continue
		}
		blank = l == ""
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}
