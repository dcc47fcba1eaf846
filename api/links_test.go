package api_test

import (
	"net/http"
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
