package notify

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"duebell/internal/outage"
	"duebell/repo"
)

// leaseKeeper extends the leases of the notices this dispatcher holds every
// third of a lease, by the lease clock (checked whenever outcomes are
// written) and by the wall clock (a ticker, for sends that hang): a live
// worker never loses a claim, however long its batch takes. After a failed
// extension (the database away) the ticker tries again every second, so
// the leases are renewed as soon as the database is back, before they run
// out and another replica's rescue takes them.
//
// It keeps the lease of every claimed notice whose send has not started,
// and learns from each extension which of them are still this dispatcher's
// own: after a network partition longer than a lease, the extension that
// gets through when the network heals succeeds, but another replica may
// have rescued the notices meanwhile and sent them. A notice the extension
// does not name is lost (dropped untried, nothing written: its new owner
// decides it), and a lease that ran out before an extension renewed it
// stays run out, since a rescue may have taken it in that gap.
type leaseKeeper struct {
	d      *Dispatcher
	mu     sync.Mutex
	last   time.Time   // lease clock at the last extension
	failed bool        // the last extension failed
	outage outage.Once // extensions failing through an outage, said once
	warned bool        // lapsing was logged since the last extension that left no lease lapsed
	// held are the leases of the claimed notices not yet started, by
	// notice id.
	held map[int64]*lease
}

// lease is one claimed notice's lease as its dispatcher knows it.
type lease struct {
	id int64
	// since is the lease clock read before the claim, or the last extension
	// that renewed the lease, went to the database: the lease runs out a
	// Lease after it (never later than the database has it) unless an
	// extension renews it first.
	since time.Time
	// lost: the notice is no longer this dispatcher's (another worker
	// rescued it and claimed it, or this one claimed it again afresh).
	lost bool
}

func (d *Dispatcher) newLeaseKeeper() *leaseKeeper {
	return &leaseKeeper{d: d, last: d.cfg.LeaseClock(), held: map[int64]*lease{}}
}

// hold starts keeping the leases of claims, leased as of leaseStart (the
// lease clock before the claim). A notice held under an older lease was
// rescued and claimed again since: the older lease is lost.
func (k *leaseKeeper) hold(claims []repo.Claim, leaseStart time.Time) []*lease {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]*lease, len(claims))
	lost := 0
	for i, c := range claims {
		if old, ok := k.held[c.ID]; ok {
			old.lost = true
			lost++
		}
		l := &lease{id: c.ID, since: leaseStart}
		k.held[c.ID], out[i] = l, l
	}
	k.gaveBack(lost)
	return out
}

// gaveBack logs that the leases of n notices were lost; k.mu is held.
func (k *leaseKeeper) gaveBack(n int) {
	if n > 0 {
		k.d.cfg.Logger.Warn("leases lost to another worker while the database was out of reach; "+
			"giving their notices back untried", slog.Int("count", n))
	}
}

// done stops keeping ls: their notices are given back unstarted.
func (k *leaseKeeper) done(ls ...*lease) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, l := range ls {
		k.forget(l)
	}
}

// forget drops l from held; k.mu is held.
func (k *leaseKeeper) forget(l *lease) {
	if k.held[l.id] == l {
		delete(k.held, l.id)
	}
}

// run extends leases on a wall-clock ticker until done is closed.
func (k *leaseKeeper) run(done <-chan struct{}) {
	t := time.NewTicker(min(k.d.cfg.Lease/3, time.Second))
	defer t.Stop()
	due := time.Now().Add(k.d.cfg.Lease / 3)
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			k.mu.Lock()
			retry := k.failed
			k.mu.Unlock()
			if retry || !now.Before(due) {
				due = now.Add(k.d.cfg.Lease / 3)
				k.extendIfDue(true)
			}
		}
	}
}

// extendIfDue extends every lease this dispatcher holds when a third of a
// lease has passed on its clock since the last extension, or when force.
// The held leases the extension does not name are lost; those it names are
// renewed, unless they ran out before it.
func (k *leaseKeeper) extendIfDue(force bool) {
	if k.d.gaveUp() { // stopping, and the database away for a lease: nothing left to keep
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.d.cfg.LeaseClock() // read under the lock: an extension never goes back in time
	if !force && now.Sub(k.last) < k.d.cfg.Lease/3 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ids, err := k.d.cfg.Store.ExtendLeases(ctx, k.d.cfg.Owner, now, k.d.cfg.Lease)
	k.failed = err != nil
	if err != nil { // retried every second while it fails: said once
		k.d.cfg.Logger.Log(ctx, k.outage.Level(), "extend leases failed", slog.String("error", err.Error()))
		return
	}
	if k.outage.Recovered() {
		k.d.cfg.Logger.Info("leases extended again")
	}
	k.last = now
	lost, lapsed := 0, 0
	for id, l := range k.held {
		switch {
		case !containsSorted(ids, id):
			l.lost = true
			delete(k.held, id)
			lost++
		case now.Sub(l.since) > k.d.cfg.Lease:
			// Ran out before this extension could renew it: whatever
			// the extension found, a send does not start on a lease that
			// lapsed; the notice is given back untried (take).
			lapsed++
		default:
			l.since = now
		}
	}
	if lapsed == 0 { // else the leases that lapsed in this failure are still to be given back: said once
		k.warned = false
	}
	k.gaveBack(lost)
	if len(ids) > 0 {
		k.d.cfg.Logger.Debug("leases extended", slog.Int("count", len(ids)))
	}
}

// containsSorted reports whether ids, in ascending order, hold id.
func containsSorted(ids []int64, id int64) bool {
	_, ok := slices.BinarySearch(ids, id)
	return ok
}

// leaseState is whether a send may start on a lease.
type leaseState int

const (
	leaseHeld    leaseState = iota // extended recently enough: send
	leaseLapsing                   // less than a third left, or run out: give back untried
	leaseLost                      // another worker holds the notice: drop untried, write nothing
)

// take stops keeping l and says whether a send may start on it: it may on
// a lease with more than a third left; not on one with less (only a failed
// extension, the database out of reach, lets so much of a lease pass, and
// by its end another replica may rescue the notice and send it), nor on
// one that ran out, however the extensions went since; never on one that
// is lost. It logs the first lapsing lease of each failure at WARN.
func (k *leaseKeeper) take(l *lease) leaseState {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.forget(l)
	if l.lost {
		return leaseLost
	}
	if k.d.cfg.LeaseClock().Sub(l.since) <= k.d.cfg.Lease*2/3 {
		return leaseHeld
	}
	if !k.warned {
		k.warned = true
		k.d.cfg.Logger.Warn("leases could not be extended and are running out; giving claimed notices back untried")
	}
	return leaseLapsing
}
