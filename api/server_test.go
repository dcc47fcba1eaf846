package api_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"duebell/api"
	"duebell/repo/repotest"
)

func TestHealth(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	if body := b.mustDo(t, http.StatusOK, "GET", "/healthz", "", ""); body["status"] != "ok" {
		t.Errorf("healthz = %v", body)
	}
	if body := b.mustDo(t, http.StatusOK, "GET", "/readyz", "", ""); body["status"] != "ready" {
		t.Errorf("readyz = %v", body)
	}

	down := setup(t, func(c *api.Config) {
		c.Ready = func(context.Context) error { return errors.New("2 migrations pending") }
	})
	res := down.do(t, "GET", "/readyz", "", "")
	if code, msg := res.errorOf(); res.status != http.StatusServiceUnavailable || code != "not_ready" || !strings.Contains(msg, "migrations pending") {
		t.Errorf("readyz when not ready = %d %s", res.status, res.raw)
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.seed(t)
	for _, tt := range []struct {
		name, method, path, header string
		want                       int
		code                       string
	}{
		{"no token", "GET", "/api/v1/customers/c1", "", 401, "unauthorized"},
		{"wrong token", "GET", "/api/v1/customers/c1", "Bearer " + ingestToken + "x", 401, "unauthorized"},
		{"token prefix", "GET", "/api/v1/customers/c1", "Bearer " + ingestToken[:16], 401, "unauthorized"},
		{"basic scheme", "GET", "/api/v1/customers/c1", "Basic " + ingestToken, 401, "unauthorized"},
		{"viewer reads", "GET", "/api/v1/customers/c1", "Bearer " + viewerToken, 200, ""},
		{"operator reads", "GET", "/api/v1/plans/p1", "bearer " + operatorToken, 200, ""},
		{"viewer may not write", "PUT", "/api/v1/customers/c1", "Bearer " + viewerToken, 403, "forbidden"},
		{"operator may not ingest", "PUT", "/api/v1/plans/p1", "Bearer " + operatorToken, 403, "forbidden"},
		{"viewer may not pay", "POST", "/api/v1/plans/p1/installments/1/payments", "Bearer " + viewerToken, 403, "forbidden"},
	} {
		req, _ := http.NewRequest(tt.method, tt.path, strings.NewReader(`{"amount":1}`))
		if tt.header != "" {
			req.Header.Set("Authorization", tt.header)
		}
		rec := newRecorder(b, req)
		if rec.Code != tt.want {
			t.Errorf("%s: status %d %s, want %d", tt.name, rec.Code, rec.Body, tt.want)
		}
		if tt.code != "" && !strings.Contains(rec.Body.String(), `"code":"`+tt.code+`"`) {
			t.Errorf("%s: body %s, want code %s", tt.name, rec.Body, tt.code)
		}
		if tt.want == 401 && rec.Header().Get("WWW-Authenticate") != "Bearer" {
			t.Errorf("%s: WWW-Authenticate = %q", tt.name, rec.Header().Get("WWW-Authenticate"))
		}
	}
	if n := b.count(t, "payments"); n != 0 {
		t.Errorf("payments = %d after refused requests", n)
	}
}

func TestRoutesAnswerJSON(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	res := b.do(t, "GET", "/api/v1/nothing", ingestToken, "")
	if code, _ := res.errorOf(); res.status != 404 || code != "not_found" {
		t.Errorf("unknown route = %d %s", res.status, res.raw)
	}
	res = b.do(t, "DELETE", "/api/v1/customers/c1", ingestToken, "")
	if code, _ := res.errorOf(); res.status != 405 || code != "method_not_allowed" || res.header.Get("Allow") == "" {
		t.Errorf("DELETE = %d %s (Allow %q)", res.status, res.raw, res.header.Get("Allow"))
	}
}

func TestPanicIsRecovered(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *api.Config) {
		c.Extra = func(mux *http.ServeMux) {
			mux.HandleFunc("GET /boom", func(http.ResponseWriter, *http.Request) { panic("boom") })
		}
	})
	res := b.do(t, "GET", "/boom", "", "")
	if code, _ := res.errorOf(); res.status != 500 || code != "internal" {
		t.Errorf("panic = %d %s", res.status, res.raw)
	}
	if !strings.Contains(b.logs.String(), "panic serving request") {
		t.Errorf("panic not logged: %s", b.logs)
	}
}

func TestLogsCarryNoPII(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.seed(t)
	b.do(t, "GET", "/api/v1/customers/c1", "wrong-token-0123456789", "")
	logs := b.logs.String()
	for _, secret := range []string{"13812345678", "li.lei@example.com", "Li.Lei", ingestToken, "wrong-token"} {
		if strings.Contains(strings.ToLower(logs), strings.ToLower(secret)) {
			t.Errorf("log contains %q:\n%s", secret, logs)
		}
	}
	for _, want := range []string{`"route":"PUT /api/v1/customers/{ref}"`, `"token":"lender"`, `"status":201`, `"duration":`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s:\n%s", want, logs)
		}
	}
}

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	r := repotest.New(t)
	tok := func(name, secret string, role api.Role) api.Token {
		return api.Token{Name: name, Token: secret, Role: role}
	}
	for name, cfg := range map[string]api.Config{
		"no repo":        {},
		"short token":    {Repo: r, Tokens: []api.Token{tok("a", "short", api.RoleIngest)}},
		"bad role":       {Repo: r, Tokens: []api.Token{tok("a", ingestToken, "admin")}},
		"duplicate name": {Repo: r, Tokens: []api.Token{tok("a", ingestToken, api.RoleIngest), tok("a", viewerToken, api.RoleViewer)}},
		"shared secret":  {Repo: r, Tokens: []api.Token{tok("a", ingestToken, api.RoleIngest), tok("b", ingestToken, api.RoleViewer)}},
		"bad timezone":   {Repo: r, DefaultTimezone: "Mars/Olympus"},
		"bad locale":     {Repo: r, DefaultLocale: "fr"},
		"bad channel":    {Repo: r, PaymentConfirmChannels: []string{"push"}},
		"route conflict": {Repo: r, Extra: func(mux *http.ServeMux) { mux.HandleFunc("GET /healthz", func(http.ResponseWriter, *http.Request) {}) }},
	} {
		if _, err := api.New(cfg); err == nil {
			t.Errorf("%s: New accepted the config", name)
		}
	}
}

// A database that stopped answering with its connections open holds a
// statement past its context (lib/pq waits on the socket): /readyz still
// answers 503 within its timeout, so a load balancer takes the replica out,
// and probes meanwhile share the one check that hangs rather than each
// leaving another behind.
func TestReadyzAnswersWhenTheDatabaseHangs(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var checks atomic.Int32
	b := setup(t, func(c *api.Config) {
		c.ReadyTimeout = 50 * time.Millisecond
		c.Ready = func(context.Context) error { // deaf to its context, as the driver is
			checks.Add(1)
			<-release
			return nil
		}
	})
	for range 3 {
		res := b.do(t, "GET", "/readyz", "", "")
		if code, msg := res.errorOf(); res.status != http.StatusServiceUnavailable || code != "not_ready" ||
			!strings.Contains(msg, "did not answer within 50ms") {
			t.Errorf("readyz while the database hangs = %d %s", res.status, res.raw)
		}
	}
	if n := checks.Load(); n != 1 {
		t.Errorf("%d checks started for 3 probes while the first hung, want 1", n)
	}
	close(release)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if res := b.do(t, "GET", "/readyz", "", ""); res.status == http.StatusOK {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("readyz once the database answers = %d %s", res.status, res.raw)
		}
	}
}
