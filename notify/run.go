package notify

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"duebell/repo"
)

// A dispatch run is a pipeline: the producer claims batches (a fresh clock
// for each claim) and hands the notices to Workers goroutines; each finished
// notice goes to the committers, which write outcomes in groups as they
// arrive, so a crash loses the sends in flight and the outcomes not yet
// committed, never a whole batch: a few milliseconds of them when the
// provider is slower than the database's commits, up to the results queue
// and the groups being written when it is faster. While a
// notice is claimed, its lease is extended (see leaseKeeper), so a batch
// that takes longer than one lease is not rescued from a live worker.
//
// Stopping (ctx ends): no new claims; notices claimed but not started are
// released untried; sends in progress get ShutdownGrace to finish, then
// their context is cut and they are recorded as attempts of unknown outcome;
// every outcome is written on a context that is not cancelled, retried
// across a database outage for as long as the dispatcher runs (and for one
// lease after it was told to stop; what is still unwritten then is lost
// and Start/RunOnce report it).

// flushMax bounds one group commit of outcomes; committers write groups
// side by side, so outcomes keep flowing while one commit waits on the disk.
// A group gathers for at most flushWait after its first outcome: each commit
// waits for the disk, so a commit per outcome would cap throughput at the
// disk's flush rate.
const (
	flushMax   = 500
	flushWait  = 5 * time.Millisecond
	committers = 2
)

// capRecheck is how soon an SMS waits when the per-customer cap is only
// reached by counting the customer's SMS that other workers hold right now:
// those may still be suppressed, so the cap is not spent on them.
const capRecheck = 30 * time.Second

// run dispatches until ctx ends or, with once, until a claim after every
// outcome is written comes back empty.
func (d *Dispatcher) run(ctx context.Context, once bool) (Counts, error) {
	bg := context.WithoutCancel(ctx)
	sendCtx, cutOff := context.WithCancel(bg)
	defer cutOff()
	stopGrace := context.AfterFunc(ctx, func() {
		t := time.NewTimer(d.cfg.ShutdownGrace)
		defer t.Stop()
		select {
		case <-t.C:
			d.cfg.Logger.Warn("shutdown grace over, cutting off sends in progress",
				slog.Duration("grace", d.cfg.ShutdownGrace))
			cutOff()
		case <-sendCtx.Done():
		}
	})
	defer stopGrace()

	d.mu.Lock()
	d.giveUp = time.Time{} // this run's own deadline, set when it stops
	d.mu.Unlock()
	d.writes.reset()
	jobs := make(chan job, d.cfg.Batch)
	results := make(chan repo.Outcome, d.cfg.Batch)
	var held sync.WaitGroup // claimed notices whose outcome is not yet written
	keeper := d.newLeaseKeeper()
	counts := &tally{counts: Counts{}}
	stopCounting := context.AfterFunc(ctx, counts.stop)
	defer stopCounting()

	var workers sync.WaitGroup
	for range d.cfg.Workers {
		workers.Go(func() {
			for j := range jobs {
				if out, ok := d.work(ctx, sendCtx, j, keeper); ok {
					d.writes.handed()
					results <- out
				} else {
					held.Done() // another worker's now: nothing to write
				}
			}
		})
	}
	var commits sync.WaitGroup
	for range committers {
		commits.Go(func() { d.complete(ctx, results, counts, &held, keeper) })
	}
	stopKeeper := make(chan struct{})
	var keeping sync.WaitGroup
	keeping.Go(func() { keeper.run(stopKeeper) })

	err := d.produce(ctx, once, jobs, results, &held, keeper)
	if ctx.Err() != nil {
		// The summary below needs the stop's time: AfterFunc's goroutine
		// may not have run yet, or be running (stop keeps the first).
		counts.stop()
	}
	close(jobs) // each stage ends when the one before it has
	workers.Wait()
	close(results)
	commits.Wait()
	close(stopKeeper)
	keeping.Wait()
	if lost := counts.lost; lost > 0 && err == nil {
		err = fmt.Errorf("%d outcomes could not be written (the database was away, or refused them; see the log); those notices stay "+
			"sending until another worker rescues them (their last try logged with an unknown outcome)", lost)
	}
	if stopped, drained := counts.sinceStop(); !once && err == nil && !stopped.IsZero() {
		d.cfg.Logger.Info("dispatcher stopped: every outcome written",
			slog.Int("sent", drained[repo.StatusSent]), slog.Int("failed", drained[repo.StatusFailed]),
			slog.Int("back_in_queue", drained[repo.StatusPending]), slog.Duration("took", time.Since(stopped)))
	}
	return counts.counts, err
}

