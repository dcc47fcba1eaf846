// Package console is the support web console at /console: server-rendered
// pages (html/template, no JavaScript), in Chinese or English, to see the
// day's sending at a glance, find a customer and their whole story, search
// the delivery log, read one notice's story, resend it (or every notice an
// outage lost) with a reason, and read the audit trail. It uses
// the API's bearer tokens: a token logs in once and the browser then holds a
// signed HttpOnly, SameSite=Strict session cookie; every form carries a CSRF
// token. Viewers read; operators also resend.
package console

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"time"

	"duebell/internal/input"
	"duebell/internal/outage"
	"duebell/repo"
	"duebell/scheduler"
)

// Roles, as the API names them.
const (
	RoleViewer   = "viewer"
	RoleOperator = "operator"
)

// DefaultSessionTTL is how long a login lasts when Config.SessionTTL is zero.
const DefaultSessionTTL = 8 * time.Hour

// Identity is who a token is: its name (the audited actor) and role.
type Identity struct {
	Name string
	Role string
}

// CanResend reports whether the identity may resend notices.
func (i Identity) CanResend() bool { return i.Role == RoleOperator }

// Authenticator checks tokens; the API implements it over its token list.
type Authenticator interface {
	// Login finds the token with this secret, comparing in constant time.
	Login(secret string) (Identity, bool)
	// SessionKey returns the key sessions of token name are signed with
	// (derived from its secret) and its current identity.
	SessionKey(name string) (key []byte, id Identity, ok bool)
}

// Store is what the console reads and writes.
type Store interface {
	SearchNotifications(ctx context.Context, f repo.NoticeFilter, limit int, cursor string) (repo.NoticePage, error)
	GetNotificationDetail(ctx context.Context, id int64) (repo.NoticeDetail, error)
	Resend(ctx context.Context, in repo.ResendInput) (repo.ResendResult, error)
	ListAudit(ctx context.Context, since time.Time, actor string, limit int) ([]repo.AuditEntry, error)
	FindCustomers(ctx context.Context, q string) ([]repo.CustomerHit, error)
	GetCustomerView(ctx context.Context, ref string) (repo.CustomerView, error)
	GetOverview(ctx context.Context, since, until, now time.Time, loc *time.Location) (repo.Overview, error)
	EffectReport(ctx context.Context, kinds []string, since, until, now time.Time) ([]repo.EffectRow, error)
	ResendMatching(ctx context.Context, in repo.BulkResendInput) (repo.BulkResendResult, error)
	CollectionSent(ctx context.Context, customerID int64, since time.Time, kinds []string) ([]time.Time, error)
}

// Config configures the console.
type Config struct {
	Auth     Authenticator
	Store    Store
	Sessions SessionStore // records logouts (session.go)
	Logger   *slog.Logger // default: discard
	// Now is the business clock resends are stamped with; default time.Now.
	Now func() time.Time
	// Clock is the wall clock sessions expire by; default time.Now.
	Clock func() time.Time
	// Location is the zone times are shown and typed in; default Asia/Shanghai.
	Location   *time.Location
	SessionTTL time.Duration // default DefaultSessionTTL
	// PlainHTTP lets cookies go without Secure on requests that did not
	// come over TLS: for a local trial over http:// only (the demo).
	PlainHTTP bool
	// LoginBurst sign-in attempts per client address at once, then one
	// every LoginEvery; defaults DefaultLoginBurst and DefaultLoginEvery.
	LoginBurst int
	LoginEvery time.Duration
	// Collection is the contact limits for overdue notices
	// (policy.collection), whose use a customer's page shows.
	Collection scheduler.Collection
	// OnIdentity, when set, is told which token a request acts as (the
	// API's access log records it).
	OnIdentity func(r *http.Request, name string)
}

// Console serves the pages.
type Console struct {
	cfg    Config
	logins *throttle
	effect effectCache // the overview's effect reports (effect.go)
	// unavailableLog paces the WARNs of pages answered 503 during an
	// outage, as the API's.
	unavailableLog *outage.Every
}

// New returns the console. Auth, Store and Sessions are required.
func New(cfg Config) (*Console, error) {
	if cfg.Auth == nil || cfg.Store == nil || cfg.Sessions == nil {
		return nil, errors.New("console: Auth, Store and Sessions are required")
	}
	cfg.Logger = cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler))
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Location == nil {
		loc, err := time.LoadLocation("Asia/Shanghai")
		if err != nil {
			return nil, err
		}
		cfg.Location = loc
	}
	cfg.SessionTTL = cmp.Or(cfg.SessionTTL, DefaultSessionTTL)
	cfg.LoginBurst = cmp.Or(cfg.LoginBurst, DefaultLoginBurst)
	cfg.LoginEvery = cmp.Or(cfg.LoginEvery, DefaultLoginEvery)
	return &Console{cfg: cfg, logins: newThrottle(cfg.LoginEvery, cfg.LoginBurst),
		unavailableLog: outage.NewEvery()}, nil
}

