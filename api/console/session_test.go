package console_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"duebell/api"
	"duebell/internal/syncbuf"
	"duebell/repo"
	"duebell/repo/repotest"
)

// fakeClock is the console's wall clock in these tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }
func newAPI(t *testing.T, r *repo.Repo, clock *fakeClock, plain bool) http.Handler {
	t.Helper()
	h, err := api.New(api.Config{
		Tokens: []api.Token{{Name: "support", Token: viewerToken, Role: api.RoleViewer}},
		Repo:   r, Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return t0 },
		ConsoleClock: clock.Now, ConsolePlainHTTP: plain,
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// client is one browser at one address, keeping cookies by hand (a
// cookie jar would not send Secure cookies over http://).
type client struct {
	t       *testing.T
	h       http.Handler
	addr    string
	cookies map[string]*http.Cookie
	csrf    string
}

func (c *client) do(method, path string, form url.Values) *httptest.ResponseRecorder {
	c.t.Helper()
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req := httptest.NewRequest(method, "http://duebell.test"+path, body)
	req.RemoteAddr = c.addr
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, ck := range c.cookies {
		req.AddCookie(ck)
	}
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, req)
	for _, ck := range rec.Result().Cookies() {
		if ck.MaxAge < 0 {
			delete(c.cookies, ck.Name)
		} else {
			c.cookies[ck.Name] = ck
		}
	}
	if m := csrfRE.FindStringSubmatch(rec.Body.String()); m != nil {
		c.csrf = m[1]
	}
	return rec
}

func (c *client) login(token string) int {
	c.t.Helper()
	c.do("GET", "/console/login", nil)
	return c.do("POST", "/console/login", url.Values{"csrf": {c.csrf}, "token": {token}}).Code
}

func newClient(t *testing.T, h http.Handler, addr string) *client {
	return &client{t: t, h: h, addr: addr, cookies: map[string]*http.Cookie{}}
}

// TestConsoleCookiesSecureByDefault: every console cookie is Secure unless
// the plain-HTTP switch is on, and keeps HttpOnly and SameSite=Strict.
func TestConsoleCookiesSecureByDefault(t *testing.T) {
	t.Parallel()
	r := repotest.New(t)
	clock := &fakeClock{t: t0}
	for _, plain := range []bool{false, true} {
		c := newClient(t, newAPI(t, r, clock, plain), "192.0.2.1:5000")
		if code := c.login(viewerToken); code != http.StatusSeeOther {
			t.Fatalf("plain=%v: login = %d", plain, code)
		}
		s := c.cookies["duebell_console"]
		if s == nil || s.Secure == plain || !s.HttpOnly || s.SameSite != http.SameSiteStrictMode {
			t.Errorf("plain=%v: session cookie %+v, want Secure=%v, HttpOnly, SameSite=Strict", plain, s, !plain)
		}
	}
}

// TestLogoutEndsTheSessionOnTheServer: a copy of the session cookie taken
// before logout is refused after it, on this replica and on another one.
func TestLogoutEndsTheSessionOnTheServer(t *testing.T) {
	t.Parallel()
	r := repotest.New(t)
	clock := &fakeClock{t: t0}
	h, other := newAPI(t, r, clock, false), newAPI(t, r, clock, false)
	c := newClient(t, h, "192.0.2.1:5000")
	if code := c.login(viewerToken); code != http.StatusSeeOther {
		t.Fatalf("login = %d", code)
	}
	stolen := *c.cookies["duebell_console"]
	thief := newClient(t, other, "203.0.113.50:6000")
	thief.cookies["duebell_console"] = &stolen
	if code := thief.do("GET", "/console/notifications", nil).Code; code != http.StatusOK {
		t.Fatalf("copied cookie before logout = %d, want 200", code)
	}
	c.do("GET", "/console/notifications", nil)
	if code := c.do("POST", "/console/logout", url.Values{"csrf": {c.csrf}}).Code; code != http.StatusSeeOther {
		t.Fatalf("logout = %d", code)
	}
	for name, h := range map[string]http.Handler{"same replica": h, "other replica": other} {
		thief.h = h
		rec := thief.do("GET", "/console/notifications", nil)
		if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/console/login" {
			t.Errorf("%s: copied cookie after logout = %d to %q, want the login form", name, rec.Code, rec.Header().Get("Location"))
		}
	}
	// Logging in again gives a new session that works.
	if code := c.login(viewerToken); code != http.StatusSeeOther {
		t.Fatalf("login again = %d", code)
	}
	if code := c.do("GET", "/console/notifications", nil).Code; code != http.StatusOK {
		t.Errorf("new session = %d", code)
	}
}

