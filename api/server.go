// Package api is duebell's HTTP API: the lender's backend pushes customers,
// plans and payments here, and operators read them back.
package api

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"duebell/api/console"
	"duebell/internal/outage"
	"duebell/repo"
	"duebell/scheduler"
)

// DefaultMaxBodyBytes caps a request body when Config.MaxBodyBytes is zero.
const DefaultMaxBodyBytes = 1 << 20

// Config configures the API handler.
type Config struct {
	// Tokens are the accepted bearer tokens. Each needs a unique name (it is
	// what gets logged and audited), a secret of at least 16 bytes and a role.
	Tokens []Token
	Repo   Store
	Logger *slog.Logger     // default: discard
	Now    func() time.Time // business clock; default time.Now
	// DefaultTimezone and DefaultLocale fill a customer that has none.
	DefaultTimezone string // default "Asia/Shanghai"
	DefaultLocale   string // default "zh-CN"
	// PaymentConfirmChannels get a payment_received notice when a payment
	// settles an installment (policy.payment_received), e.g. ["sms"].
	PaymentConfirmChannels []string
	MaxBodyBytes           int64 // default DefaultMaxBodyBytes; also the cap on one import line
	// ImportMaxBytes caps a POST /api/v1/import body (default
	// DefaultImportMaxBytes); ImportTimeout bounds reading and answering it
	// (default DefaultImportTimeout), instead of the server's own timeouts.
	ImportMaxBytes int64
	ImportTimeout  time.Duration
	// ImportIdleTimeout is how long an import may wait for the next bytes
	// of its body (default DefaultImportIdleTimeout): a client that stops
	// sending would otherwise hold the import's transaction, and the rows
	// it locked, until ImportTimeout.
	ImportIdleTimeout time.Duration
	// BodyTimeout is how long any other JSON body may take to arrive in
	// full (default DefaultBodyTimeout): a client that stops sending is
	// answered 408 well before the server's own timeouts close the
	// connection unanswered.
	BodyTimeout time.Duration
	// AllowedDomains are the official domains (links.allowed_domains); a
	// repayment_entry_moved event's payload url must be on one of them, and
	// a customer's name or a plan's merchant or title may name no URL off
	// them (every message showing it would be refused at render).
	AllowedDomains []string
	// Ready reports whether the service can take traffic (database reachable,
	// migrations current); /readyz answers 503 with its error. Default: Repo.Ping.
	Ready func(ctx context.Context) error
	// ReadyTimeout is how long /readyz waits for Ready before it answers
	// 503 (default DefaultReadyTimeout).
	ReadyTimeout time.Duration
	// RequestTimeout bounds the work of every request but an import, which
	// has ImportTimeout (default DefaultRequestTimeout): its database calls
	// end then, and it is answered 503 timeout.
	RequestTimeout time.Duration
	// Links verifies repayment-link tokens for GET /api/v1/links/verify;
	// the route is absent when nil.
	Links LinkVerifier
	// Receipts enables POST /hooks/sms/{provider} for delivery receipts
	// (see hooks.go); the route is absent when nil.
	Receipts *ReceiptConfig
	// ConsolePlainHTTP lets the console's cookies go without Secure over
	// plain HTTP (http.console_plain_http): local trials only.
	ConsolePlainHTTP bool
	// ConsoleClock is the wall clock console sessions expire and sign-ins
	// are throttled by; default time.Now.
	ConsoleClock func() time.Time
	// Collection is the contact limits for overdue notices
	// (policy.collection); the console's customer page shows their use.
	Collection scheduler.Collection
	// Extra registers more routes on the same mux (link verification,
	// /metrics). They get request logging and panic recovery but no auth.
	Extra func(mux *http.ServeMux)
}

