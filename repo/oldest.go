package repo

import (
	"context"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// ChannelAge is how long the oldest notice of a channel has been due.
type ChannelAge struct {
	Channel string  `db:"channel"`
	Seconds float64 `db:"seconds"`
}

// OldestDue reports, for each of channels, how long the longest-waiting
// notice has been due but not sent as of now: a pending notice whose
// next_attempt_at has passed, or a sending one whose lease has expired
// (its worker is gone). 0 when none is. Notices deferred to a later time
// (send window, retry backoff, a provider's daily limit) are not due yet.
// Each channel reads the first row of the due and lease indexes.
func (r *Repo) OldestDue(ctx context.Context, now time.Time, channels []string) ([]ChannelAge, error) {
	var out []ChannelAge
	err := r.db.SelectContext(ctx, &out, `
SELECT c.channel,
       coalesce(extract(epoch FROM $1::timestamptz - least(p.due, s.due)), 0)::float8 AS seconds
  FROM unnest($2::text[]) AS c(channel)
  LEFT JOIN LATERAL (
        SELECT next_attempt_at AS due FROM notifications
         WHERE status = 'pending' AND channel = c.channel AND next_attempt_at <= $1
         ORDER BY next_attempt_at LIMIT 1) p ON true
  LEFT JOIN LATERAL (
        SELECT lease_expires_at AS due FROM notifications
         WHERE status = 'sending' AND channel = c.channel AND lease_expires_at <= $1
         ORDER BY lease_expires_at LIMIT 1) s ON true
 ORDER BY c.channel`, now, pq.Array(channels))
	if err != nil {
		return nil, fmt.Errorf("oldest due: %w", err)
	}
	return out, nil
}
