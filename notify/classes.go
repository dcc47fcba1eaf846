package notify

import (
	"context"
	"log/slog"
	"time"

	"duebell/repo"
)

// DailyLimiter is implemented by providers that say when the daily limit
// they refused a send for at refusedAt (with code) lifts: Tencent's days
// roll over at midnight Beijing time, Aliyun's per-number limit counts the
// last 24 hours. Other providers' days are taken to roll over at midnight
// in Config.DefaultTimezone.
type DailyLimiter interface {
	DailyLimitLifts(code string, refusedAt time.Time) time.Time
}

// unwrapper is a Sender wrapping another (metrics).
type unwrapper interface{ Unwrap() Sender }

// senderAs is s, or the sender it wraps (metrics), as a T.
func senderAs[T any](s Sender) (T, bool) {
	for s != nil {
		if t, ok := s.(T); ok {
			return t, true
		}
		u, ok := s.(unwrapper)
		if !ok {
			break
		}
		s = u.Unwrap()
	}
	var zero T
	return zero, false
}

// dailyLimitLifts is when sender's daily limit, met at now, lifts.
func (d *Dispatcher) dailyLimitLifts(s Sender, code string, now time.Time) time.Time {
	if l, ok := senderAs[DailyLimiter](s); ok {
		return l.DailyLimitLifts(code, now)
	}
	return NextMidnight(now, d.location(d.cfg.DefaultTimezone))
}

// NextMidnight is the first midnight in zone after t.
func NextMidnight(t time.Time, zone *time.Location) time.Time {
	t = t.In(zone)
	return time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, zone)
}

// optOutName is how a reason and a log line name a channel's opt-out.
var optOutName = map[string]string{ChannelSMS: "SMS", ChannelEmail: "email"}

// optOutStore records a provider's report that a customer cannot be
// reached on a channel (repo.Repo implements it).
type optOutStore interface {
	OptOut(ctx context.Context, in repo.OptOutInput) (bool, error)
}

// classified decides a notice whose send failed with one of the classes
// beyond retry-or-not, and reports whether it did:
//   - daily_limit: pending until the send window's first opening after the
//     provider's limit lifts (DailyLimiter); the attempt is given back;
//   - account: the provider's circuit opens; the notice waits for the probe
//     with its attempt given back, or fails over to its stage's fallback;
//   - unsubscribed: the customer's SMS opt-out is set (audited) and the
//     notice fails, so its stage's fallback, if any, stands in;
//   - no_mailbox: the customer's email opt-out is set while they keep the
//     refused address (audited), and the notice fails.
//
// The try is logged as an attempt in every case.
func (d *Dispatcher) classified(now time.Time, loc *time.Location, c *repo.Claim, sender Sender,
	att *repo.Attempt, err error, out *repo.Outcome) bool {
	class := ErrorClass(err)
	code := ErrorCode(err)
	provider := sender.Provider()
	switch class {
	case ClassDailyLimit:
		lifts := d.dailyLimitLifts(sender, code, now)
		att.Outcome, att.Code, att.Error = OutcomeFor(class), code, err.Error()
		out.Status, out.NextAttemptAt, out.Deferred, out.LastError = repo.StatusPending,
			d.window(c.Kind).Next(lifts, loc), true, err.Error()
		out.Reason = "daily limit at " + provider + " (" + code + "): waiting for it to lift"
		d.log(c, slog.LevelWarn, "daily limit reached, deferred until it lifts",
			slog.String("provider", provider), slog.String("code", code), slog.Time("next", out.NextAttemptAt))
	case ClassAccount:
		probeAt := d.openCircuit(now, c.Channel, provider, code, err)
		att.Outcome, att.Code, att.Error = OutcomeFor(class), code, err.Error()
		out.LastError = err.Error()
		if fb := d.cfg.Fallbacks[c.Stage]; fb != "" && c.Channel == ChannelSMS {
			out.Status, out.Reason = repo.StatusFailed, provider+" circuit open ("+code+"); "+fb+" fallback"
			return true
		}
		out.Status, out.NextAttemptAt, out.Deferred = repo.StatusPending, probeAt, true
		out.Reason = "waiting: " + provider + " circuit open (" + code + ")"
	case ClassUnsubscribed, ClassNoMailbox:
		att.Outcome, att.Code, att.Error = OutcomeFor(class), code, err.Error()
		reason := "unsubscribed at " + provider + " (" + code + ")"
		if class == ClassNoMailbox {
			reason = "no mailbox at this address (" + provider + " " + code + ")"
		}
		out.Status, out.LastError, out.Reason = repo.StatusFailed, err.Error(), reason
		if class == ClassUnsubscribed && c.Channel != ChannelSMS || class == ClassNoMailbox && c.Channel != ChannelEmail {
			return true
		}
		s, ok := d.cfg.Store.(optOutStore)
		if !ok {
			return true
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		changed, oerr := s.OptOut(ctx, repo.OptOutInput{Channel: c.Channel, CustomerID: c.Customer.ID, NotificationID: c.ID,
			Address: c.Customer.Email, Provider: provider, Code: code, Reason: reason, Now: now})
		switch {
		case oerr != nil:
			d.log(c, slog.LevelError, "could not set "+c.Channel+" opt-out", slog.String("error", oerr.Error()))
		case changed:
			out.Reason = reason + "; " + optOutName[c.Channel] + " opt-out set"
			d.log(c, slog.LevelWarn, "recipient refused at provider for good: "+optOutName[c.Channel]+" opt-out set",
				slog.String("provider", provider), slog.String("code", code), slog.String("class", string(class)))
		}
	default:
		return false
	}
	return true
}

// OutcomeFor is the delivery_attempts outcome of a failure of class c.
func OutcomeFor(c Class) string {
	if c.Permanent() {
		return repo.OutcomePermanent
	}
	return repo.OutcomeTransient
}
