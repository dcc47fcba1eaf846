package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Cookies. The session is signed: any replica with the same tokens verifies
// it, and rotating a token ends its sessions. Logging out records the
// session as revoked in the database (SessionStore), which every replica
// checks, so a copy of the cookie is refused after the logout.
const (
	sessionCookie = "duebell_console"
	loginCookie   = "duebell_console_login" // double-submit CSRF token of the login form
	cookiePath    = "/console/"
)

// session is a logged-in token: its name, when the session ends, and a
// random nonce the CSRF token is derived from.
type session struct {
	Identity
	expires time.Time
	nonce   string
	key     []byte
}

var b64 = base64.RawURLEncoding

func sign(key []byte, parts ...string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(strings.Join(parts, "\x00")))
	return m.Sum(nil)
}

// newSession starts a session for id, signed with key.
func newSession(id Identity, key []byte, expires time.Time) session {
	return session{Identity: id, expires: expires, nonce: randomToken(16), key: key}
}

// cookieValue is name|expiry|nonce, base64, then the HMAC of those.
func (s session) cookieValue() string {
	exp := strconv.FormatInt(s.expires.Unix(), 10)
	payload := b64.EncodeToString([]byte(s.Name + "\x00" + exp + "\x00" + s.nonce))
	return payload + "." + b64.EncodeToString(sign(s.key, "session", s.Name, exp, s.nonce))
}

// csrf is the token every form of this session carries.
func (s session) csrf() string { return b64.EncodeToString(sign(s.key, "csrf", s.nonce)) }

// checkCSRF compares a submitted token with the session's in constant time.
func (s session) checkCSRF(got string) bool {
	return subtle.ConstantTimeCompare([]byte(got), []byte(s.csrf())) == 1
}

// readSession verifies the session cookie of r as of now. It returns an
// error when the cookie is authentic but whether it was logged out could
// not be read (the database failed): the request is then neither signed in
// nor to be sent to the login form.
func (c *Console) readSession(r *http.Request, now time.Time) (session, bool, error) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return session{}, false, nil
	}
	payloadB64, macB64, ok := strings.Cut(ck.Value, ".")
	if !ok {
		return session{}, false, nil
	}
	payload, err1 := b64.DecodeString(payloadB64)
	mac, err2 := b64.DecodeString(macB64)
	if err1 != nil || err2 != nil {
		return session{}, false, nil
	}
	parts := strings.Split(string(payload), "\x00")
	if len(parts) != 3 {
		return session{}, false, nil
	}
	name, exp, nonce := parts[0], parts[1], parts[2]
	key, id, ok := c.cfg.Auth.SessionKey(name)
	if !ok || !hmac.Equal(mac, sign(key, "session", name, exp, nonce)) || !consoleRole(id.Role) {
		// A token whose role changed to one the console does not take
		// (ingest) ends its sessions, as a rotated one does.
		return session{}, false, nil
	}
	unix, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || !now.Before(time.Unix(unix, 0)) {
		return session{}, false, nil
	}
	revoked, err := c.cfg.Sessions.ConsoleSessionRevoked(r.Context(), sessionID(nonce))
	if err != nil {
		// Fail closed: a session that cannot be checked is no session.
		return session{}, false, fmt.Errorf("console session check: %w", err)
	}
	if revoked {
		return session{}, false, nil
	}
	return session{Identity: id, expires: time.Unix(unix, 0), nonce: nonce, key: key}, true, nil
}

// SessionStore records logouts, so that every replica refuses a session
// that was logged out on any of them.
type SessionStore interface {
	// RevokeConsoleSession ends session id until expires (when it would
	// have ended anyway).
	RevokeConsoleSession(ctx context.Context, id string, expires, now time.Time) error
	ConsoleSessionRevoked(ctx context.Context, id string) (bool, error)
}

// sessionID is what the database knows a session by: a hash of its nonce,
// which by itself can neither forge a cookie nor a CSRF token.
func sessionID(nonce string) string {
	h := sha256.Sum256([]byte("duebell console session id\x00" + nonce))
	return hex.EncodeToString(h[:])
}

// setCookie writes an HttpOnly, SameSite=Strict, Secure cookie. Only with
// Config.PlainHTTP (a local trial over http://) does it leave Secure out,
// and then only for a request that did not come over TLS (directly or
// through a proxy that says so). Max-Age, not Expires, so a browser with
// another clock agrees on the lifetime.
func (c *Console) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge time.Duration) {
	age := int(maxAge / time.Second)
	if maxAge < 0 {
		age = -1
	}
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: cookiePath, MaxAge: age, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: !c.cfg.PlainHTTP || isTLS(r)})
}

func isTLS(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// crossOrigin is net/http's check of a browser's cross-site request: by
// Sec-Fetch-Site, else by the Origin header against the Host.
var crossOrigin = http.NewCrossOriginProtection()

// sameOrigin refuses a POST a browser sent from another site (crossOrigin;
// Origin: null too) or whose Referer names another host: a second line
// behind the CSRF token and SameSite=Strict.
func sameOrigin(r *http.Request) bool {
	// A browser sends each of these once; two would have the check read
	// the first and a proxy perhaps the other.
	for _, h := range []string{"Sec-Fetch-Site", "Origin", "Referer"} {
		if len(r.Header.Values(h)) > 1 {
			return false
		}
	}
	if crossOrigin.Check(r) != nil {
		return false
	}
	if ref := r.Header.Get("Referer"); ref != "" {
		u, err := url.Parse(ref)
		return err == nil && strings.EqualFold(u.Host, r.Host)
	}
	return true
}
