package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"time"

	"duebell/api/console"
)

// mountConsole serves the web console under /console/ with the API's tokens.
func (s *server) mountConsole(mux *routeMux) {
	loc, err := loadTimezone(s.cfg.DefaultTimezone)
	if err != nil {
		loc = time.UTC
	}
	c, err := console.New(console.Config{Auth: consoleAuth{s}, Store: s.cfg.Repo, Sessions: s.cfg.Repo, Logger: s.log,
		Now: s.cfg.Now, Clock: s.cfg.ConsoleClock, Location: loc, PlainHTTP: s.cfg.ConsolePlainHTTP,
		Collection: s.cfg.Collection,
		OnIdentity: func(r *http.Request, name string) { info(r).token = name }})
	if err != nil {
		panic(err) // Auth and Store are always set here
	}
	c.Register(mux)
	s.console = c
}

// consoleAuth lets the console log tokens in and verify its sessions.
type consoleAuth struct{ s *server }

// Login finds the token with secret, in constant time over every token, as
// authenticate does for the bearer header.
func (a consoleAuth) Login(secret string) (console.Identity, bool) {
	if secret == "" {
		return console.Identity{}, false
	}
	h := sha256.Sum256([]byte(secret))
	found := -1
	for i := range a.s.tokens {
		if subtle.ConstantTimeCompare(h[:], a.s.tokens[i].hash[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return console.Identity{}, false
	}
	t := a.s.tokens[found]
	return console.Identity{Name: t.name, Role: string(t.role)}, true
}

// SessionKey derives token name's session-signing key from its secret's
// hash, so sessions end when the token is rotated or removed.
func (a consoleAuth) SessionKey(name string) ([]byte, console.Identity, bool) {
	for _, t := range a.s.tokens {
		if t.name == name {
			m := hmac.New(sha256.New, t.hash[:])
			m.Write([]byte("duebell console session v1"))
			return m.Sum(nil), console.Identity{Name: t.name, Role: string(t.role)}, true
		}
	}
	return nil, console.Identity{}, false
}
