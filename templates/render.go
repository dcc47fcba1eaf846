package templates

import (
	"cmp"
	"fmt"
	"io"
	"strings"
	"text/template/parse"
	"unsafe"

	"duebell/kinds"
	"duebell/link"
)

// Render renders the notice d describes: kind (with d.Template, one of its
// escalation levels), channel, and locale (an
// unknown locale falls back to zh-CN; see ResolveLocale). Every rendered part
// is checked for URLs off the allowed domains as link.CheckURLs would check
// it whole (static text once at load, values and seams per render: see
// execute), and a foreign URL fails the render with the
// *link.ForeignURLError wrapped.
// A kind that may carry no URL at all (kinds.Kind.NoURL: verification_changed)
// fails on any. A part that renders empty is an error too.
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
	allowed := s.allowedFor(d.Kind)
	var r Rendered
	var err error
	switch d.Channel {
	case ChannelSMS:
		r.Text, err = execute(kt.sms, kt.clean[partSMS], d, allowed)
		if err != nil {
			return Rendered{}, fmt.Errorf("templates: render %s%s: %w", name, partSMS, err)
		}
	case ChannelEmail:
		for _, p := range []struct {
			suffix string
			t      interface{ Execute(io.Writer, any) error }
			dst    *string
		}{{partSubject, kt.subject, &r.Subject}, {partText, kt.text, &r.Text}, {partHTML, kt.html, &r.HTML}} {
			if *p.dst, err = execute(p.t, kt.clean[p.suffix], d, allowed); err != nil {
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
	return r, nil
}

// allowedFor is the domains a kind's messages may link to: none for a kind
// that may carry no URL (a security notice, which never links).
func (s *Set) allowedFor(kind string) []string {
	if k, _ := kinds.Of(kind); k.NoURL {
		return nil
	}
	return s.allowed
}

// execute renders t and checks the URLs in what it wrote: the static text
// that passed the check at load (clean) is not read again; every value,
// every other piece and every seam between two writes is, with its
// surroundings (link.CheckURLsNear).
func execute(t interface{ Execute(io.Writer, any) error }, clean staticText, d Data, allowed []string) (string, error) {
	w := spanWriter{clean: clean}
	if err := t.Execute(&w, d); err != nil {
		return "", err
	}
	out := string(w.buf)
	if err := link.CheckURLsNear(out, w.spans, allowed); err != nil {
		return "", err
	}
	return tidy(out), nil
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

// staticText is the text nodes of one parsed template that passed the URL
// check on their own, by the address and length of their bytes: the
// template engine writes a text node's bytes as they are in the tree.
type staticText map[*byte]int

// spanWriter collects a template's output and the byte ranges link.CheckURLsNear
// must check: every write that is not clean static text, and a seam where
// each write begins (text from two writes may form one URL).
type spanWriter struct {
	clean staticText
	buf   []byte
	spans [][2]int
}

func (w *spanWriter) Write(p []byte) (int, error) {
	start := len(w.buf)
	w.buf = append(w.buf, p...)
	end := start
	if n, ok := w.clean[unsafe.SliceData(p)]; !ok || n != len(p) {
		end = len(w.buf)
	}
	if k := len(w.spans); k > 0 && w.spans[k-1][1] == start {
		w.spans[k-1][1] = end
	} else {
		w.spans = append(w.spans, [2]int{start, end})
	}
	return len(p), nil
}

// cleanText returns the text nodes of trees that carry no foreign URL.
func cleanText(trees []*parse.Tree, allowed []string) staticText {
	clean := staticText{}
	var walk func(n parse.Node)
	walk = func(n parse.Node) {
		switch n := n.(type) {
		case *parse.TextNode:
			if len(n.Text) > 0 && link.CheckURLs(string(n.Text), allowed) == nil {
				clean[unsafe.SliceData(n.Text)] = len(n.Text)
			}
		case *parse.ListNode:
			if n != nil {
				for _, c := range n.Nodes {
					walk(c)
				}
			}
		case *parse.IfNode:
			walk(n.List)
			walk(n.ElseList)
		case *parse.RangeNode:
			walk(n.List)
			walk(n.ElseList)
		case *parse.WithNode:
			walk(n.List)
			walk(n.ElseList)
		}
	}
	for _, t := range trees {
		if t != nil {
			walk(t.Root)
		}
	}
	return clean
}
