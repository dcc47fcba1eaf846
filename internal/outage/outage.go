// Package outage says a failure that repeats all through a database outage
// once: an operator paging on WARN and ERROR is told when it starts and
// when it ends, not at every retry.
package outage

import (
	"log/slog"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Once tracks one kind of failure (claims, scans of one job, lease
// extensions, outcome writes, re-checks). Its zero value is ready; it is
// safe for concurrent use.
type Once struct{ down atomic.Bool }

// Level is the level to log a failure at: WARN for the first since the
// last recovery, DEBUG for the repeats.
func (o *Once) Level() slog.Level {
	if o.down.Swap(true) {
		return slog.LevelDebug
	}
	return slog.LevelWarn
}

// Recovered reports whether a failure was logged since the last recovery
// (the caller then says, at INFO, that it got through again), and clears it.
func (o *Once) Recovered() bool { return o.down.Swap(false) }

// Every is for a failure with no recovery to wait for, such as requests
// answered 503 while the database is away (a load balancer probing
// /readyz twice a second): WARN at most once per EveryInterval, DEBUG
// between.
// Use NewEvery; it is safe for concurrent use.
type Every struct{ s rate.Sometimes }

// EveryInterval is how often an Every logs at WARN: each process's API and
// console say an outage their requests meet once in that time.
const EveryInterval = 10 * time.Second

// NewEvery logs at WARN at most once per EveryInterval.
func NewEvery() *Every { return &Every{s: rate.Sometimes{Interval: EveryInterval}} }

// Level is the level to log one failure at.
func (e *Every) Level() slog.Level {
	level := slog.LevelDebug
	e.s.Do(func() { level = slog.LevelWarn })
	return level
}
