package console

import (
	"bytes"
	"embed"
	"encoding/json"
	"html/template"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"duebell/internal/input"
	"duebell/kinds"
	"duebell/repo"
	"duebell/templates"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/console.css
var css []byte

// pages are parsed once: each page template with the shared layout.
var pages = func() map[string]*template.Template {
	out := map[string]*template.Template{}
	for _, name := range []string{"login", "search", "notice", "audit", "error", "overview", "customers", "customer", "bulk"} {
		out[name] = template.Must(template.New("layout.html").Funcs(funcs).
			ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html"))
	}
	return out
}()

var funcs = template.FuncMap{
	"badge":       badgeClass,
	"customerURL": customerURL,
	"list":        func(s ...string) []string { return s },
	// noticeURL links an audit target such as notification:42.
	"noticeURL": func(target string) string {
		id, ok := strings.CutPrefix(target, "notification:")
		if !ok || id == "" || strings.Trim(id, "0123456789") != "" {
			return ""
		}
		return "/console/notifications/" + id
	},
	"json": func(raw json.RawMessage) string {
		var buf bytes.Buffer
		if err := json.Indent(&buf, raw, "", "  "); err != nil {
			return string(raw)
		}
		return buf.String()
	},
}

// badgeClass colours a status: green went out, blue still queued, red
// failed, grey not sent on purpose.
func badgeClass(status string) string {
	switch status {
	case "sent", "delivered", "paid", "processed", "active", "opted_in":
		return "badge ok"
	case "pending", "sending":
		return "badge queued"
	case "failed", "undelivered", "permanent", "transient", "opted_out":
		return "badge bad"
	}
	return "badge muted"
}

// view is what every page template gets.
type view struct {
	Title   string
	Session *session // nil on the login page
	CSRF    string
	Flash   string
	Error   string
	Data    any
	// Circuits are the providers refusing our account right now, shown on
	// every page of a signed-in session.
	Circuits []repo.Circuit
	loc      *time.Location
	lang     string
	path     string // the page's path and query, to come back to after a preference change
}

// T translates an English message into the viewer's language.
func (v view) T(msg string) string { return tr(v.lang, msg) }

// Tf is T with fmt verbs.
func (v view) Tf(format string, args ...any) string { return trf(v.lang, format, args...) }

// Kind names a notice kind in the viewer's language.
func (v view) Kind(code string) string {
	if k, ok := kinds.Of(code); ok {
		return k.LabelIn(v.lang)
	}
	return code
}

// Status names a state (notice, attempt, plan, installment) or a channel.
func (v view) Status(code string) string { return label(v.lang, statusLabels, code) }

// Installment names an installment state.
func (v view) Installment(code string) string { return label(v.lang, installmentLabels, code) }

// Lang is the page's language, zh-CN or en.
func (v view) Lang() string { return v.lang }

// Zones are the zones the switcher offers, the current one included.
func (v view) Zones() []string {
	if slices.Contains(zones, v.Zone()) {
		return zones
	}
	return append([]string{v.Zone()}, zones...)
}

// Back is the current page, for the preference links.
func (v view) Back() string { return v.path }

// Date formats a calendar date.
func (v view) Date(d repo.Date) string {
	if d.IsZero() {
		return ""
	}
	return d.Format("2006-01-02")
}

// Money formats an amount in minor units (fen) of currency as the
// messages show it (¥1,234.56).
func (v view) Money(minor int64, currency string) string { return templates.Money(minor, currency) }

// Time formats an instant in the console's zone.
func (v view) Time(t any) string {
	switch t := t.(type) {
	case time.Time:
		if t.IsZero() {
			return ""
		}
		return t.In(v.loc).Format("2006-01-02 15:04:05")
	case *time.Time:
		if t == nil {
			return ""
		}
		return v.Time(*t)
	}
	return ""
}

// Zone is the name of the zone times are shown in.
func (v view) Zone() string { return v.loc.String() }

func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, page string, v view) {
	p := c.prefsOf(r)
	v.loc, v.lang, v.path = p.loc, p.lang, r.URL.RequestURI()
	if r.Method != http.MethodGet {
		v.path = "/console/"
	}
	v.Title, v.Error, v.Flash = tr(v.lang, v.Title), tr(v.lang, v.Error), tr(v.lang, v.Flash)
	if v.Session != nil {
		v.CSRF = v.Session.csrf()
		v.Circuits = c.openCircuits(r)
	}
	var buf bytes.Buffer
	if err := pages[page].Execute(&buf, v); err != nil {
		c.cfg.Logger.LogAttrs(r.Context(), slog.LevelError, "console render failed",
			slog.String("page", page), slog.String("error", err.Error()))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// fail shows an error page with status; to no one signed in for the zero
// session.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, s session, status int, msg string) {
	v := view{Title: http.StatusText(status), Error: msg}
	if s.Name != "" {
		v.Session = &s
	}
	c.render(w, r, status, "error", v)
}

// BadAddress answers a console address the server refused before any
// page saw it (a query that does not parse, a parameter given twice, text
// that is not UTF-8) with the console's error page, as a page would
// answer it, instead of the API's JSON.
func (c *Console) BadAddress(w http.ResponseWriter, r *http.Request, msg string) {
	securityHeaders(w)
	c.fail(w, r, session{}, http.StatusBadRequest, "The address cannot be read ("+msg+").")
}

// internal logs err (which carries no personal data: repo errors name ids
// and fields, never contacts) and shows a 500; or, when the database is
// unavailable, a 503 that asks to try again (with Retry-After, one WARN, as
// the API answers an outage). s is the zero session when err came from
// checking it: the page then shows no one signed in.
func (c *Console) internal(w http.ResponseWriter, r *http.Request, s session, err error) {
	if repo.IsUnavailable(err) {
		c.cfg.Logger.LogAttrs(r.Context(), c.unavailableLog.Level(), "database unavailable",
			slog.String("route", r.Pattern), slog.String("error", err.Error()))
		w.Header().Set("Retry-After", strconv.Itoa(int(repo.RetryAfter/time.Second)))
		c.fail(w, r, s, http.StatusServiceUnavailable, "The database is unavailable. Try again in a minute.")
		return
	}
	c.cfg.Logger.LogAttrs(r.Context(), slog.LevelError, "console request failed",
		slog.String("route", r.Pattern), slog.String("error", err.Error()))
	c.fail(w, r, s, http.StatusInternalServerError, "Something went wrong; it has been logged.")
}

func serveCSS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(css)
}

// parseLocalTime reads a time typed into a form: RFC 3339, or a date and
// optional time in the console's zone (2025-03-10, 2025-03-10 08:00,
// 2025-03-10T08:00 as a datetime-local input sends it).
func parseLocalTime(s string, loc *time.Location) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, true
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, input.Instant(t) == nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, input.Instant(t) == nil
		}
	}
	return time.Time{}, false
}
