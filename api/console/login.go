package console

import (
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strings"
)

// loginForm shows the token form, with a fresh double-submit CSRF token.
func (c *Console) loginForm(w http.ResponseWriter, r *http.Request) {
	if _, ok := c.readSession(r, c.cfg.Clock()); ok {
		http.Redirect(w, r, "/console/notifications", http.StatusSeeOther)
		return
	}
	c.showLogin(w, r, http.StatusOK, "")
}

func (c *Console) showLogin(w http.ResponseWriter, r *http.Request, status int, msg string) {
	token := randomToken(16)
	setCookie(w, r, loginCookie, token, c.cfg.SessionTTL)
	c.render(w, r, status, "login", view{Title: "Sign in", CSRF: token, Error: msg})
}

// login exchanges a viewer or operator token for a session cookie.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	ck, err := r.Cookie(loginCookie)
	if err != nil || !sameOrigin(r) ||
		subtle.ConstantTimeCompare([]byte(ck.Value), []byte(r.PostFormValue("csrf"))) != 1 {
		c.showLogin(w, r, http.StatusForbidden, "The form expired. Please sign in again.")
		return
	}
	id, ok := c.cfg.Auth.Login(strings.TrimSpace(r.PostFormValue("token")))
	if !ok {
		c.cfg.Logger.LogAttrs(r.Context(), slog.LevelWarn, "console login refused")
		c.showLogin(w, r, http.StatusUnauthorized, "That token is not valid.")
		return
	}
	if id.Role != RoleViewer && id.Role != RoleOperator {
		c.showLogin(w, r, http.StatusForbidden, "This token's role ("+id.Role+") may not use the console; use a viewer or operator token.")
		return
	}
	key, _, ok := c.cfg.Auth.SessionKey(id.Name)
	if !ok {
		c.showLogin(w, r, http.StatusUnauthorized, "That token is not valid.")
		return
	}
	s := newSession(id, key, c.cfg.Clock().Add(c.cfg.SessionTTL))
	setCookie(w, r, sessionCookie, s.cookieValue(), c.cfg.SessionTTL)
	setCookie(w, r, loginCookie, "", -1)
	if c.cfg.OnIdentity != nil {
		c.cfg.OnIdentity(r, id.Name)
	}
	c.cfg.Logger.LogAttrs(r.Context(), slog.LevelInfo, "console login", slog.String("token", id.Name))
	http.Redirect(w, r, "/console/notifications", http.StatusSeeOther)
}

// logout clears the session cookie. The session is signed, not stored, so
// a copied cookie stays valid until it expires (SessionTTL) or the token
// is rotated.
func (c *Console) logout(w http.ResponseWriter, r *http.Request, s session) {
	setCookie(w, r, sessionCookie, "", -1)
	http.Redirect(w, r, "/console/login", http.StatusSeeOther)
}