// Store is what the API reads and writes: either store (PostgreSQL in repo,
// SQLite in repo/sqlite) implements it.
type Store interface {
	console.Store
	console.SessionStore
	Ping(ctx context.Context) error
	UpsertCustomer(ctx context.Context, c repo.Customer, now time.Time) (repo.Customer, error)
	GetCustomer(ctx context.Context, ref string) (repo.Customer, error)
	UpsertPlan(ctx context.Context, p repo.Plan, now time.Time) (repo.Plan, error)
	GetPlan(ctx context.Context, ref string) (repo.Plan, error)
	RecordPayment(ctx context.Context, in repo.PaymentInput) (repo.PaymentResult, error)
	RecordEvent(ctx context.Context, in repo.EventInput) (repo.Event, bool, error)
	GetEvent(ctx context.Context, ref string) (repo.Event, error)
	RecordReceipts(ctx context.Context, ins []repo.Receipt, now time.Time) ([]repo.ReceiptResult, error)
	BeginImport(ctx context.Context, confirmChannels []string) (repo.ImportTx, error)
	// RefreshImportStats refreshes stale planner statistics of the tables an
	// import looks records up in, before it begins.
	RefreshImportStats(ctx context.Context) error
	GetLinkTarget(ctx context.Context, notificationID int64) (repo.LinkTarget, error)
	OpenCircuits(ctx context.Context) ([]repo.Circuit, error)
}

type server struct {
	cfg     Config
	log     *slog.Logger
	tokens  []tokenEntry
	console *console.Console // answers a bad /console/ address with its own page
	// unavailableLog and notReadyLog pace the WARNs of requests answered 503
	// while the database is away (outage.EveryInterval; DEBUG between).
	unavailableLog, notReadyLog *outage.Every
	ready                       readyCheck
}

// handlerFunc is a route handler; a returned error becomes the JSON error response.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// New validates cfg and returns the API handler.
func New(cfg Config) (http.Handler, error) {
	s, err := newServer(cfg)
	if err != nil {
		return nil, err
	}
	mux := &routeMux{ServeMux: http.NewServeMux(), timeout: s.cfg.RequestTimeout}
	s.routes(mux)
	if s.cfg.Extra != nil {
		if err := registerExtra(mux.ServeMux, s.cfg.Extra); err != nil {
			return nil, err
		}
	}
	return &handler{Handler: s.observe(mux), patterns: mux.patterns}, nil
}

