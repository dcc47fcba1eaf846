package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"duebell/repo"
)

// Error codes in {"error": {"code", "message"}}.
const (
	codeBadJSON      = "bad_json"
	codeBadQuery     = "bad_query"
	codeBadText      = "bad_text"
	codeUnknownField = "unknown_field"
	codeTooLarge     = "too_large"
	codeInvalid      = "invalid"
	codeNotFound     = "not_found"
	codeConflict     = "conflict"
	codeStale        = "stale"
	codeUnauthorized = "unauthorized"
	codeForbidden    = "forbidden"
	codeMethod       = "method_not_allowed"
	codeNotReady     = "not_ready"
	codeCancelled    = "cancelled"
	codeTimeout      = "timeout"
	codeUnavailable  = "unavailable"
	codeInternal     = "internal"
)

// apiError is an error with the HTTP status and code it is answered with.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Message }

// invalid is a 422 naming the offending field.
func invalid(field, format string, args ...any) *apiError {
	return &apiError{http.StatusUnprocessableEntity, codeInvalid, field + ": " + fmt.Sprintf(format, args...)}
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	var b errorBody
	b.Error.Code, b.Error.Message = code, msg
	writeJSON(w, status, b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// fail answers err: a refusal as its 4xx, a database outage as a logged
// 503 with Retry-After (so a provider posts its receipts again later),
// anything else as a logged 500 that reveals nothing.
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	ae := refusal(err)
	switch {
	case ae != nil:
	case errors.Is(r.Context().Err(), context.DeadlineExceeded): // routeMux's bound, not the client
		s.unavailable(w, r, err, slog.Duration("request_timeout", s.cfg.RequestTimeout))
		ae = &apiError{http.StatusServiceUnavailable, codeTimeout,
			fmt.Sprintf("the request did not finish within %s; retry later", s.cfg.RequestTimeout)}
	case r.Context().Err() != nil:
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "request cancelled", slog.String("route", r.Pattern))
		ae = &apiError{http.StatusServiceUnavailable, codeCancelled, "request cancelled"}
	case repo.IsUnavailable(err):
		s.unavailable(w, r, err)
		ae = &apiError{http.StatusServiceUnavailable, codeUnavailable, "the database is unavailable; retry later"}
	default:
		s.log.LogAttrs(context.WithoutCancel(r.Context()), slog.LevelError, "request failed",
			slog.String("route", r.Pattern), slog.String("error", err.Error()))
		ae = &apiError{http.StatusInternalServerError, codeInternal, "internal error"}
	}
	writeError(w, ae.Status, ae.Code, ae.Message)
}

// refusal is the 4xx err is answered with: an apiError as itself, the
// repo's not-found, invalid (its own check of a value: support filters,
// resend text) and conflict as 404, 422 and 409 (a stale plan push as 409
// stale); nil for any other error.
func refusal(err error) *apiError {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, repo.ErrNotFound):
		return &apiError{http.StatusNotFound, codeNotFound, strings.TrimSuffix(err.Error(), ": "+repo.ErrNotFound.Error()) + " not found"}
	case errors.Is(err, repo.ErrInvalid):
		return &apiError{http.StatusUnprocessableEntity, codeInvalid, err.Error()}
	case errors.Is(err, repo.ErrStale):
		return &apiError{http.StatusConflict, codeStale, strings.TrimSuffix(err.Error(), ": "+repo.ErrStale.Error())}
	case errors.Is(err, repo.ErrConflict):
		return &apiError{http.StatusConflict, codeConflict, strings.TrimSuffix(err.Error(), ": "+repo.ErrConflict.Error())}
	}
	return nil
}

// unavailable logs a request the database outage err stopped (with
// attrs: at WARN at most every outage.EveryInterval, else DEBUG) and tells the
// client when to ask again; the caller answers 503.
func (s *server) unavailable(w http.ResponseWriter, r *http.Request, err error, attrs ...slog.Attr) {
	attrs = append([]slog.Attr{slog.String("route", r.Pattern), slog.String("error", err.Error())}, attrs...)
	s.log.LogAttrs(r.Context(), s.unavailableLog.Level(), "database unavailable", attrs...)
	w.Header().Set("Retry-After", strconv.Itoa(int(repo.RetryAfter/time.Second)))
}
