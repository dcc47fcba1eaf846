package notify

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// DefaultWriteStall is how long outcomes may wait to be written, with none
// written meanwhile, before workers stop starting sends (see writesFlowing).
// Group commits take milliseconds; a quarter second without one is a
// database that stopped answering, or a network to it that went silent.
const DefaultWriteStall = 250 * time.Millisecond

// stallPoll is how often a held send looks whether the writes go through again.
const stallPoll = 20 * time.Millisecond

// stallWarnAfter is how long the writes must stall before the hold is
// logged at WARN: a busy database's group commit can take longer than
// WriteStall, and the hold is then back-pressure, logged at DEBUG (an audit
// counted 94 WARN and INFO pairs in a run on a loaded host whose database
// answered all along).
const stallWarnAfter = 2 * time.Second

// writeWatch tells how long outcome writes have been stalled: outcomes are
// waiting to be written and none has been written since mark (the last
// write, or when outcomes began to wait after none did).
type writeWatch struct {
	mu        sync.Mutex
	unwritten int
	mark      time.Time
}

// reset starts a run: nothing waits.
func (w *writeWatch) reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.unwritten = 0
}

// handed counts an outcome handed to the committers.
func (w *writeWatch) handed() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.unwritten == 0 {
		w.mark = time.Now()
	}
	w.unwritten++
}

// written counts n outcomes the committers are done with.
func (w *writeWatch) written(n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.unwritten -= n
	w.mark = time.Now()
}

// stalledFor is how long outcomes have waited with none written; 0 when
// none waits.
func (w *writeWatch) stalledFor() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.unwritten <= 0 {
		return 0
	}
	return time.Since(w.mark)
}

// writesFlowing holds j's send while outcome writes are stalled for
// WriteStall or more, and says whether it may start. A replica whose
// database went silent keeps its leases for a while, and without this went
// on sending everything it had claimed; when the silence outlasted the
// leases, another replica rescued those notices and sent them again, since
// their outcomes were never written. Held, the send starts once the writes
// go through again; it is given back untried (false) when the dispatcher
// stops, or when its lease has less than a third left, as a send never
// starts on such a lease (see leaseKeeper.take).
func (d *Dispatcher) writesFlowing(ctx context.Context, j job) bool {
	stalled := d.writes.stalledFor()
	if stalled < d.cfg.WriteStall {
		return true
	}
	d.cfg.Logger.Log(ctx, slog.LevelDebug, "outcome writes slow; holding a send", slog.Duration("stalled", stalled))
	t := time.NewTicker(stallPoll)
	defer t.Stop()
	for warned := false; stalled >= d.cfg.WriteStall; stalled = d.writes.stalledFor() {
		if !warned && stalled >= max(stallWarnAfter, d.cfg.WriteStall) {
			d.cfg.Logger.Log(ctx, d.sendHold.Level(), "outcome writes stalled; holding sends until the database takes them",
				slog.Duration("stalled", stalled))
			warned = true
		}
		if ctx.Err() != nil || d.cfg.LeaseClock().Sub(j.lease.since) > d.cfg.Lease*2/3 {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
	return true
}
