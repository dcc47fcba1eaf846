package notify

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"time"

	"duebell/link"
	"duebell/mask"
	"duebell/repo"
	"duebell/scheduler"
)

// handle decides one claimed notice: give up, suppress, defer to the send
// window, or render and send it. ctx ends when the dispatcher stops (waits
// for a rate-limit token give up then); the send itself runs on sendCtx,
// which ends only when the shutdown grace is over.
func (d *Dispatcher) handle(ctx, sendCtx context.Context, j job) repo.Outcome {
	c, gate := j.claim, j.gate
	now := d.cfg.Now()
	out := repo.Outcome{ID: c.ID}
	if c.Attempts > d.cfg.MaxAttempts {
		// Rescued from crashed workers more often than we would retry.
		out.Status, out.Reason = repo.StatusFailed, "gave up: attempts exhausted"
		return out
	}
	loc := d.location(c.Customer.Timezone)
	dg, rechecked, stop := d.recheck(ctx, now, loc, c)
	if stop {
		return rechecked
	}
	out.Release, out.Settled = rechecked.Release, rechecked.Settled // whatever becomes of the digest, those bills left it
	if !d.nextBill(ctx, c) {
		return postponed(c, now.Add(capRecheck), "waiting: the plan's next bill could not be read")
	}
	told(c, &out)
	if next, why := d.opening(c, now, loc); !next.Equal(now) {
		out.Status, out.NextAttemptAt, out.Deferred = repo.StatusPending, next, true
		out.Reason = windowReason(why)
		return out
	}

	msg, lnk, err := d.render(c, dg, now, loc)
	if err != nil {
		out.Status, out.Reason, out.LastError = repo.StatusFailed, "render failed", err.Error()
		var foreign *link.ForeignURLError
		if errors.As(err, &foreign) {
			out.Reason = "link outside allowed domains"
			if foreign.NoneAllowed {
				out.Reason = "a link in a message that may carry none"
			}
		}
		d.log(c, slog.LevelError, "render failed", slog.String("error", err.Error()))
		return out
	}
	out.Template = msg.Template + "." + c.Channel + "." + c.Locale
	out.Recipient, out.Subject, out.Body, out.BodyHTML, out.Link = msg.To, msg.Subject, msg.Text, msg.HTML, lnk

	sender := d.cfg.Senders[c.Channel]
	if sender == nil {
		out.Status, out.Reason = repo.StatusFailed, "no provider configured for "+c.Channel
		return out
	}
	if f, ok := senderAs[FiledSender](sender); ok {
		if filed, ok := f.Filed(msg); ok {
			out.Body = filed // what the provider sends, not duebell's rendering
		}
	}
	held, probe, ok := d.circuitHold(now, c, sender.Provider())
	if ok {
		return held
	}
	if held, ok := d.contactHold(now, loc, c, gate); ok {
		if probe {
			d.probeEnded(sender.Provider())
		}
		return held
	}
	if held, ok := d.hold(ctx, now, loc, c); ok {
		if probe {
			d.probeEnded(sender.Provider())
		}
		return held
	}
	if reason := d.recheckAfterWait(ctx, j, now); reason != "" {
		if probe {
			d.probeEnded(sender.Provider())
		}
		out.Status, out.Reason = repo.StatusSuppressed, reason
		d.log(c, slog.LevelInfo, "notice suppressed", slog.String("reason", reason))
		return out
	}
	if !d.writesFlowing(ctx, j) {
		if probe {
			d.probeEnded(sender.Provider())
		}
		return release(c)
	}
	// The try's times, its sent_at and its backoff run from when it was
	// made: the rate limit may have held it since handle began.
	started := d.cfg.Now()
	t0 := time.Now()
	// A sender that must wait to start (for a free SMTP session) gives up
	// when the window closes rather than send after it, when the
	// dispatcher is told to stop, or after BusyWait.
	closes := d.window(c.Kind).Closes(started, loc)
	startBy, busy := t0.Add(closes.Sub(started)), t0.Add(d.cfg.BusyWait)
	waitUntil := startBy
	if busy.Before(startBy) {
		waitUntil = busy
	}
	res, err := sender.Send(WithStartStop(WithStartBy(sendCtx, waitUntil), ctx.Done()), msg)
	if errors.Is(err, ErrNotStarted) {
		if probe {
			d.probeEnded(sender.Provider())
		}
		if ctx.Err() != nil { // stopping: given back untried, as the notices not yet started are
			return release(c)
		}
		if busy.Before(startBy) {
			return d.providerBusy(c, sender.Provider())
		}
		next, why := d.opening(c, closes, loc)
		d.log(c, slog.LevelInfo, "send window closed before the send could start, deferred",
			slog.String("provider", sender.Provider()), slog.Time("next", next))
		held, _ := postpone(c, next, windowReason(why))
		return held
	}
	finished := started.Add(time.Since(t0))
	att := &repo.Attempt{N: c.Attempts, Channel: c.Channel, Provider: sender.Provider(), StartedAt: started,
		FinishedAt: finished, ProviderMsgID: res.ProviderMsgID, Code: res.Code}
	out.Attempt, out.Provider = att, sender.Provider()
	if class := ErrorClass(err); probe && err != nil && class != ClassAccount && class != ClassTransient {
		d.probeEnded(sender.Provider()) // an account refusal or a transient failure keeps the circuit open
	}
	switch {
	case err == nil:
		d.sendSucceeded(now, sender.Provider())
		att.Outcome = repo.OutcomeSent
		out.Status, out.ProviderMsgID, out.SentAt = repo.StatusSent, res.ProviderMsgID, &finished
		d.log(c, slog.LevelInfo, "notice sent", slog.String("provider", att.Provider),
			slog.String("to", mask.Contact(msg.To)))
	case sendCtx.Err() != nil:
		// Cut off at the end of the shutdown grace: the provider may have
		// taken it. Logged as a try, and tried again after a restart.
		att.Outcome, att.Error = repo.OutcomeUnknown, "cut off at shutdown: "+err.Error()
		out.Status, out.Reason, out.LastError = repo.StatusPending, "send cut off at shutdown; outcome unknown", err.Error()
		out.NextAttemptAt = now
		d.log(c, slog.LevelWarn, "send cut off at shutdown, outcome unknown", slog.String("provider", att.Provider))
	case d.classified(now, loc, c, sender, att, err, &out):
	case IsPermanent(err):
		d.providerAnswered(att.Provider)
		att.Outcome, att.Code, att.Error = repo.OutcomePermanent, ErrorCode(err), err.Error()
		out.Status, out.Reason, out.LastError = repo.StatusFailed, "permanent provider error", err.Error()
		d.log(c, slog.LevelWarn, "send failed permanently", slog.String("provider", att.Provider),
			slog.String("code", att.Code), slog.String("error", err.Error()))
	default:
		att.Outcome, att.Code, att.Error = repo.OutcomeTransient, ErrorCode(err), err.Error()
		said, retrying := "send failed, transient", "retrying after transient error"
		if IsUnanswered(err) { // the provider had the whole message: it may have taken it
			att.Outcome = repo.OutcomeUnknown
			said, retrying = "send unanswered, outcome unknown", "retrying: the last try got no answer; the provider may have taken it"
		}
		out.LastError = err.Error()
		if c.Attempts >= d.cfg.MaxAttempts {
			out.Status, out.Reason = repo.StatusFailed, "gave up: attempts exhausted"
		} else {
			out.Status, out.Reason = repo.StatusPending, retrying
			out.NextAttemptAt = d.cfg.Now().Add(d.backoff(c.Attempts)) // from the try's end, not its pickup
		}
		level := slog.LevelWarn
		if d.transientFailed(now, c.Channel, att.Provider, probe, err) {
			level = slog.LevelDebug // the circuit's ERROR says it
		}
		d.log(c, level, said, slog.String("provider", att.Provider),
			slog.String("code", att.Code), slog.String("error", err.Error()), slog.String("next", out.Status))
	}
	return out
}