// tally is the Counts of a run, written by every committer.
type tally struct {
	mu     sync.Mutex
	counts Counts
	lost   int // outcomes given up on after the dispatcher was stopped
	// stopped is when the dispatcher was told to stop, and drained the
	// last outcome written since of each notice: the drain's summary
	// counts notices (one given back, claimed again and given back again
	// on a slow relay is one back in the queue, not two).
	stopped time.Time
	drained map[int64]string
}

func (t *tally) add(outs []repo.Outcome) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, o := range outs {
		t.counts[o.Status]++
		if t.drained != nil {
			t.drained[o.ID] = o.Status
		}
	}
}

// stop starts counting the drain; once: a second call keeps the first's.
func (t *tally) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.drained == nil {
		t.stopped, t.drained = time.Now(), map[int64]string{}
	}
}

// sinceStop is when the dispatcher was told to stop (zero if it was not)
// and the notices whose outcomes were written since, by their last status.
func (t *tally) sinceStop() (time.Time, Counts) {
	t.mu.Lock()
	defer t.mu.Unlock()
	drained := Counts{}
	for _, status := range t.drained {
		drained[status]++
	}
	return t.stopped, drained
}

// job is one claimed notice, the cap bookkeeping of its claim, when it was
// claimed on the lease clock, and its lease.
type job struct {
	claim   *repo.Claim
	gate    *capGate
	claimed time.Time
	lease   *lease
}

// produce claims batches until ctx ends (or, with once, until the queue is
// empty) and feeds them to the workers.
func (d *Dispatcher) produce(ctx context.Context, once bool, jobs chan<- job, results chan<- repo.Outcome,
	held *sync.WaitGroup, keeper *leaseKeeper) error {
	bg := context.WithoutCancel(ctx)
	drained := false // once: the last empty claim came after every outcome was written
	start := d.cfg.Now()
	for ctx.Err() == nil {
		now := d.cfg.Now()
		claims, leaseStart, err := d.claim(bg, now)
		switch {
		case err != nil && once:
			return err
		case err != nil && repo.IsUnavailable(err):
			d.cfg.Logger.Log(ctx, d.claimOutage.Level(), "dispatch paused: database unavailable; claiming again every interval",
				slog.String("error", err.Error()))
			d.idle(ctx, d.cfg.Interval)
			continue
		case err != nil:
			d.cfg.Logger.Error("dispatch claim failed", slog.String("error", err.Error()))
			d.idle(ctx, d.cfg.Interval)
			continue
		case d.claimOutage.Recovered():
			d.cfg.Logger.Info("dispatch resumed: database reachable again")
		}
		if len(claims) == 0 {
			if once {
				if drained {
					if wait := d.turnsAhead(start, now); wait > 0 {
						d.idle(ctx, min(wait, d.untilNextDue(bg, now)))
						continue
					}
					return nil
				}
				held.Wait() // retries and releases written; one more look
				drained = true
				continue
			}
			d.idle(ctx, d.untilNextDue(bg, now))
			continue
		}
		drained = false
		held.Add(len(claims))
		gate, leases := newCapGate(), keeper.hold(claims, leaseStart)
		if d.cfg.LeaseClock().Sub(leaseStart) >= d.cfg.Lease/3 {
			// The claim took a third of a lease (a database stall): its
			// leases run from the clock it started with, and an extension
			// that ran meanwhile could not see them yet. Once held, the
			// extension renews them in the keeper too.
			keeper.extendIfDue(true)
		}
		for i := range claims {
			select {
			case jobs <- job{claim: &claims[i], gate: gate, claimed: leaseStart, lease: leases[i]}:
			case <-ctx.Done():
				keeper.done(leases[i:]...) // at once: an extension may hold the keeper for a while
				for k := i; k < len(claims); k++ {
					d.writes.handed()
					results <- release(&claims[k])
				}
				return nil
			}
		}
	}
	return nil
}