// Mux is where Register adds routes (an *http.ServeMux).
type Mux interface {
	Handle(pattern string, h http.Handler)
}

// Register adds the console's routes under /console/ to mux.
func (c *Console) Register(mux Mux) {
	mux.Handle("GET /console", http.RedirectHandler("/console/", http.StatusSeeOther))
	mux.Handle("GET /console/{$}", c.page(c.overview))
	mux.Handle("GET /console/static/console.css", http.HandlerFunc(serveCSS))
	mux.Handle("GET /console/login", c.public(c.loginForm))
	mux.Handle("POST /console/login", c.public(c.login))
	mux.Handle("POST /console/logout", c.form(c.logout, false))
	mux.Handle("GET /console/notifications", c.page(c.search))
	mux.Handle("GET /console/notifications/{id}", c.page(c.notice))
	mux.Handle("POST /console/notifications/{id}/resend", c.form(c.resend, true))
	mux.Handle("GET /console/audit", c.page(c.audit))
	mux.Handle("GET /console/prefs", c.public(c.setPrefs))
	mux.Handle("GET /console/customers", c.page(c.customers))
	mux.Handle("GET /console/customers/{ref}", c.page(c.customer))
	mux.Handle("GET /console/resends", c.page(c.bulkForm))
	mux.Handle("POST /console/resends", c.form(c.bulkResend, true))
}

// pageFunc serves a page for a logged-in session.
type pageFunc func(w http.ResponseWriter, r *http.Request, s session)

// page requires a session; without one the browser goes to the login form.
func (c *Console) page(h pageFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w)
		s, ok, err := c.readSession(r, c.cfg.Clock())
		if err != nil {
			c.internal(w, r, session{}, err)
			return
		}
		if !ok {
			http.Redirect(w, r, "/console/login", http.StatusSeeOther)
			return
		}
		if c.cfg.OnIdentity != nil {
			c.cfg.OnIdentity(r, s.Name)
		}
		if err := input.Values(r.URL.Query()); err != nil {
			c.fail(w, r, s, http.StatusBadRequest, "The address holds text that cannot be searched ("+err.Error()+").")
			return
		}
		h(w, r, s)
	})
}

// formTimeout is how long a form's body may take to arrive in full: a
// client that stops sending is answered 408 before the server's own read
// timeout closes the connection unanswered.
const formTimeout = 10 * time.Second

// form is page for a POST: it also checks the origin and the CSRF token,
// and the operator role when operator is set.
func (c *Console) form(h pageFunc, operator bool) http.Handler {
	return c.page(func(w http.ResponseWriter, r *http.Request, s session) {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(formTimeout))
		if err := r.ParseForm(); err != nil {
			status := http.StatusBadRequest
			if errors.Is(err, os.ErrDeadlineExceeded) {
				status = http.StatusRequestTimeout
			}
			c.fail(w, r, s, status, "The form could not be read.")
			return
		}
		if !sameOrigin(r) || !s.checkCSRF(r.PostFormValue("csrf")) {
			c.fail(w, r, s, http.StatusForbidden, "The form expired or came from another site. Reload the page and try again.")
			return
		}
		if err := input.Values(r.PostForm); err != nil {
			c.fail(w, r, s, http.StatusBadRequest, "The form holds text that cannot be stored ("+err.Error()+").")
			return
		}
		if k := givenTwice(r.PostForm); k != "" {
			c.fail(w, r, s, http.StatusBadRequest, "The form gives "+k+" twice.")
			return
		}
		if operator && !s.CanResend() {
			c.fail(w, r, s, http.StatusForbidden, trf(c.prefsOf(r).lang, "Your token's role (%s) may only read. Resending needs an operator token.", s.Role))
			return
		}
		h(w, r, s)
	})
}

// givenTwice is a field form gives more than once, "" when none is: every
// field of the console's forms is given once, and a second value would be
// read or dropped unseen.
func givenTwice(form url.Values) string {
	for k, v := range form {
		if len(v) > 1 {
			return k
		}
	}
	return ""
}

// public serves the login pages.
func (c *Console) public(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w)
		h(w, r)
	})
}

// securityHeaders: no scripts, no framing, no caching of personal data.
func securityHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin") // not no-referrer: with it a form POST says Origin: null
	h.Set("Cache-Control", "no-store")
}
