package api_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"duebell/api"
	"duebell/link"
)

func TestVerifyLink(t *testing.T) {
	t.Parallel()
	signer, err := link.NewSigner("https://pay.example.com/repay", link.Key{ID: "k2", Secret: []byte("a-very-secret-signing-key")},
		[]link.Key{{ID: "k1", Secret: []byte("the-previous-signing-key")}}, 72*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	old, _ := link.NewSigner("https://pay.example.com/repay", link.Key{ID: "k1", Secret: []byte("the-previous-signing-key")}, nil, 72*time.Hour)
	b := setup(t, func(c *api.Config) { c.Links = signer })

	claims := link.Claims{NotificationID: 42, PlanRef: "p1", Seq: 2}
	body := b.mustDo(t, http.StatusOK, "GET", "/api/v1/links/verify?t="+signer.Token(claims, t0.Add(-time.Hour)), "", "")
	if body["valid"] != true || body["notification_id"] != float64(42) || body["plan_ref"] != "p1" || body["seq"] != float64(2) {
		t.Fatalf("verify = %v", body)
	}
	// A link signed with the rotated-out key still verifies until it expires.
	b.mustDo(t, http.StatusOK, "GET", "/api/v1/links/verify?t="+old.Token(claims, t0), "", "")

	tok := signer.Token(claims, t0.Add(-73*time.Hour))
	for _, tc := range []struct {
		query string
		want  int
		code  string
	}{
		{"", http.StatusBadRequest, "missing_token"},
		{"?t=" + tok, http.StatusGone, "expired_token"},
		{"?t=" + tok[:len(tok)-2] + "xx", http.StatusBadRequest, "invalid_token"},
		{"?t=not-a-token", http.StatusBadRequest, "invalid_token"},
	} {
		res := b.do(t, "GET", "/api/v1/links/verify"+tc.query, "", "")
		if code, _ := res.errorOf(); res.status != tc.want || code != tc.code {
			t.Errorf("verify%s = %d %s, want %d %s", tc.query, res.status, code, tc.want, tc.code)
		}
	}
}

// A compact token names only its notice: verify reads the plan ref and the
// installment seq from the notice, and the short path /r/{token} redirects
// a valid token to the repayment page.
func TestVerifyCompactLinkAndShortPath(t *testing.T) {
	t.Parallel()
	signer, err := link.NewSigner("https://pay.example.com/repay", link.Key{ID: "k2", Secret: []byte("a-very-secret-signing-key")},
		nil, 72*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	short, err := signer.WithShortBase("https://pay.example.com/r/")
	if err != nil {
		t.Fatal(err)
	}
	b := setup(t, func(c *api.Config) { c.Links = signer })
	b.seed(t)
	id := b.notice(t, "p1", 2, "due_soon", "sms", t0.Add(-time.Hour))

	u := short.URL(link.Claims{NotificationID: id}, t0.Add(-time.Hour))
	tok, ok := strings.CutPrefix(u, "https://pay.example.com/r/")
	if !ok || len(tok) > 22 {
		t.Fatalf("short link %q: want /r/ and a token of at most 22 characters", u)
	}
	body := b.mustDo(t, http.StatusOK, "GET", "/api/v1/links/verify?t="+tok, "", "")
	if body["valid"] != true || body["notification_id"] != float64(id) || body["plan_ref"] != "p1" || body["seq"] != float64(2) {
		t.Fatalf("verify = %v", body)
	}

	rec := newRecorder(b, httptest.NewRequest("GET", "/r/"+tok, nil))
	if rec.Code != http.StatusFound || rec.Header().Get("Location") != "https://pay.example.com/repay?t="+tok {
		t.Fatalf("GET /r/{token} = %d, Location %q", rec.Code, rec.Header().Get("Location"))
	}
	forged := tok[:21] + map[bool]string{true: "B", false: "A"}[tok[21] == 'A']
	if rec := newRecorder(b, httptest.NewRequest("GET", "/r/"+forged, nil)); rec.Code != http.StatusBadRequest || rec.Header().Get("Location") != "" {
		t.Errorf("forged short link: %d, Location %q", rec.Code, rec.Header().Get("Location"))
	}
	// Authentic, but for a notice that no longer exists (removed by retention).
	gone := short.URL(link.Claims{NotificationID: id + 1000}, t0)
	if rec := newRecorder(b, httptest.NewRequest("GET", strings.TrimPrefix(gone, "https://pay.example.com"), nil)); rec.Code != http.StatusGone {
		t.Errorf("link of a removed notice: %d, want 410", rec.Code)
	}
}