// claim rescues expired leases when one is due, queues fallbacks, and
// claims the next batch as of now, leased for Lease from the lease clock as
// the claim starts, which it returns. It runs on a context that stopping
// does not cancel: a claim cut off after the database committed it would
// leave notices leased to nobody until their lease ran out. The rescue leaves this dispatcher's own
// notices alone: an outcome it has not written yet (the database was away
// longer than the lease) is written when the database is back, and a
// rescue would send it again.
func (d *Dispatcher) claim(ctx context.Context, now time.Time) ([]repo.Claim, time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if lnow := d.cfg.LeaseClock(); d.rescueDue(lnow) {
		n, err := d.cfg.Store.RescueExpired(ctx, lnow, d.cfg.Owner, d.providers())
		if err != nil {
			return nil, lnow, err
		}
		if n > 0 {
			d.cfg.Logger.Warn("expired leases rescued; their last try is logged with an unknown outcome",
				slog.Int("count", n))
		}
	}
	if err := d.queueFallbacks(ctx, now); err != nil {
		return nil, d.cfg.LeaseClock(), err
	}
	// The leases run from here, not from before the rescue and the
	// fallbacks: a rescue that waited 30 s on another replica's locks (an
	// audit) left a claim whose 30 s leases ran out as it committed, and
	// another replica rescued them at once. Leases run on the lease clock
	// whatever instant a run is pinned to (--at, before or after the wall
	// clock): a serving replica rescues a killed pinned run's notices a
	// lease after it stopped, never sooner, nor days later.
	lnow := d.cfg.LeaseClock()
	claims, err := d.cfg.Store.ClaimNotifications(ctx, d.cfg.Owner, now, lnow, d.cfg.Lease, d.cfg.Batch, d.cfg.SMSPerCustomerPerDay)
	return claims, lnow, err
}

// rescueDue says whether a rescue of expired leases is due as of now: on the
// first claim, then every quarter lease of the lease clock.
func (d *Dispatcher) rescueDue(now time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.lastRescue.IsZero() && now.Sub(d.lastRescue) < d.cfg.Lease/4 && !now.Before(d.lastRescue) {
		return false
	}
	d.lastRescue = now
	return true
}

// untilNextDue is how long an idle dispatcher waits: until the earliest
// pending notice falls due, at most Interval.
func (d *Dispatcher) untilNextDue(ctx context.Context, now time.Time) time.Duration {
	next, ok, err := d.cfg.Store.NextDue(ctx)
	if err != nil || !ok {
		return d.cfg.Interval
	}
	return min(max(next.Sub(now), 10*time.Millisecond), d.cfg.Interval)
}

// idle waits wait, or until ctx ends or Wake is called.
func (d *Dispatcher) idle(ctx context.Context, wait time.Duration) {
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	case <-d.wake:
	}
}

// Lease is how long a claim holds a notice (the config's, or DefaultLease).
func (d *Dispatcher) Lease() time.Duration { return d.cfg.Lease }

// Wake tells an idle dispatcher to claim now (a scan queued notices).
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// work handles one job: released untried when stopping, else decided and
// sent. A send starts on a lease extended within the last third of a lease
// (see leaseKeeper), or at least on one with a third left: when the leases
// could not be extended for longer (the database out of reach), or the
// lease ran out before an extension renewed it, the notice is released
// untried, since another replica may rescue and send it once the lease runs
// out. A notice whose lease was lost (to another worker, or to a later claim
// of this one) is dropped untried, with no outcome to write (false): it is
// the new claim's to decide. Every outcome names its claim (repo.Outcome
// Claim), so one written late never ends a later claim of the notice.
func (d *Dispatcher) work(ctx, sendCtx context.Context, j job, keeper *leaseKeeper) (repo.Outcome, bool) {
	if ctx.Err() == nil {
		keeper.extendIfDue(false)
	}
	switch keeper.take(j.lease) {
	case leaseLost:
		d.log(j.claim, slog.LevelDebug, "lease lost to another worker; notice dropped untried")
		return repo.Outcome{}, false
	case leaseLapsing:
		return release(j.claim), true
	}
	if ctx.Err() != nil {
		return release(j.claim), true
	}
	start := time.Now()
	out := d.handle(ctx, sendCtx, j)
	out.Claim = j.claim.Attempts // written late, it must not land on a later claim of the notice
	if out.Attempt == nil {
		out.Deferred = true // not tried: the claim's attempt is given back (see repo.Outcome)
	}
	storable(&out)
	if d.cfg.Observer != nil {
		d.cfg.Observer.Finished(j.claim.Kind, j.claim.Channel, out.Status, time.Since(start))
	}
	return out, true
}

