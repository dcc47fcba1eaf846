package repo

import "time"

// What both stores' dispatch methods decide the same way.

// NextAt is when a notice left pending by o may be claimed again; nil keeps
// the time it has (a zero NextAttemptAt).
func (o Outcome) NextAt() *time.Time {
	if o.NextAttemptAt.IsZero() {
		return nil
	}
	t := o.NextAttemptAt
	return &t
}

// SentIDs are the notices of outs recorded as sent: those whose receipts,
// stored while they were being sent, FinishNotifications applies.
func SentIDs(outs []Outcome) []int64 { return sentIDs(outs) }
