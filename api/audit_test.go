package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"duebell/repo"
)

func mustJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}

// TestSupportRolesOnEveryRoute: every support route × every role and no
// token. Viewers and operators read; only operators resend; ingest tokens
// and anonymous callers get nothing, and a refused call changes nothing.
func TestSupportRolesOnEveryRoute(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.seed(t)
	orig := b.notice(t, "p1", 1, "due_soon", "sms", t0.Add(-time.Hour))
	b.finish(t, t0.Add(-time.Hour), "aliyun", repo.StatusFailed)
	window := fmt.Sprintf(`"since":%q,"until":%q`, t0.Add(-2*time.Hour).Format(time.RFC3339), t0.Format(time.RFC3339))

	routes := []struct {
		method, path, body string
		ok                 int
		allowed            []string
	}{
		{"GET", "/api/v1/notifications", "", 200, []string{"viewer", "operator"}},
		{"GET", "/api/v1/notifications?phone=13812345678", "", 200, []string{"viewer", "operator"}},
		{"GET", fmt.Sprintf("/api/v1/notifications/%d", orig), "", 200, []string{"viewer", "operator"}},
		{"POST", fmt.Sprintf("/api/v1/notifications/%d/resend", orig), `{"reason":"roles test"}`, 201, []string{"operator"}},
		{"POST", "/api/v1/resends", `{"filter":{"status":"failed",` + window + `},"reason":"roles test","dry_run":true}`, 200, []string{"operator"}},
		{"GET", "/api/v1/audit", "", 200, []string{"viewer", "operator"}},
		{"GET", "/api/v1/audit?actor=ops&since=2025-01-01T00:00:00Z", "", 200, []string{"viewer", "operator"}},
	}
	tokens := []struct{ role, token string }{{"none", ""}, {"ingest", ingestToken}, {"viewer", viewerToken}, {"operator", operatorToken}}
	for _, rt := range routes {
		for _, tk := range tokens {
			before := b.snapshot(t)
			res := b.do(t, rt.method, rt.path, tk.token, rt.body)
			want, code := http.StatusForbidden, "forbidden"
			switch {
			case tk.token == "":
				want, code = http.StatusUnauthorized, "unauthorized"
			case slices.Contains(rt.allowed, tk.role):
				want, code = rt.ok, ""
			}
			got, _ := res.errorOf()
			if res.status != want || got != code {
				t.Errorf("%s %s as %s = %d %s, want %d %s", rt.method, rt.path, tk.role, res.status, res.raw, want, code)
			}
			if want >= 400 {
				assertUnchanged(t, before, b.snapshot(t))
			}
		}
	}
}

func TestAuditTrail(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.seed(t)
	a := b.notice(t, "p1", 1, "due_soon", "sms", t0.Add(-time.Hour))
	e := b.notice(t, "p1", 1, "due_soon", "email", t0.Add(-time.Hour))
	b.finish(t, t0.Add(-time.Hour), "aliyun", repo.StatusFailed)
	b.mustDo(t, http.StatusCreated, "POST", fmt.Sprintf("/api/v1/notifications/%d/resend", a), operatorToken, `{"reason":"第一次"}`)
	b.mustDo(t, http.StatusCreated, "POST", fmt.Sprintf("/api/v1/notifications/%d/resend", e), operatorToken, `{"reason":"第二次"}`)

	body := b.mustDo(t, http.StatusOK, "GET", "/api/v1/audit", viewerToken, "")
	entries, _ := body["entries"].([]any)
	if len(entries) != 2 {
		t.Fatalf("audit = %v", body)
	}
	newest := entries[0].(map[string]any)
	detail, _ := newest["detail"].(map[string]any)
	if newest["actor"] != "ops" || newest["action"] != "notification.resend" ||
		newest["target"] != fmt.Sprintf("notification:%d", e) || detail["reason"] != "第二次" {
		t.Errorf("newest entry = %v", newest)
	}
	for q, want := range map[string]int{"actor=ops": 2, "actor=support": 0,
		"since=" + url.QueryEscape(t0.Add(time.Minute).Format(time.RFC3339)): 0, "limit=1": 1} {
		body := b.mustDo(t, http.StatusOK, "GET", "/api/v1/audit?"+q, operatorToken, "")
		if got, _ := body["entries"].([]any); len(got) != want {
			t.Errorf("?%s: %d entries, want %d", q, len(got), want)
		}
	}
	for _, q := range []string{"since=yesterday", "limit=-1"} {
		if res := b.do(t, "GET", "/api/v1/audit?"+q, viewerToken, ""); res.status != 422 {
			t.Errorf("?%s = %d %s", q, res.status, res.raw)
		}
	}
	if logs := b.logs.String(); strings.Contains(logs, "13812345678") || strings.Contains(logs, "li.lei@example.com") {
		t.Errorf("logs carry a contact:\n%s", logs)
	}
}