// windowReason is the reason a notice waits for the opening NextAllowed
// gave, by why it gave it.
func windowReason(why string) string {
	if why == scheduler.QuietHoliday || why == scheduler.QuietWeekend {
		return "quiet on " + why + ": waiting for the next allowed day's window"
	}
	return "waiting for send window"
}

// freshFor is how long a claim's data is trusted: a notice that waited
// longer between its claim and its send (behind a rate limit, a slow
// provider, a long batch) is re-checked against the data as it is now, so a
// bill paid or a channel opted out meanwhile gets no message.
const freshFor = 2 * time.Second

// recheckAfterWait re-reads j's notice when it waited freshFor or more on
// the lease clock since its claim, and says why it may no longer go out.
// A notice that cannot be re-read goes out as checked at its claim; one
// that is gone does not go out.
func (d *Dispatcher) recheckAfterWait(ctx context.Context, j job, now time.Time) string {
	if d.cfg.LeaseClock().Sub(j.claimed) < freshFor {
		return ""
	}
	if _, ok := digestLeader(j.claim); ok {
		return "" // a digest's bills were read by recheck; its own bill may be settled while the others are not
	}
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	fresh, err := d.cfg.Store.ReloadClaim(qctx, j.claim.ID)
	if errors.Is(err, repo.ErrNotFound) {
		// Deleted by hand while it waited: nothing is left to record its
		// send, and the next scan would queue its stage again.
		return "the notice was deleted while it waited to be sent"
	}
	if err != nil {
		level := slog.LevelWarn
		if repo.IsUnavailable(err) {
			level = d.recheckOutage.Level()
		}
		d.log(j.claim, level, "re-check before sending failed; sending as checked at the claim",
			slog.String("error", err.Error()))
		return ""
	}
	d.recheckOutage.Recovered()
	return suppressReason(&fresh, now)
}

// ConfirmWithin is how long after a payment its confirmation may still go
// out (see suppressReason).
const ConfirmWithin = 72 * time.Hour

var staleConfirmation = fmt.Sprintf("payment older than %d days", int(ConfirmWithin.Hours()/24))

// suppressReason re-checks, just before sending, that the notice is still
// wanted: a reminder for a settled installment or an inactive plan is not,
// nor anything on a channel the customer opted out of or has no address for.
// A forced resend skips the plan check (an operator chose to send it on a
// cancelled or closed plan) but never the paid/waived check (it would ask
// for nothing owed: Resend refuses it, and a bill paid after it was queued
// suppresses it here), nor the opt-out or address checks. An
// autodebit_failed notice asks for payment of its installment like a
// reminder, so it is checked the same way; other channel-event notices
// (plan_cancelled, service_closed, card_*) tell of a change and go out
// whatever the plan's state. A payment
// confirmation is not wanted once a reversal made its bill due again (the
// payment it confirms was charged back; paying again queues a new one), nor
// more than ConfirmWithin after the payment (a book imported with its
// history, a payment reported late, days of downtime: news that old
// confuses more than it reassures).
func suppressReason(c *repo.Claim, now time.Time) string {
	if facts(c.Kind).ConfirmsPayment && !c.Forced {
		switch i := c.Installment; {
		case i.Status == repo.InstallmentPending:
			return "payment reversed"
		case i.PaidAt != nil && now.Sub(*i.PaidAt) > ConfirmWithin:
			return staleConfirmation
		}
	}
	if facts(c.Kind).AsksPayment {
		switch {
		case c.Installment.Status == repo.InstallmentPaid || c.Installment.Paid >= c.Installment.Amount && c.Installment.ID != 0:
			return "installment paid"
		case c.Installment.Status == repo.InstallmentWaived:
			return "installment waived"
		case (c.Plan.Status == repo.PlanCancelled || c.Plan.Status == repo.PlanClosed) && !c.Forced:
			return "plan " + c.Plan.Status
		}
	}
	switch {
	case c.Channel == ChannelSMS && c.Customer.SMSOptOut, c.Channel == ChannelEmail && c.Customer.EmailOptOut:
		return "opted_out"
	case c.Channel == ChannelSMS && c.Customer.Phone == "":
		return "no_phone"
	case c.Channel == ChannelEmail && c.Customer.Email == "":
		return "no_email"
	}
	return ""
}

// staleStage says why a reminder may no longer go out, or "": its bill has
// moved past the notice's stage on the customer's local date — a due_soon
// on or after the due date, a due_today the day after, an earlier stage
// once a later stage of the policy applies — or the policy no longer has
// the stage. The due-date scan supersedes such notices when it queues the
// later stage, but after downtime the dispatcher claims before the first
// scan has run, a notice can wait days for a contact limit, and a resend
// copies an old notice's stage; sent, they would tell the borrower what is
// no longer true ("due in -2 days"). The next scan queues the current stage.
func (d *Dispatcher) staleStage(c *repo.Claim, now time.Time, loc *time.Location) string {
	k := facts(c.Kind)
	if !k.Reminder || c.Installment.ID == 0 || c.Forced { // a forced resend is an operator's choice, as in suppressReason
		return ""
	}
	local := now.In(loc)
	past := int(repo.NewDate(local.Year(), local.Month(), local.Day()).Sub(c.Installment.DueDate.Time).Hours() / 24)
	// A resend has no stage offset of its own (later scans must not
	// supersede it): its stage's offset is the policy's.
	offset := c.StageOffset
	var current *repo.Stage // the policy's latest stage that applies today
	known := d.cfg.Stages == nil
	for i, s := range d.cfg.Stages {
		if s.Name == c.Stage {
			known = true
			if offset == nil {
				offset = &d.cfg.Stages[i].OffsetDays
			}
		}
		if s.OffsetDays <= past && (current == nil || s.OffsetDays > current.OffsetDays) {
			current = &d.cfg.Stages[i]
		}
	}
	switch {
	case current != nil && offset != nil && current.OffsetDays > *offset:
		return "superseded by " + current.Name
	case cmp.Compare(past, 0) != k.DueSide:
		return "out of date: the bill's due date is " + c.Installment.DueDate.String()
	case !known:
		return "stage no longer in the policy"
	}
	return ""
}

// earlyStage reports whether reminder c, queued by a scan for its stage,
// is early because its bill's due date has moved later since: today, on
// the customer's local date, comes before the stage's day (due date +
// offset). It then returns the next local midnight, when the re-check looks
// again (the date may move again), and the reason the notice waits. A
// resend (no stage offset of its own), a forced notice and a stage no
// longer in the policy are left to staleStage.
func (d *Dispatcher) earlyStage(c *repo.Claim, now time.Time, loc *time.Location) (time.Time, string) {
	if !facts(c.Kind).Reminder || c.Installment.ID == 0 || c.Forced || c.StageOffset == nil {
		return time.Time{}, ""
	}
	if d.cfg.Stages != nil && !slices.ContainsFunc(d.cfg.Stages, func(s repo.Stage) bool { return s.Name == c.Stage }) {
		return time.Time{}, ""
	}
	local := now.In(loc)
	today := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc)
	due := c.Installment.DueDate.Time
	start := time.Date(due.Year(), due.Month(), due.Day()+*c.StageOffset, 0, 0, 0, 0, loc)
	if !today.Before(start) {
		return time.Time{}, ""
	}
	return today.AddDate(0, 0, 1), fmt.Sprintf("waiting: the bill's due date moved to %s; %s starts on %s",
		c.Installment.DueDate.String(), c.Stage, start.Format(time.DateOnly))
}

// backoff is the wait before retry n+1: base·2^(n-1), capped, with ±20% jitter.
func (d *Dispatcher) backoff(n int) time.Duration {
	exp := float64(d.cfg.BackoffBase) * math.Pow(2, float64(n-1))
	wait := time.Duration(math.Min(exp, float64(d.cfg.BackoffMax)))
	return time.Duration(float64(wait) * (0.8 + 0.4*d.cfg.Jitter()))
}

// location is the customer's zone, or the default one when tz is unknown.
// Zones are read from the zone database once each and kept: customers share
// a handful of zones, and loading one costs a file read and a parse.
func (d *Dispatcher) location(tz string) *time.Location {
	if loc, ok := d.zones.Load(tz); ok {
		return loc.(*time.Location)
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		if loc, err = time.LoadLocation(d.cfg.DefaultTimezone); err != nil {
			loc = time.UTC
		}
	}
	d.zones.Store(tz, loc)
	return loc
}

func (d *Dispatcher) log(c *repo.Claim, level slog.Level, msg string, attrs ...slog.Attr) {
	attrs = append([]slog.Attr{slog.Int64("notification_id", c.ID), slog.String("kind", c.Kind),
		slog.String("channel", c.Channel), slog.Int("attempt", c.Attempts)}, attrs...)
	d.cfg.Logger.LogAttrs(context.Background(), level, msg, attrs...)
}

// nextBill moves a notice that tells of its plan's next bill (a card
// unbound, the service closed: the bill the event scan found next) to the
// bill next now, when the one it named has been paid or waived since: an
// unbind at night goes out at the window's opening, often after the
// borrower paid that bill by hand, and told them to pay "¥0.00" on it.
// With nothing left to pay it names no bill, as the scan would have. The
// outcome records the bill it told of (told). False when the bills could
// not be read: the notice waits.
func (d *Dispatcher) nextBill(ctx context.Context, c *repo.Claim) bool {
	ev := facts(c.Kind).Event
	if ev == nil || !ev.Installment || ev.NeedsInstallment || c.Installment.ID == 0 || owesBill(c.Installment) {
		return true
	}
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	next, err := d.cfg.Store.NextBill(qctx, c.Plan.ID)
	if err != nil {
		d.log(c, slog.LevelWarn, "next bill unavailable, deferred", slog.String("error", err.Error()))
		return false
	}
	c.Installment = next
	return true
}