// newServer validates cfg and fills its defaults.
func newServer(cfg Config) (*server, error) {
	if cfg.Repo == nil {
		return nil, errors.New("api: Repo is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.DefaultTimezone == "" {
		cfg.DefaultTimezone = "Asia/Shanghai"
	}
	if _, err := loadTimezone(cfg.DefaultTimezone); err != nil {
		return nil, fmt.Errorf("api: default timezone %q: %w", cfg.DefaultTimezone, err)
	}
	if cfg.DefaultLocale == "" {
		cfg.DefaultLocale = "zh-CN"
	}
	if !locales[cfg.DefaultLocale] {
		return nil, fmt.Errorf("api: default locale %q: want zh-CN or en", cfg.DefaultLocale)
	}
	for _, ch := range cfg.PaymentConfirmChannels {
		if ch != "sms" && ch != "email" {
			return nil, fmt.Errorf("api: payment confirm channel %q: want sms or email", ch)
		}
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	cfg.ReadyTimeout = cmp.Or(cfg.ReadyTimeout, DefaultReadyTimeout)
	cfg.RequestTimeout = cmp.Or(cfg.RequestTimeout, DefaultRequestTimeout)
	if cfg.Ready == nil {
		cfg.Ready = cfg.Repo.Ping
	}
	tokens, err := prepareTokens(cfg.Tokens)
	if err != nil {
		return nil, err
	}
	if cfg.ImportMaxBytes <= 0 {
		cfg.ImportMaxBytes = DefaultImportMaxBytes
	}
	if cfg.ImportIdleTimeout <= 0 {
		cfg.ImportIdleTimeout = DefaultImportIdleTimeout
	}
	if cfg.ImportTimeout <= 0 {
		cfg.ImportTimeout = DefaultImportTimeout
	}
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = DefaultBodyTimeout
	}
	return &server{cfg: cfg, log: cfg.Logger, tokens: tokens,
		unavailableLog: outage.NewEvery(), notReadyLog: outage.NewEvery()}, nil
}

// DefaultRequestTimeout is Config.RequestTimeout's default. With the
// repo's grace for a silent connection (5 s past a deadline) a request is
// answered within the HTTP server's 30 s write timeout.
const DefaultRequestTimeout = 20 * time.Second

// routeMux is the API's mux, remembering every pattern registered on it.
// Handle bounds each request's context by timeout: a database that stops
// answering ends the request's statements then (see repo's watchedConn),
// where it held the request and its connection for as long as the socket
// stayed open.
type routeMux struct {
	*http.ServeMux
	patterns []string
	timeout  time.Duration
}

func (m *routeMux) Handle(pattern string, h http.Handler) {
	m.patterns = append(m.patterns, pattern)
	if _, own := h.(ownDeadline); !own {
		h = bounded(h, m.timeout)
	}
	m.ServeMux.Handle(pattern, h)
}

// bounded is h with its request's context ending after timeout.
func bounded(h http.Handler, timeout time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// ownDeadline is a handler routeMux.Handle registers without its bound:
// the import, which reads a body for up to Config.ImportTimeout.
type ownDeadline struct{ http.Handler }

func (m *routeMux) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	m.Handle(pattern, http.HandlerFunc(h))
}

// handler is what New returns: the served mux and its patterns.
type handler struct {
	http.Handler
	patterns []string
}

// Routes lists the patterns of every route of h, a handler New returned
// (the API's, the console's and the receipt hooks; not Config.Extra's), so
// a test can walk them all.
func Routes(h http.Handler) []string {
	if hh, ok := h.(*handler); ok {
		return slices.Clone(hh.patterns)
	}
	return nil
}

func (s *server) routes(mux *routeMux) {
	anyone := []Role{RoleIngest, RoleViewer, RoleOperator}
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("PUT /api/v1/customers/{ref}", s.auth(s.putCustomer, RoleIngest))
	mux.Handle("GET /api/v1/customers/{ref}", s.auth(s.getCustomer, anyone...))
	mux.Handle("PUT /api/v1/plans/{ref}", s.auth(s.putPlan, RoleIngest))
	mux.Handle("GET /api/v1/plans/{ref}", s.auth(s.getPlan, anyone...))
	mux.Handle("POST /api/v1/plans/{ref}/installments/{seq}/payments", s.auth(s.postPayment, RoleIngest))
	mux.Handle("POST /api/v1/channel-events", s.auth(s.postEvent, RoleIngest))
	mux.Handle("GET /api/v1/channel-events/{ref}", s.auth(s.getEvent, anyone...))
	mux.Handle("POST /api/v1/import", ownDeadline{s.auth(s.postImport, RoleIngest)})
	mux.Handle("GET /api/v1/openapi.json", s.public(s.openapi))
	if s.cfg.Links != nil {
		mux.Handle("GET /api/v1/links/verify", s.public(s.verifyLink))
		mux.Handle("GET /r/{token}", s.public(s.shortLink))
	}
	s.supportRoutes(mux)
	s.hookRoutes(mux)
}

// registerExtra turns the mux's panic on a conflicting pattern into an error.
func registerExtra(mux *http.ServeMux, extra func(*http.ServeMux)) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("api: extra routes: %v", p)
		}
	}()
	extra(mux)
	return nil
}

// public serves h without a bearer token; its error becomes the JSON answer.
func (s *server) public(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := checkParams(r); err != nil {
			s.fail(w, r, err)
			return
		}
		if err := h(w, r); err != nil {
			s.fail(w, r, err)
		}
	})
}
