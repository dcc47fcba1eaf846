package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"runtime/debug"
	"strings"
	"time"
)

// reqInfo collects what the access log needs from inner handlers.
type reqInfo struct{ token string }

type infoKey struct{}

func info(r *http.Request) *reqInfo {
	if i, ok := r.Context().Value(infoKey{}).(*reqInfo); ok {
		return i
	}
	return &reqInfo{}
}

// observe logs one line per request (never the body, a contact or a token),
// turns a panic into a 500 and answers the mux's own 404 and 405 in JSON.
// Requests are logged at DEBUG (a bulk push is tens of thousands of them);
// a 5xx is an ERROR an operator acts on, a refused token a WARN. A 503 is
// graded as a 4xx: it answers a condition its handler has logged already at
// the level it deserves (database unavailable and not ready at WARN, a
// cancelled request at INFO), so an outage logs one warning per request,
// not a warning and an error.
func (s *server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ri := &reqInfo{}
		r = r.WithContext(context.WithValue(r.Context(), infoKey{}, ri))
		rec := &recorder{ResponseWriter: w, req: r}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.LogAttrs(context.WithoutCancel(r.Context()), slog.LevelError, "panic serving request",
					slog.String("route", r.Pattern), slog.String("panic", fmt.Sprint(p)), slog.String("stack", string(debug.Stack())))
				if !rec.wroteHeader {
					writeError(rec, http.StatusInternalServerError, codeInternal, "internal error")
				}
			}
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			level := slog.LevelDebug
			switch {
			case rec.status >= 500 && rec.status != http.StatusServiceUnavailable:
				level = slog.LevelError
			case rec.status == http.StatusUnauthorized || rec.status == http.StatusForbidden:
				level = slog.LevelWarn
			}
			s.log.LogAttrs(context.WithoutCancel(r.Context()), level, "http request",
				slog.String("method", r.Method), slog.String("route", route), slog.Int("status", rec.status),
				slog.Duration("duration", time.Since(start)), slog.String("token", ri.token))
		}()
		// Every query string is checked here, once, for every route; a
		// console address is answered with the console's own page.
		if err := checkQuery(r); err != nil {
			if s.console != nil && strings.HasPrefix(r.URL.Path, "/console/") {
				s.console.BadAddress(rec, r, err.Message)
				return
			}
			s.fail(rec, r, err)
			return
		}
		// The mux redirects a path it would clean (//api/v1/…, /a/../b) with
		// a 307 and an HTML body, which asks a client to send a PUT's body
		// again elsewhere: such a path is no route. It cleans the path as
		// sent, so a ref with an escaped slash or dots (a%2F..%2Fb) is not
		// unclean.
		if p := r.URL.EscapedPath(); p != "" && p != cleanPath(p) {
			writeError(rec, http.StatusNotFound, codeNotFound, "no such route")
			return
		}
		next.ServeHTTP(rec, r)
	})
}

// cleanPath is p as http.ServeMux cleans it: path.Clean, keeping a final
// slash.
func cleanPath(p string) string {
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

// recorder remembers the status. When the mux itself answers (no pattern
// matched), it replaces the plain-text 404/405 body with the JSON error.
type recorder struct {
	http.ResponseWriter
	req         *http.Request
	status      int
	wroteHeader bool
	swallow     bool
}

func (w *recorder) WriteHeader(code int) {
	if w.wroteHeader {
		return
	}
	w.wroteHeader, w.status = true, code
	if w.req.Pattern == "" && (code == http.StatusNotFound || code == http.StatusMethodNotAllowed) {
		w.swallow = true
		h := w.Header()
		h.Del("X-Content-Type-Options")
		if code == http.StatusNotFound {
			writeError(w.ResponseWriter, code, codeNotFound, "no such route")
		} else {
			writeError(w.ResponseWriter, code, codeMethod, "method "+w.req.Method+" not allowed here")
		}
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.swallow {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }
