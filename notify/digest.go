package notify

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"duebell/repo"
	"duebell/templates"
)

// digest is what a digest notice lists as it goes out: the bills of its
// group still unpaid at send time, by due date.
type digest struct {
	items []repo.DigestItem
}

// digestLeader returns the digest notice c sends for: itself when it leads
// a digest, the original when c is a resend or the email standing in for an
// SMS (either may lead one).
func digestLeader(c *repo.Claim) (int64, bool) {
	switch {
	case c.LeadsDigest():
		return c.ID, true
	case c.ResendOf != nil && facts(c.Kind).Reminder:
		return *c.ResendOf, true
	case c.FallbackOf != nil && facts(c.Kind).Reminder:
		return *c.FallbackOf, true
	}
	return 0, false
}

// recheck is the pre-send re-check (suppressReason, then staleStage) that
// knows digests: a digest lists the bills of its group that are still
// unpaid and on an active plan now and still at its stage (a digest's
// bills may have different due dates), and is suppressed (or skipped) only
// when none is; a digest left with one bill goes out as that bill's own
// notice. A forced resend lists every bill that still has something to
// pay, whatever its plan or stage; a paid or waived bill never. A message
// always goes out through the notice of a bill it asks to pay, so that
// its link and the log name that bill: a leader whose own bill dropped out
// hands the digest to the notice of the first bill left (see handOver); a
// resend or fallback is recorded as telling of that bill (see told). A
// database error defers the notice.
func (d *Dispatcher) recheck(ctx context.Context, now time.Time, loc *time.Location, c *repo.Claim) (*digest, repo.Outcome, bool) {
	out := repo.Outcome{ID: c.ID}
	end := func(status, reason string) (*digest, repo.Outcome, bool) { // the notice does not go out
		out.Status, out.Reason = status, reason
		d.log(c, slog.LevelInfo, "notice "+status, slog.String("reason", reason))
		return nil, out, true
	}
	leader, ok := digestLeader(c)
	var items []repo.DigestItem
	if ok {
		qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		var err error
		if items, err = d.cfg.Store.DigestItems(qctx, leader); err != nil {
			d.log(c, slog.LevelWarn, "digest bills unavailable, deferred", slog.String("error", err.Error()))
			return nil, postponed(c, now.Add(capRecheck), "waiting: digest bills could not be read"), true
		}
	}
	if len(items) > 1 { // a digest
		var live []repo.DigestItem
		stale := "" // why the bills still unpaid may not go out, when none may
		var ownNext time.Time
		ownWait := "" // why the leader's own bill waits (its due date moved later), as its own notice
		ownTold := "" // why the leader's own bill is not told again (a move undone)
		for _, it := range items {
			if !owes(it) || settled(it) && !c.Forced {
				if it.NotificationID != c.ID && !owes(it) && c.LeadsDigest() {
					out.Settled = append(out.Settled, it.NotificationID) // paid or waived: ends as alone
				}
				continue
			}
			if it.Told && c.ResendOf == nil {
				stale = alreadySent(it.Installment.DueDate)
				if it.NotificationID == c.ID {
					ownTold = stale
				}
				continue
			}
			probe := *c
			probe.Plan, probe.Installment = it.Plan, it.Installment
			// Before staleStage, as for a notice alone: a due_today or
			// overdue bill whose due date moved later has not passed its
			// stage ("out of date"), it has not reached it.
			if next, why := d.earlyStage(&probe, now, loc); why != "" && c.LeadsDigest() {
				// Its due date moved later: listed now, its own reminder on
				// its stage's day would never go out (the stage's dedup key).
				if it.NotificationID == c.ID {
					ownNext, ownWait = next, why
				} else {
					out.Release = append(out.Release, it.NotificationID)
				}
				continue
			}
			if why := d.staleStage(&probe, now, loc); why != "" {
				stale = why // a bill past the digest's stage: its own later stage tells of it
				continue
			}
			live = append(live, it)
		}
		if ownWait != "" { // the others go on without it, as after a handover
			wait := postponed(c, ownNext, ownWait)
			wait.Release, wait.Settled = out.Release, out.Settled
			for _, it := range live {
				wait.HandOver = append(wait.HandOver, it.NotificationID)
			}
			d.log(c, slog.LevelInfo, "notice deferred", slog.String("reason", ownWait))
			return nil, wait, true
		}
		switch {
		case len(live) == 0 && stale != "":
			return end(repo.StatusSkipped, stale)
		case len(live) == 0:
			return end(repo.StatusSuppressed, repo.ReasonDigestSettled)
		}
		// The channel checks apply to the digest as a whole (its bills are
		// unsettled), before a leader hands over: an SMS digest to a
		// customer who opted out is suppressed as such, and gets its fallback.
		probe := *c
		probe.Plan, probe.Installment = live[0].Plan, live[0].Installment
		if reason := suppressReason(&probe, now); reason != "" {
			return end(repo.StatusSuppressed, reason)
		}
		if !slices.ContainsFunc(live, func(it repo.DigestItem) bool { return it.Installment.ID == c.Installment.ID }) {
			if c.LeadsDigest() {
				ho := d.handOver(c, now, loc, live, ownTold)
				ho.Release, ho.Settled = out.Release, out.Settled
				return nil, ho, true
			}
			c.Plan, c.Installment = live[0].Plan, live[0].Installment
		}
		if len(live) > 1 {
			return &digest{items: live}, out, false
		}
		// One bill left: its own notice.
	} else if len(items) == 1 && items[0].Told && c.ResendOf == nil {
		return end(repo.StatusSkipped, alreadySent(items[0].Installment.DueDate))
	}
	if reason := suppressReason(c, now); reason != "" {
		return end(repo.StatusSuppressed, reason)
	}
	// A bill whose due date moved later waits for its stage's day: sent now,
	// it would say "due in 19 days", and its dedup key would keep the scan
	// from queueing the stage again when it comes.
	if next, reason := d.earlyStage(c, now, loc); reason != "" {
		d.log(c, slog.LevelInfo, "notice deferred", slog.String("reason", reason))
		return nil, postponed(c, next, reason), true
	}
	// After the settled check: a paid bill's notice says so first.
	if reason := d.staleStage(c, now, loc); reason != "" {
		return end(repo.StatusSkipped, reason)
	}
	return nil, out, false
}