// storable makes the text a provider put into an outcome (its message id,
// error code and message) storable: valid UTF-8 without NUL. A gateway's
// reply in GBK, or an id with a NUL in it, would otherwise fail the whole
// group's write, again and again, with every notice of the group held.
func storable(o *repo.Outcome) {
	clean := func(s *string) {
		if !utf8.ValidString(*s) || strings.IndexByte(*s, 0) >= 0 {
			*s = strings.ReplaceAll(strings.ToValidUTF8(*s, "\uFFFD"), "\x00", "\uFFFD")
		}
	}
	for _, s := range []*string{&o.Reason, &o.ProviderMsgID, &o.LastError} {
		clean(s)
	}
	if a := o.Attempt; a != nil {
		for _, s := range []*string{&a.ProviderMsgID, &a.Code, &a.Error} {
			clean(s)
		}
	}
}

// release gives a claimed notice back untried: pending at the time it had,
// its attempt returned, its reason kept; only while this claim holds it.
func release(c *repo.Claim) repo.Outcome {
	return repo.Outcome{ID: c.ID, Claim: c.Attempts, Status: repo.StatusPending, NextAttemptAt: c.NextAttemptAt,
		Deferred: true, Reason: c.StatusReason}
}

// complete writes outcomes as they arrive, in groups: it takes what is
// waiting (up to flushMax) and writes it in one transaction.
func (d *Dispatcher) complete(ctx context.Context, results <-chan repo.Outcome, counts *tally, held *sync.WaitGroup,
	keeper *leaseKeeper) {
	buf := make([]repo.Outcome, 0, flushMax)
	wait := time.NewTimer(0)
	defer wait.Stop()
	for o := range results {
		buf = append(buf[:0], o)
		wait.Reset(flushWait)
	gather:
		for len(buf) < flushMax {
			select {
			case o, ok := <-results:
				if !ok {
					break gather
				}
				buf = append(buf, o)
			case <-wait.C:
				break gather
			}
		}
		written := d.finish(ctx, buf)
		if !written {
			counts.mu.Lock()
			counts.lost += len(buf)
			counts.mu.Unlock()
		}
		counts.add(buf)
		d.writes.written(len(buf))
		if written && d.sendHold.Recovered() {
			d.cfg.Logger.Info("sends resumed: outcome writes go through again")
		}
		held.Add(-len(buf))
		keeper.extendIfDue(false)
		if slices.ContainsFunc(buf, func(o repo.Outcome) bool { return o.Status == repo.StatusPending }) {
			// A notice deferred or left to retry may fall due before the
			// wait the producer chose while it was still held (it looked
			// for pending notices and saw none): let it look again.
			d.Wake()
		}
	}
}

// giveUpAt is when the outcome writes of a stopping dispatcher give up: one
// lease after the first of them failed once it was stopping, for every
// group alike (groups are written one after another; a deadline each would
// add up).
func (d *Dispatcher) giveUpAt() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.giveUp.IsZero() {
		d.giveUp = time.Now().Add(d.cfg.Lease)
	}
	return d.giveUp
}

// gaveUp says whether a stopping dispatcher's outcome writes have given up
// (giveUpAt passed): what is left is not tried again, each try against a
// database still away costing its statement's deadline, which kept a
// stopped serve from exiting for minutes (a re-verification audit).
func (d *Dispatcher) gaveUp() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return !d.giveUp.IsZero() && time.Now().After(d.giveUp)
}

