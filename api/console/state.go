package console

import (
	"strings"
	"time"

	"duebell/repo"
)

// noticeState says in words what was tried for a notice, what happens next
// and when, so the page never shows a count of tries next to "no attempts":
// a try that failed before reaching a provider (a template that would not
// render, a missing contact) is counted in attempts but has no
// delivery_attempts row.
type noticeState struct {
	Tried      string
	Next       string
	NoAttempts string // shown where the attempt list would be
}

func describeNotice(n repo.NoticeDetail, now time.Time, lang string, loc *time.Location) noticeState {
	at := func(t time.Time) string { return t.In(loc).Format("2006-01-02 15:04:05") }
	reached := len(n.DeliveryAttempts)
	before := max(n.Attempts-reached, 0)
	var s noticeState
	var tried []string
	if reached == 1 {
		tried = append(tried, tr(lang, "1 attempt reached the provider (listed below)."))
	} else if reached > 1 {
		tried = append(tried, trf(lang, "%d attempts reached the provider (listed below).", reached))
	}
	if before > 0 {
		msg := tr(lang, "1 try stopped before reaching a provider.")
		if before > 1 {
			msg = trf(lang, "%d tries stopped before reaching a provider.", before)
		}
		if n.LastError != "" {
			msg += " " + trf(lang, "Last error: %s", n.LastError)
		}
		tried = append(tried, msg)
	}
	if len(tried) == 0 {
		tried = append(tried, tr(lang, "Nothing tried yet."))
	}
	s.Tried = strings.Join(tried, " ")
	s.NoAttempts = tr(lang, "No attempts yet.")
	if before > 0 {
		s.NoAttempts = tr(lang, "No try reached a provider, so there is no delivery attempt to list; see “Where it stands” above.")
	}

	giveUp := tr(lang, "Nothing more is tried automatically; resend it if the customer still needs it.")
	switch n.Status {
	case repo.StatusPending:
		if n.NextAttemptAt.After(now) {
			why := tr(lang, "the send window or the retry back-off")
			if n.Attempts == 0 && n.NextAttemptAt.Equal(n.NotBefore) {
				why = tr(lang, "the customer's send window")
			} else if n.Attempts > 0 {
				why = tr(lang, "the retry back-off")
			}
			s.Next = trf(lang, "Waits until %s (%s), then the dispatcher sends it.", at(n.NextAttemptAt), why)
		} else {
			s.Next = trf(lang, "Due since %s: the dispatcher sends it on its next pass.", at(n.NextAttemptAt))
		}
	case repo.StatusSending:
		if n.LeaseExpiresAt != nil {
			s.Next = trf(lang, "A dispatcher is sending it now. If it does not finish by %s, another one takes it over.", at(*n.LeaseExpiresAt))
		} else {
			s.Next = tr(lang, "A dispatcher is sending it now.")
		}
	case repo.StatusSent:
		if n.Channel == "sms" {
			s.Next = tr(lang, "Handed to the SMS provider; waiting for the carrier's delivery receipt.")
		} else {
			s.Next = tr(lang, "Handed to the mail server. Email has no delivery receipt: this is final.")
		}
	case repo.StatusDelivered:
		s.Next = tr(lang, "Delivered to the phone. Nothing more to do.")
	case repo.StatusUndelivered:
		s.Next = tr(lang, "The carrier reported it undelivered.") + " " + giveUp
	case repo.StatusFailed:
		s.Next = tr(lang, "Gave up.") + " " + giveUp
	case repo.StatusSuppressed:
		s.Next = trf(lang, "Not sent on purpose (%s). Nothing more is tried.", n.StatusReason)
	case repo.StatusSkipped:
		s.Next = trf(lang, "Not sent: superseded (%s).", n.StatusReason)
	}
	return s
}
