package console

import (
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"duebell/internal/input"
)

// loginForm shows the token form, with a fresh double-submit CSRF token.
func (c *Console) loginForm(w http.ResponseWriter, r *http.Request) {
	if _, ok, _ := c.readSession(r, c.cfg.Clock()); ok { // unchecked (database down): sign in again
		http.Redirect(w, r, "/console/", http.StatusSeeOther) // the overview
		return
	}
	c.showLogin(w, r, http.StatusOK, "")
}

func (c *Console) showLogin(w http.ResponseWriter, r *http.Request, status int, msg string) {
	token := randomToken(16)
	c.setCookie(w, r, loginCookie, token, c.cfg.SessionTTL)
	c.render(w, r, status, "login", view{Title: "Sign in", CSRF: token, Error: msg})
}

// consoleRole says whether a token of role may use the console.
func consoleRole(role string) bool { return role == RoleViewer || role == RoleOperator }

// login exchanges a viewer or operator token for a session cookie. Each
// client address gets a few attempts and then one every so often
// (Config.LoginBurst, LoginEvery): guessing tokens is throttled before
// any is evaluated.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	if wait, ok := c.logins.allow(clientAddr(r), c.cfg.Clock()); !ok {
		c.cfg.Logger.LogAttrs(r.Context(), slog.LevelWarn, "console login throttled", slog.String("client", clientAddr(r)))
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Round(time.Second)/time.Second)+1))
		c.showLogin(w, r, http.StatusTooManyRequests, "Too many sign-in attempts from your address. Wait a minute and try again.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(formTimeout))
	// The sign-in form is checked as every other form (see form): a token
	// given twice signed in with the first.
	if err := r.ParseForm(); err != nil || givenTwice(r.PostForm) != "" || input.Values(r.PostForm) != nil {
		c.showLogin(w, r, http.StatusBadRequest, "The form could not be read. Please sign in again.")
		return
	}
	ck, err := r.Cookie(loginCookie)
	if err != nil || !sameOrigin(r) ||
		subtle.ConstantTimeCompare([]byte(ck.Value), []byte(r.PostFormValue("csrf"))) != 1 {
		c.showLogin(w, r, http.StatusForbidden, "The form expired. Please sign in again.")
		return
	}
	id, ok := c.cfg.Auth.Login(strings.TrimSpace(r.PostFormValue("token")))
	if !ok {
		c.cfg.Logger.LogAttrs(r.Context(), slog.LevelWarn, "console login refused", slog.String("client", clientAddr(r)),
			slog.String("reason", "unknown token"))
		c.showLogin(w, r, http.StatusUnauthorized, "That token is not valid.")
		return
	}
	if !consoleRole(id.Role) {
		c.cfg.Logger.LogAttrs(r.Context(), slog.LevelWarn, "console login refused", slog.String("client", clientAddr(r)),
			slog.String("token", id.Name), slog.String("reason", "role "+id.Role+" may not use the console"))
		c.showLogin(w, r, http.StatusForbidden, "This token's role ("+id.Role+") may not use the console; use a viewer or operator token.")
		return
	}
	key, _, ok := c.cfg.Auth.SessionKey(id.Name)
	if !ok {
		c.showLogin(w, r, http.StatusUnauthorized, "That token is not valid.")
		return
	}
	s := newSession(id, key, c.cfg.Clock().Add(c.cfg.SessionTTL))
	c.setCookie(w, r, sessionCookie, s.cookieValue(), c.cfg.SessionTTL)
	c.setCookie(w, r, loginCookie, "", -1)
	if c.cfg.OnIdentity != nil {
		c.cfg.OnIdentity(r, id.Name)
	}
	c.cfg.Logger.LogAttrs(r.Context(), slog.LevelInfo, "console login", slog.String("token", id.Name))
	http.Redirect(w, r, "/console/", http.StatusSeeOther) // the overview
}

// logout ends the session on the server, for every replica (a copy of the
// cookie is refused from now on), then clears the cookie.
func (c *Console) logout(w http.ResponseWriter, r *http.Request, s session) {
	if err := c.cfg.Sessions.RevokeConsoleSession(r.Context(), sessionID(s.nonce), s.expires, c.cfg.Clock()); err != nil {
		c.internal(w, r, s, err)
		return
	}
	c.setCookie(w, r, sessionCookie, "", -1)
	c.cfg.Logger.LogAttrs(r.Context(), slog.LevelInfo, "console logout", slog.String("token", s.Name))
	http.Redirect(w, r, "/console/login", http.StatusSeeOther)
}
