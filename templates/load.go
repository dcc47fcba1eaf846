package templates

import (
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	texttemplate "text/template"
	"text/template/parse"
)

//go:embed all:default
var defaults embed.FS

// Template parts of one kind, by file suffix.
const (
	partSMS     = ".sms.txt"
	partSubject = ".subject.txt"
	partText    = ".text.txt"
	partHTML    = ".html"
	layoutText  = "_layout.txt"
	layoutHTML  = "_layout.html"
)

// Options configure Load.
type Options struct {
	// Dir holds overrides laid out like default/ ("" = embedded only).
	Dir string
	// AllowedDomains are the official domains every rendered URL must be
	// on (or a subdomain of). Empty means no URL may appear at all.
	AllowedDomains []string
}

// Set is a parsed set of templates. It is safe for concurrent use.
type Set struct {
	allowed []string
	byKey   map[key]*kindTemplates
}

type key struct{ locale, kind string }

type kindTemplates struct {
	sms, subject, text *texttemplate.Template
	html               *htmltemplate.Template
	clean              map[string]staticText // by part suffix: static text checked at load
}

// Load parses every template, taking each file from opt.Dir when it exists
// there and from the embedded defaults otherwise. A parse error names the
// file; so does a file in opt.Dir that matches no template (a typo would
// otherwise be silently ignored). Files in opt.Dir not ending in .txt or
// .html, and dot files, are ignored.
func Load(opt Options) (*Set, error) {
	src := source{dir: opt.Dir}
	if opt.Dir != "" {
		if err := checkOverrideDir(opt.Dir); err != nil {
			return nil, err
		}
	}
	s := &Set{allowed: append([]string(nil), opt.AllowedDomains...), byKey: map[key]*kindTemplates{}}
	for _, locale := range locales {
		layoutT, err := src.read(locale, layoutText)
		if err != nil {
			return nil, err
		}
		layoutH, err := src.read(locale, layoutHTML)
		if err != nil {
			return nil, err
		}
		fm := funcs(locale)
		for _, kind := range names() {
			kt := &kindTemplates{}
			for _, p := range []struct {
				suffix string
				dst    **texttemplate.Template
			}{{partSMS, &kt.sms}, {partSubject, &kt.subject}, {partText, &kt.text}} {
				f, err := src.read(locale, kind+p.suffix)
				if err != nil {
					return nil, err
				}
				if *p.dst, err = parseText(f, layoutT, fm); err != nil {
					return nil, err
				}
			}
			f, err := src.read(locale, kind+partHTML)
			if err != nil {
				return nil, err
			}
			if kt.html, err = parseHTML(f, layoutH, fm); err != nil {
				return nil, err
			}
			k, _ := KindOf(kind)
			kt.checkStatic(s.allowedFor(k), locale)
			s.byKey[key{locale, kind}] = kt
		}
	}
	return s, nil
}

// checkStatic finds each part's static text that carries no foreign URL,
// so rendering checks only what values add (see execute). html/template
// rewrites its text when it first escapes a template, so the HTML part is
// escaped first, by a throwaway execution whose result does not matter.
func (kt *kindTemplates) checkStatic(allowed []string, locale string) {
	_ = kt.html.Execute(io.Discard, Data{Locale: locale, Channel: ChannelEmail, Currency: "CNY"})
	kt.clean = map[string]staticText{}
	for suffix, t := range map[string]*texttemplate.Template{partSMS: kt.sms, partSubject: kt.subject, partText: kt.text} {
		var trees []*parse.Tree
		for _, x := range t.Templates() {
			trees = append(trees, x.Tree)
		}
		kt.clean[suffix] = cleanText(trees, allowed)
	}
	var trees []*parse.Tree
	for _, x := range kt.html.Templates() {
		trees = append(trees, x.Tree)
	}
	kt.clean[partHTML] = cleanText(trees, allowed)
}

// file is one template source and where it came from.
type file struct {
	name string // "en/due_soon.sms.txt"
	path string // shown in errors: the override path or "default/…"
	body string
}

type source struct{ dir string }

func (src source) read(locale, name string) (file, error) {
	rel := path.Join(locale, name)
	if src.dir != "" {
		p := filepath.Join(src.dir, filepath.FromSlash(rel))
		b, err := os.ReadFile(p)
		if err == nil {
			return file{name: rel, path: p, body: string(b)}, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return file{}, fmt.Errorf("templates: read %s: %w", p, err)
		}
	}
	b, err := defaults.ReadFile("default/" + rel)
	if err != nil {
		return file{}, fmt.Errorf("templates: embedded %s missing: %w", rel, err)
	}
	return file{name: rel, path: "default/" + rel, body: string(b)}, nil
}

// parseText parses f with the text layout's partials; f may redefine them.
func parseText(f, layout file, fm map[string]any) (*texttemplate.Template, error) {
	t := texttemplate.New(f.name).Funcs(fm)
	if _, err := t.New(layout.name).Parse(layout.body); err != nil {
		return nil, fmt.Errorf("templates: parse %s: %w", layout.path, err)
	}
	if _, err := t.Parse(f.body); err != nil {
		return nil, fmt.Errorf("templates: parse %s: %w", f.path, err)
	}
	return t, nil
}

// parseHTML parses f with the HTML layout's partials; f may redefine them.
func parseHTML(f, layout file, fm map[string]any) (*htmltemplate.Template, error) {
	t := htmltemplate.New(f.name).Funcs(fm)
	if _, err := t.New(layout.name).Parse(layout.body); err != nil {
		return nil, fmt.Errorf("templates: parse %s: %w", layout.path, err)
	}
	if _, err := t.Parse(f.body); err != nil {
		return nil, fmt.Errorf("templates: parse %s: %w", f.path, err)
	}
	return t, nil
}

// checkOverrideDir fails on a missing dir and on template-looking files that
// no template would read.
func checkOverrideDir(dir string) error {
	info, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("templates: override dir: %w", err)
	}
	if !info.IsDir() {
		return fmt.Errorf("templates: override dir %s is not a directory", dir)
	}
	known := map[string]bool{}
	for _, l := range locales {
		known[path.Join(l, layoutText)], known[path.Join(l, layoutHTML)] = true, true
		for _, k := range names() {
			for _, p := range []string{partSMS, partSubject, partText, partHTML} {
				known[path.Join(l, k+p)] = true
			}
		}
	}
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") && p != dir {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		// Other files (a README, an editor's backup) are left alone; one
		// that looks like a template in another spelling (.TXT, .htm) is
		// refused below, not silently passed over for the default.
		lower := strings.ToLower(p)
		if d.IsDir() || !(strings.HasSuffix(lower, ".txt") || strings.HasSuffix(lower, ".html") || strings.HasSuffix(lower, ".htm")) {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if !known[filepath.ToSlash(rel)] {
			return fmt.Errorf("templates: override %s matches no template (want <locale>/<template>{%s,%s,%s,%s} with locale in %v)",
				p, partSMS, partSubject, partText, partHTML, locales)
		}
		return nil
	})
}