// finish writes one group of outcomes, retrying with backoff while the
// database is unreachable: for as long as the dispatcher runs (ctx), since
// an outcome given up on would leave its notice sending under a lease this
// live dispatcher keeps extending, and for one lease after it was told to
// stop. It reports whether the outcomes were written. An outcome written
// after its lease was lost to a rescue still logs its try.
func (d *Dispatcher) finish(ctx context.Context, outs []repo.Outcome) bool {
	wait := 50 * time.Millisecond
	for {
		if ctx.Err() != nil && d.gaveUp() { // not tried again: see gaveUp
			d.cfg.Logger.Error("outcome write failed for a lease after shutdown began; giving up, another worker "+
				"will rescue these notices", slog.Int("count", len(outs)))
			return false
		}
		wctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		err := d.cfg.Store.FinishNotifications(wctx, d.cfg.Owner, d.cfg.Now(), outs)
		cancel()
		if err == nil {
			if d.writeOutage.Recovered() {
				d.cfg.Logger.Info("outcome writes resumed: database reachable again")
			}
			return true
		}
		if repo.IsDataError(err) {
			return d.finishApart(ctx, outs, err)
		}
		if ctx.Err() != nil {
			d.giveUpAt() // the lease the writes get once stopping starts at their first failure
		}
		level := slog.LevelWarn
		if repo.IsUnavailable(err) {
			level = d.writeOutage.Level() // retried every 2 s at most
		}
		d.cfg.Logger.Log(context.Background(), level, "outcome write failed, retrying", slog.Int("count", len(outs)),
			slog.Duration("retry_in", wait), slog.String("error", err.Error()))
		time.Sleep(wait)
		wait = min(2*wait, 2*time.Second)
	}
}

// finishApart writes a group the database refused for what it holds, not
// for being away: retried whole, it would be refused forever and hold every
// notice of the group (and, with both committers stuck, every later one).
// Each outcome is written on its own instead; one refused alone is written
// bare (its status, times and try, without the rendered message and the
// provider's text), then without its try (the notice may have been deleted
// by hand while it was being sent, and its try can no longer be logged),
// and given up on only when even its status is refused.
func (d *Dispatcher) finishApart(ctx context.Context, outs []repo.Outcome, err error) bool {
	if len(outs) > 1 {
		written := true
		for i := range outs {
			written = d.finish(ctx, outs[i:i+1]) && written
		}
		return written
	}
	o := outs[0]
	for _, step := range []struct {
		strip func(*repo.Outcome)
		what  string
	}{{bare, "without its details"}, {untried, "without its try"}} {
		d.cfg.Logger.Error("outcome refused by the database for its data; writing it "+step.what,
			slog.Int64("notification_id", o.ID), slog.String("status", o.Status), slog.String("error", err.Error()))
		step.strip(&o)
		wctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		err = d.cfg.Store.FinishNotifications(wctx, d.cfg.Owner, d.cfg.Now(), []repo.Outcome{o})
		cancel()
		if err == nil || !repo.IsDataError(err) {
			return err == nil || d.finish(ctx, []repo.Outcome{o})
		}
	}
	d.cfg.Logger.Error("outcome refused by the database even without its details; the notice stays sending "+
		"until it is rescued", slog.Int64("notification_id", o.ID), slog.String("error", err.Error()))
	return false
}

// bare keeps of o what decides its notice's state: the rendered message
// and the provider's text go, and the reason says why.
func bare(o *repo.Outcome) {
	o.Template, o.Recipient, o.Subject, o.Body, o.BodyHTML, o.Link = "", "", "", "", "", ""
	o.ProviderMsgID, o.LastError = "", ""
	o.Reason = "the outcome's details were refused by the database and not kept"
	if a := o.Attempt; a != nil {
		stripped := *a
		stripped.ProviderMsgID, stripped.Code, stripped.Error = "", "", ""
		o.Attempt = &stripped
	}
}

// untried drops o's try as well.
func untried(o *repo.Outcome) { o.Attempt = nil }