// handOver ends leader c, whose own bill dropped out of its digest, as
// that bill's notice would end (suppressed: paid; skipped: past its stage),
// and hands the digest to the notice of live[0], the first bill still to
// be told: that notice goes out for the bills live lists, through its own
// row, so that its link and the log name a bill the message asks to pay.
func (d *Dispatcher) handOver(c *repo.Claim, now time.Time, loc *time.Location, live []repo.DigestItem, told string) repo.Outcome {
	out := repo.Outcome{ID: c.ID, Status: repo.StatusSuppressed, Reason: suppressReason(c, now)}
	if out.Reason == "" {
		out.Status, out.Reason = repo.StatusSkipped, cmp.Or(told, d.staleStage(c, now, loc))
	}
	if out.Reason == "" { // its bill reached a later stage, whose notice tells of it
		out.Reason = "superseded by a later stage"
	}
	for _, it := range live {
		out.HandOver = append(out.HandOver, it.NotificationID)
	}
	out.Reason += fmt.Sprintf("; the rest of the digest goes out as #%d", live[0].NotificationID)
	d.log(c, slog.LevelInfo, "notice "+out.Status, slog.String("reason", out.Reason))
	return out
}

// alreadySent is why a digest does not tell of a bill whose stage went for
// its due date before a move that has since been undone (DigestItem.Told),
// as the trigger of migration 053 says it of a notice alone.
// A resend tells again what support chose to, told or not.
func alreadySent(due repo.Date) string { return "already sent for " + due.String() }

// told records in out the bill c tells of when the re-check made it
// another than its notice's own (a resend or fallback of a digest whose
// first bill dropped out), so that the log and the link name that bill.
func told(c *repo.Claim, out *repo.Outcome) {
	if c.InstallmentID != nil && *c.InstallmentID != c.Installment.ID {
		out.PlanID, out.InstallmentID = c.Plan.ID, c.Installment.ID
	}
}

// postponed is postpone's outcome alone.
func postponed(c *repo.Claim, next time.Time, reason string) repo.Outcome {
	out, _ := postpone(c, next, reason)
	return out
}

// settled reports whether a digest's bill no longer asks for payment: paid,
// waived, or its plan is no longer active.
func settled(it repo.DigestItem) bool {
	return !owes(it) || it.Plan.Status != repo.PlanActive
}

// owes reports whether something is still to be paid on a digest's bill:
// neither paid nor waived. A forced resend tells of such bills only: a
// reminder never lists a bill at ¥0.00 as owed.
func owes(it repo.DigestItem) bool { return owesBill(it.Installment) }

// owesBill reports whether something is still to be paid on bill i.
func owesBill(i repo.Installment) bool {
	return i.Status != repo.InstallmentPaid && i.Status != repo.InstallmentWaived && i.Paid < i.Amount
}

// fill makes data a digest: the digest template of the kind, every bill
// with what is still due on it now, and the total; the first bill's due
// date leads. A merchant is named only when every bill is from it, and its
// bills then by their plans' titles ("优品手机第1期、优品手机第1期" told
// the borrower nothing).
func (dg *digest) fill(data *templates.Data, today time.Time) {
	if data.Template != data.Kind { // the stage names an escalation level: the digest speaks it
		data.Level = data.Template
	}
	data.Template = templates.Digest(data.Kind)
	data.Bills, data.Total = nil, 0
	for _, it := range dg.items {
		b := templates.Bill{Name: cmp.Or(it.Plan.Merchant, planTitle(it.Plan)), PlanTitle: planTitle(it.Plan), PlanRef: it.Plan.Ref, Seq: it.Installment.Seq,
			Periods: it.Plan.Periods, Amount: it.Installment.Amount - it.Installment.Paid, DueDate: it.Installment.DueDate.Time,
			DaysUntilDue: int(it.Installment.DueDate.Sub(today).Hours() / 24), AutoDebit: it.Plan.RepayMethod == templates.RepayAutoDebit}
		data.Bills = append(data.Bills, b)
		data.Total += b.Amount
		if it.Plan.Merchant != data.Merchant {
			data.Merchant = ""
		}
	}
	if data.Merchant != "" { // named once, as the sender: each bill by its plan
		for i := range data.Bills {
			data.Bills[i].Name = cmp.Or(data.Bills[i].PlanTitle, data.Bills[i].Name)
		}
	}
	first := data.Bills[0]
	data.DueDate, data.DaysUntilDue, data.Amount = first.DueDate, first.DaysUntilDue, data.Total
}