// TestRoleChangedToIngestEndsTheSession: a token re-configured from
// viewer to ingest (same secret, a restart with the new config) loses its
// console sessions, as a rotated token does; it read every page for the
// rest of the session before. Refused sign-ins are logged with the
// client's address and why.
func TestRoleChangedToIngestEndsTheSession(t *testing.T) {
	t.Parallel()
	r := repotest.New(t)
	clock := &fakeClock{t: t0}
	var logs syncbuf.Buffer
	serve := func(role api.Role) http.Handler {
		h, err := api.New(api.Config{
			Tokens: []api.Token{{Name: "support", Token: viewerToken, Role: role}},
			Repo:   r, Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Now: func() time.Time { return t0 },
			ConsoleClock: clock.Now,
		})
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	c := newClient(t, serve(api.RoleViewer), "192.0.2.1:5000")
	if code := c.login(viewerToken); code != http.StatusSeeOther {
		t.Fatalf("login = %d", code)
	}
	if code := c.do("GET", "/console/notifications", nil).Code; code != http.StatusOK {
		t.Fatalf("viewer session = %d", code)
	}
	c.h = serve(api.RoleIngest)
	for _, path := range []string{"/console/notifications", "/console/customers", "/console/audit", "/console/"} {
		if rec := c.do("GET", path, nil); rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/console/login" {
			t.Errorf("%s after the role became ingest = %d to %q, want the login form", path, rec.Code, rec.Header().Get("Location"))
		}
	}
	if code := c.login(viewerToken); code != http.StatusForbidden {
		t.Errorf("sign-in as ingest = %d, want 403", code)
	}
	c.login("not-a-token-0123456789")
	for _, want := range []string{`"msg":"console login refused","client":"192.0.2.1","token":"support","reason":"role ingest may not use the console"`,
		`"msg":"console login refused","client":"192.0.2.1","reason":"unknown token"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, logs.String())
		}
	}
}

// TestLoginThrottledPerAddress: 300 wrong tokens from one address within a
// second are not all evaluated (only the burst is; the rest get 429 with
// Retry-After, and so does the right token); another address is not held
// up; after the throttle window the right token works.
func TestLoginThrottledPerAddress(t *testing.T) {
	t.Parallel()
	r := repotest.New(t)
	clock := &fakeClock{t: t0}
	h := newAPI(t, r, clock, false)
	attacker := newClient(t, h, "198.51.100.7:40000")
	attacker.do("GET", "/console/login", nil)
	counts := map[int]int{}
	for i := range 300 {
		if i%100 == 0 {
			clock.Add(300 * time.Millisecond) // 300 tries within one second
		}
		rec := attacker.do("POST", "/console/login", url.Values{"csrf": {attacker.csrf}, "token": {"wrong-token-0123456789-" + strconv.Itoa(i)}})
		counts[rec.Code]++
		if rec.Code == http.StatusTooManyRequests && rec.Header().Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
	}
	if counts[http.StatusUnauthorized] > 10 || counts[http.StatusUnauthorized]+counts[http.StatusTooManyRequests] != 300 {
		t.Fatalf("300 wrong tokens in a second: %v, want at most 10 evaluated (401), the rest 429", counts)
	}
	if code := attacker.login(viewerToken); code != http.StatusTooManyRequests {
		t.Errorf("right token while throttled = %d, want 429", code)
	}
	if code := newClient(t, h, "192.0.2.44:5000").login(viewerToken); code != http.StatusSeeOther {
		t.Errorf("another address = %d, want a login", code)
	}
	clock.Add(time.Minute)
	if code := attacker.login(viewerToken); code != http.StatusSeeOther {
		t.Errorf("right token after the throttle window = %d, want a login", code)
	}
}

// TestOutageShowsUnavailableNotTheLoginForm: while the database is down, a
// signed-in operator's pages answer 503 with Retry-After (try again), not a
// redirect to the login form as if signed out, and each is logged as one
// WARN, no ERROR.
func TestOutageShowsUnavailableNotTheLoginForm(t *testing.T) {
	t.Parallel()
	r, _, cut := repotest.NewCuttable(t, false)
	var logs syncbuf.Buffer
	h, err := api.New(api.Config{
		Tokens: []api.Token{{Name: "support", Token: viewerToken, Role: api.RoleViewer}},
		Repo:   r, Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Now: func() time.Time { return t0 },
		ConsoleClock: (&fakeClock{t: t0}).Now, ConsolePlainHTTP: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, h, "192.0.2.1:5000")
	if code := c.login(viewerToken); code != http.StatusSeeOther {
		t.Fatalf("login = %d", code)
	}
	if code := c.do("GET", "/console/notifications", nil).Code; code != http.StatusOK {
		t.Fatalf("before the outage: %d", code)
	}
	cut()
	before := len(logs.String())
	for _, path := range []string{"/console/", "/console/notifications", "/console/customers/c1"} {
		rec := c.do("GET", path, nil)
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" ||
			!strings.Contains(rec.Body.String(), "database is unavailable") {
			t.Errorf("%s while the database is down: %d, Retry-After %q, Location %q; want a 503 page",
				path, rec.Code, rec.Header().Get("Retry-After"), rec.Header().Get("Location"))
		}
	}
	out := logs.String()[before:]
	// One WARN for the outage, the other pages at DEBUG: a browser left
	// open on the console does not flood the log.
	if n := strings.Count(out, `"level":"WARN","msg":"database unavailable"`); n != 1 || strings.Contains(out, `"level":"ERROR"`) {
		t.Errorf("the outage logged %d warnings for 3 pages (want 1, no ERROR):\n%s", n, out)
	}
}
