package link

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCompactURLRoundTrip(t *testing.T) {
	t.Parallel()
	s := newSigner(t, keyA)
	in := Claims{NotificationID: 1234567, PlanRef: "P202611240001", Seq: 3}
	u := s.URL(in, t0)
	tok := strings.TrimPrefix(u, "https://pay.example.com/repay?t=")
	if tok == u || len(tok) > CompactLen || !IsCompact(tok) {
		t.Fatalf("URL = %q: want base?t= and a token of at most %d characters", u, CompactLen)
	}
	got, err := s.Verify(tok, t0.Add(71*time.Hour))
	// Expiry is rounded up to the end of the UTC day of t0+72h.
	want := Claims{NotificationID: 1234567, Expires: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)}
	if err != nil || got != want {
		t.Fatalf("Verify = %+v, %v; want %+v", got, err, want)
	}
	if _, err := s.Verify(tok, want.Expires); !errors.Is(err, ErrExpired) {
		t.Fatalf("Verify at expiry: %v, want ErrExpired", err)
	}
}

func TestCompactShortBase(t *testing.T) {
	t.Parallel()
	s, err := newSigner(t, keyA).WithShortBase("https://pay.example.com/r")
	if err != nil {
		t.Fatal(err)
	}
	u := s.URL(Claims{NotificationID: 99, PlanRef: "P1"}, t0)
	tok, ok := strings.CutPrefix(u, "https://pay.example.com/r/")
	if !ok || len(tok) != CompactLen {
		t.Fatalf("URL = %q, want the short base and a %d-character token", u, CompactLen)
	}
	if c, err := s.Verify(tok, t0); err != nil || c.NotificationID != 99 {
		t.Fatalf("Verify = %+v, %v", c, err)
	}
	if got := s.LandingURL(tok); got != "https://pay.example.com/repay?t="+tok {
		t.Errorf("LandingURL = %q", got)
	}
	for _, bad := range []string{"ftp://x.example.com/r/", "https://pay.example.com/r?x=1", "/r/", "https://u@pay.example.com/r/"} {
		if _, err := newSigner(t, keyA).WithShortBase(bad); err == nil {
			t.Errorf("WithShortBase(%q) accepted", bad)
		}
	}
}

func TestCompactRejectsForgeries(t *testing.T) {
	t.Parallel()
	s := newSigner(t, keyA)
	tok, ok := s.CompactToken(Claims{NotificationID: 42}, t0)
	if !ok {
		t.Fatal("id 42 does not fit")
	}
	raw, _ := b64.DecodeString(tok)
	for i := range raw {
		// Flip one bit of every byte in turn: id, expiry, key tag or MAC.
		b := append([]byte(nil), raw...)
		b[i] ^= 0x01
		forged := b64.EncodeToString(b)
		if _, err := s.Verify(forged, t0); !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrUnknownKey) {
			t.Errorf("byte %d flipped: Verify = %v, want a signature or key error", i, err)
		}
	}
	other := newSigner(t, Key{ID: "a", Secret: []byte("another-secret-of-key-a")})
	if _, err := other.Verify(tok, t0); !errors.Is(err, ErrBadSignature) {
		t.Errorf("other secret: %v, want ErrBadSignature", err)
	}
	if _, err := newSigner(t, keyB).Verify(tok, t0); !errors.Is(err, ErrUnknownKey) && !errors.Is(err, ErrBadSignature) {
		t.Errorf("unknown key: %v", err)
	}
	for _, junk := range []string{strings.Repeat("A", CompactLen), strings.Repeat("*", CompactLen), tok[:CompactLen-1] + "="} {
		if _, err := s.Verify(junk, t0); err == nil {
			t.Errorf("Verify(%q) accepted", junk)
		}
	}
}

// After a rotation, compact tokens of the previous key verify, and long
// tokens issued before compact ones existed still do.
func TestCompactRotationAndOldLinks(t *testing.T) {
	t.Parallel()
	old := newSigner(t, keyA)
	compact, _ := old.CompactToken(Claims{NotificationID: 7}, t0)
	long := old.Token(Claims{NotificationID: 7, PlanRef: "P7", Seq: 2}, t0)
	rotated := newSigner(t, keyB, keyA)
	if c, err := rotated.Verify(compact, t0.Add(time.Hour)); err != nil || c.NotificationID != 7 {
		t.Errorf("compact after rotation: %+v, %v", c, err)
	}
	if c, err := rotated.Verify(long, t0.Add(time.Hour)); err != nil || c.PlanRef != "P7" || c.Seq != 2 {
		t.Errorf("long after rotation: %+v, %v", c, err)
	}
	if _, err := newSigner(t, keyB).Verify(compact, t0); err == nil {
		t.Error("compact token verified once its key was dropped")
	}
}

func TestCompactFallsBackToLongForHugeIDs(t *testing.T) {
	t.Parallel()
	s := newSigner(t, keyA)
	if _, ok := s.CompactToken(Claims{NotificationID: maxCompactID + 1}, t0); ok {
		t.Fatal("id 2^40 made a compact token")
	}
	u := s.URL(Claims{NotificationID: maxCompactID + 1, PlanRef: "P"}, t0)
	tok := strings.TrimPrefix(u, "https://pay.example.com/repay?t=")
	if IsCompact(tok) {
		t.Fatalf("URL %q: want the long form", u)
	}
	if c, err := s.Verify(tok, t0); err != nil || c.NotificationID != maxCompactID+1 {
		t.Fatalf("Verify = %+v, %v", c, err)
	}
}
