package outage

import (
	"log/slog"
	"testing"
)

// Through one outage: WARN once, then DEBUG; recovered once; the next
// outage is said again.
func TestOnce(t *testing.T) {
	var o Once
	if o.Recovered() {
		t.Error("recovered before any failure")
	}
	for i, want := range []slog.Level{slog.LevelWarn, slog.LevelDebug, slog.LevelDebug} {
		if got := o.Level(); got != want {
			t.Errorf("failure %d at %v, want %v", i+1, got, want)
		}
	}
	if !o.Recovered() || o.Recovered() {
		t.Error("want one recovery after the failures")
	}
	if got := o.Level(); got != slog.LevelWarn {
		t.Errorf("first failure of the next outage at %v, want WARN", got)
	}
}

// A failure said every time it happens (a request answered 503) is WARN
// once per interval and DEBUG between.
func TestEvery(t *testing.T) {
	e := NewEvery()
	for i, want := range []slog.Level{slog.LevelWarn, slog.LevelDebug, slog.LevelDebug} {
		if got := e.Level(); got != want {
			t.Errorf("failure %d at %v, want %v", i+1, got, want)
		}
	}
}
