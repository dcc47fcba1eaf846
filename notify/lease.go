package notify

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// leaseKeeper extends the leases of the notices this dispatcher holds every
// third of a lease, by the dispatcher's clock (checked whenever outcomes are
// written) and by the wall clock (a ticker, for sends that hang): a live
// worker never loses a claim, however long its batch takes.
type leaseKeeper struct {
	d    *Dispatcher
	mu   sync.Mutex
	last time.Time // dispatcher clock at the last extension
}

func (d *Dispatcher) newLeaseKeeper() *leaseKeeper {
	return &leaseKeeper{d: d, last: d.cfg.Now()}
}

// run extends leases on a wall-clock ticker until done is closed.
func (k *leaseKeeper) run(done <-chan struct{}) {
	t := time.NewTicker(k.d.cfg.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			k.extendIfDue(true)
		}
	}
}

// extendIfDue extends every lease this dispatcher holds when a third of a
// lease has passed on its clock since the last extension, or when force.
func (k *leaseKeeper) extendIfDue(force bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.d.cfg.Now() // read under the lock: an extension never goes back in time
	if !force && now.Sub(k.last) < k.d.cfg.Lease/3 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := k.d.cfg.Store.ExtendLeases(ctx, k.d.cfg.Owner, now, k.d.cfg.Lease)
	if err != nil {
		k.d.cfg.Logger.Warn("extend leases failed", slog.String("error", err.Error()))
		return
	}
	k.last = now
	if n > 0 {
		k.d.cfg.Logger.Debug("leases extended", slog.Int("count", n))
	}
}
