package templates

import (
	"testing"
	"time"

	"duebell/link"
)

var allowed = []string{"example.com"}

// sampleLink is a real signed link, as long as the ones sent.
func sampleLink(t testing.TB) string {
	t.Helper()
	s, err := link.NewSigner("https://pay.example.com/repay",
		link.Key{ID: "k1", Secret: []byte("0123456789abcdef0123456789abcdef")}, nil, 72*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return s.URL(link.Claims{NotificationID: 1234567, PlanRef: "P202611240001", Seq: 3},
		time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC))
}

func load(t testing.TB, opt Options) *Set {
	t.Helper()
	if opt.AllowedDomains == nil {
		opt.AllowedDomains = allowed
	}
	s, err := Load(opt)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return s
}

func render(t *testing.T, s *Set, d Data) Rendered {
	t.Helper()
	r, err := s.Render(d)
	if err != nil {
		t.Fatalf("Render %s/%s/%s: %v", d.Locale, d.Kind, d.Channel, err)
	}
	return r
}

func parts(r Rendered) []string { return []string{r.Subject, r.Text, r.HTML} }
