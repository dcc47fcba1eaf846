// Package smstest holds the test helpers the SMS provider packages share:
// running a fake provider, recording what it accepted, and checking the
// errors a Send returns. Each provider keeps its own fake, which checks
// requests the way its API does.
package smstest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"duebell/notify"
)

// New calls newClient(cfg) and ends the test if it fails.
func New[Cfg, C any](t testing.TB, newClient func(Cfg) (C, error), cfg Cfg) C {
	t.Helper()
	c, err := newClient(cfg)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

// Serve runs h on a test server that is closed when the test ends.
func Serve(t testing.TB, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// Recorder keeps the requests a fake accepted. It is safe for concurrent
// use; its zero value is empty and ready.
type Recorder[T any] struct {
	mu   sync.Mutex
	seen []T
}

// Record adds one accepted request.
func (r *Recorder[T]) Record(v T) {
	r.mu.Lock()
	r.seen = append(r.seen, v)
	r.mu.Unlock()
}

// Calls returns a copy of the requests accepted so far.
func (r *Recorder[T]) Calls() []T {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]T(nil), r.seen...)
}

// WantNone fails the test if any request was accepted: the client should
// have refused to send, or the fake to accept.
func (r *Recorder[T]) WantNone(t testing.TB) {
	t.Helper()
	if n := len(r.Calls()); n != 0 {
		t.Errorf("fake accepted %d requests, want none", n)
	}
}

// WriteJSON answers with status and v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Start runs a provider's fake, which answers every request it accepts with
// reply, and returns a client for it with the given per-request timeout.
type Start func(t *testing.T, reply func(http.ResponseWriter), timeout time.Duration) notify.Sender

// TestHTTPFailures checks what every provider built on smshttp.Do does
// alike: a 500 reply that is not the provider's answer is transient
// "http_500", and a fake that does not answer within the timeout gives a
// transient "timeout". Neither error may carry number, a part of msg.To.
func TestHTTPFailures(t *testing.T, start Start, msg notify.Message, number string) {
	t.Run("500", func(t *testing.T) {
		t.Parallel()
		c := start(t, func(w http.ResponseWriter) {
			http.Error(w, "<html>upstream exploded</html>", http.StatusInternalServerError)
		}, 0)
		_, err := c.Send(context.Background(), msg)
		WantError(t, err, Transient, "http_500")
		WantNoNumber(t, err, number)
		WantOutage(t, err, true)
	})
	t.Run("429", func(t *testing.T) { // at work, and asking us to slow down
		t.Parallel()
		c := start(t, func(w http.ResponseWriter) {
			http.Error(w, "<html>slow down</html>", http.StatusTooManyRequests)
		}, 0)
		_, err := c.Send(context.Background(), msg)
		WantError(t, err, Transient, "http_429")
		WantOutage(t, err, false)
	})
	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		done := t.Context().Done() // closed before the server's cleanup runs
		c := start(t, func(http.ResponseWriter) { <-done }, 50*time.Millisecond)
		_, err := c.Send(context.Background(), msg)
		WantError(t, err, Transient, "timeout")
		WantNoNumber(t, err, number)
		WantOutage(t, err, true)
		if !notify.IsUnanswered(err) { // the provider had the request: it may have taken it
			t.Errorf("err = %v, want unanswered", err)
		}
	})
}

// WantOutage fails the test unless err says the provider is not serving
// (notify.IsOutage: it counts towards the unreachable circuit) exactly
// when want says so.
func WantOutage(t testing.TB, err error, want bool) {
	t.Helper()
	if notify.IsOutage(err) != want {
		t.Errorf("err = %v: IsOutage = %v, want %v", err, !want, want)
	}
}

// The classes WantError expects.
const (
	Transient = false
	Permanent = true
)

// WantError ends the test unless err is a notify error of the given class
// (Permanent or Transient) carrying code.
func WantError(t testing.TB, err error, permanent bool, code string) {
	t.Helper()
	class := map[bool]string{Transient: "transient", Permanent: "permanent"}[permanent]
	if err == nil || notify.IsPermanent(err) != permanent || notify.ErrorCode(err) != code {
		t.Fatalf("err = %v (code %q), want %s %s", err, notify.ErrorCode(err), class, code)
	}
}

// WantClass ends the test unless err is a notify error of class c carrying
// code.
func WantClass(t testing.TB, err error, c notify.Class, code string) {
	t.Helper()
	if err == nil || notify.ErrorClass(err) != c || notify.ErrorCode(err) != code {
		t.Fatalf("err = %v (class %q, code %q), want %s %s", err, notify.ErrorClass(err), notify.ErrorCode(err), c, code)
	}
	if notify.IsPermanent(err) != c.Permanent() {
		t.Fatalf("err = %v: IsPermanent = %v for class %s", err, notify.IsPermanent(err), c)
	}
}

// WantNoNumber fails the test if err's text carries number: errors reach
// logs, and a phone number must not.
func WantNoNumber(t testing.TB, err error, number string) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), number) {
		t.Errorf("error carries the full phone number: %v", err)
	}
}
