package link

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

var (
	keyA = Key{ID: "a", Secret: []byte("0123456789abcdef-secret-A")}
	keyB = Key{ID: "b", Secret: []byte("0123456789abcdef-secret-B")}
	t0   = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
)

func newSigner(t *testing.T, current Key, previous ...Key) *Signer {
	t.Helper()
	s, err := NewSigner("https://pay.example.com/repay", current, previous, 72*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	s := newSigner(t, keyA)
	in := Claims{NotificationID: 1234567, PlanRef: "P202611240001", Seq: 3}
	tok := s.Token(in, t0)
	got, err := s.Verify(tok, t0.Add(71*time.Hour))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	want := in
	want.Expires = t0.Add(72 * time.Hour)
	if got != want {
		t.Fatalf("claims = %+v, want %+v", got, want)
	}
	if len(tok) > 70 {
		t.Errorf("token is %d chars, want it short for SMS: %s", len(tok), tok)
	}
	if strings.ContainsAny(tok, "+/=") {
		t.Errorf("token %q is not URL-safe unpadded base64", tok)
	}
}

func TestRoundTripEdgeValues(t *testing.T) {
	t.Parallel()
	s := newSigner(t, keyA)
	for _, in := range []Claims{
		{},
		{NotificationID: -1, PlanRef: "计划/with spaces & symbols", Seq: -2},
		{NotificationID: 1<<63 - 1, PlanRef: strings.Repeat("x", 300), Seq: 1 << 30},
	} {
		got, err := s.Verify(s.Token(in, t0), t0)
		if err != nil {
			t.Fatalf("%+v: %v", in, err)
		}
		if got.NotificationID != in.NotificationID || got.PlanRef != in.PlanRef || got.Seq != in.Seq {
			t.Errorf("got %+v, want %+v", got, in)
		}
	}
}

func TestURLKeepsBaseQuery(t *testing.T) {
	t.Parallel()
	s, err := NewSigner("https://pay.example.com/repay?src=sms&t=old", keyA, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	raw := s.URL(Claims{NotificationID: 9, PlanRef: "P1", Seq: 1}, t0)
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if u.Host != "pay.example.com" || u.Path != "/repay" || u.Query().Get("src") != "sms" {
		t.Fatalf("URL %q lost parts of the base", raw)
	}
	if _, err := s.Verify(u.Query().Get(QueryParam), t0); err != nil {
		t.Fatalf("token in %q: %v", raw, err)
	}
	if err := CheckURLs(raw, []string{"example.com"}); err != nil {
		t.Fatalf("signed URL fails CheckURLs: %v", err)
	}
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	s := newSigner(t, keyA)
	c := Claims{NotificationID: 42, PlanRef: "P1", Seq: 2}
	tok := s.Token(c, t0)
	payload, sig, _ := strings.Cut(tok, ".")

	// A well-formed payload for another notification under the old signature.
	forged := c
	forged.NotificationID = 43
	forged.Expires = t0.Add(72 * time.Hour)
	forgedPayload := b64.EncodeToString(encodePayload("a", forged))

	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}

	tests := []struct {
		name  string
		token string
		now   time.Time
		want  error
	}{
		{"tampered payload", forgedPayload + "." + sig, t0, ErrBadSignature},
		{"tampered signature", payload + "." + flip(sig, 3), t0, ErrBadSignature},
		{"truncated signature", payload + "." + sig[:12], t0, ErrBadSignature},
		{"expired", tok, t0.Add(72 * time.Hour), ErrExpired},
		{"empty", "", t0, ErrMalformed},
		{"no dot", payload, t0, ErrMalformed},
		{"bad base64", payload + "!." + sig, t0, ErrMalformed},
		{"garbage payload", "AAAA." + sig, t0, ErrMalformed},
		{"padded", payload + "=." + sig, t0, ErrMalformed},
		{"huge", strings.Repeat("A", 5000) + "." + sig, t0, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Verify(tt.token, tt.now)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestExpiredReturnsClaims(t *testing.T) {
	t.Parallel()
	s := newSigner(t, keyA)
	got, err := s.Verify(s.Token(Claims{NotificationID: 5, PlanRef: "P5"}, t0), t0.Add(100*time.Hour))
	if !errors.Is(err, ErrExpired) || got.PlanRef != "P5" {
		t.Fatalf("got %+v, %v; want claims with ErrExpired", got, err)
	}
}

func TestRotation(t *testing.T) {
	t.Parallel()
	old := newSigner(t, keyA)
	rotated := newSigner(t, keyB, keyA)
	c := Claims{NotificationID: 7, PlanRef: "P7", Seq: 1}

	if got, err := rotated.Verify(old.Token(c, t0), t0); err != nil || got.NotificationID != 7 {
		t.Fatalf("token from previous key: %+v, %v", got, err)
	}
	newTok := rotated.Token(c, t0)
	if _, err := rotated.Verify(newTok, t0); err != nil {
		t.Fatalf("token from current key: %v", err)
	}
	if _, err := old.Verify(newTok, t0); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("signer without key b: %v, want ErrUnknownKey", err)
	}
	retired := newSigner(t, keyB)
	if _, err := retired.Verify(old.Token(c, t0), t0); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("retired key: %v, want ErrUnknownKey", err)
	}
	// Same id, different secret: the signature, not the id, decides.
	impostor := newSigner(t, Key{ID: "a", Secret: []byte("another-secret-of-16+")})
	if _, err := old.Verify(impostor.Token(c, t0), t0); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("impostor key: %v, want ErrBadSignature", err)
	}
}

func TestNewSignerValidates(t *testing.T) {
	t.Parallel()
	short := Key{ID: "s", Secret: []byte("short")}
	tests := []struct {
		name     string
		base     string
		current  Key
		previous []Key
		ttl      time.Duration
	}{
		{"relative base", "/repay", keyA, nil, time.Hour},
		{"ftp base", "ftp://pay.example.com/", keyA, nil, time.Hour},
		{"no host", "https:///repay", keyA, nil, time.Hour},
		{"userinfo", "https://u@pay.example.com/", keyA, nil, time.Hour},
		{"unparsable", "https://pay example.com/%zz", keyA, nil, time.Hour},
		{"short secret", "https://pay.example.com/", short, nil, time.Hour},
		{"short previous secret", "https://pay.example.com/", keyA, []Key{short}, time.Hour},
		{"empty id", "https://pay.example.com/", Key{Secret: keyA.Secret}, nil, time.Hour},
		{"long id", "https://pay.example.com/", Key{ID: strings.Repeat("k", 33), Secret: keyA.Secret}, nil, time.Hour},
		{"duplicate id", "https://pay.example.com/", keyA, []Key{keyB, {ID: "a", Secret: keyB.Secret}}, time.Hour},
		{"zero ttl", "https://pay.example.com/", keyA, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewSigner(tt.base, tt.current, tt.previous, tt.ttl); err == nil {
				t.Fatal("NewSigner accepted it")
			}
		})
	}
	if _, err := NewSigner("http://localhost:8080/repay", keyA, []Key{keyB}, time.Hour); err != nil {
		t.Fatalf("valid config rejected: %v", err)
	}
}

func TestSignerCopiesSecret(t *testing.T) {
	t.Parallel()
	secret := []byte("0123456789abcdef-mutable")
	s := newSigner(t, Key{ID: "m", Secret: secret})
	tok := s.Token(Claims{NotificationID: 1}, t0)
	secret[0] ^= 0xff
	if _, err := s.Verify(tok, t0); err != nil {
		t.Fatalf("caller's later change to the secret broke the signer: %v", err)
	}
}
