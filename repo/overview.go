package repo

import (
	"context"
	"fmt"
	"time"
)

// DayCount is one day's notices on one channel for the console overview.
type DayCount struct {
	Day         Date   `db:"day"`
	Channel     string `db:"channel"`
	Sent        int64  `db:"sent"`        // went out to the provider that day (sent_at)
	Failed      int64  `db:"failed"`      // gave up that day (status failed, by updated_at)
	Undelivered int64  `db:"undelivered"` // the carrier reported undelivered that day
}

// Overview is the console's first page: activity by day and the queue.
type Overview struct {
	Days  []DayCount
	Queue []StatusCount // pending and sending, by channel
	// DuePending counts pending notices whose time has come (next_attempt_at
	// ≤ now); OldestDue is the one waiting longest, nil when none.
	DuePending int64
	OldestDue  *OldestPending
}

// OldestPending is the pending notice that has waited longest past its time.
type OldestPending struct {
	ID            int64     `db:"id"`
	Kind          string    `db:"kind"`
	Channel       string    `db:"channel"`
	CreatedAt     time.Time `db:"created_at"`
	NextAttemptAt time.Time `db:"next_attempt_at"`
}

// overviewDaysSQL counts sends by the day they went out and failures and
// undelivered notices by the day they reached that status, in zone $3,
// between $1 and $2.
const overviewDaysSQL = `
SELECT day, channel, sum(sent) AS sent, sum(failed) AS failed, sum(undelivered) AS undelivered FROM (
	SELECT (sent_at AT TIME ZONE $3)::date AS day, channel, count(*) AS sent, 0 AS failed, 0 AS undelivered
	FROM notifications WHERE sent_at >= $1 AND sent_at < $2 GROUP BY 1, 2
	UNION ALL
	SELECT (updated_at AT TIME ZONE $3)::date, channel, 0, count(*) FILTER (WHERE status = 'failed'),
		count(*) FILTER (WHERE status = 'undelivered')
	FROM notifications WHERE status IN ('failed', 'undelivered') AND updated_at >= $1 AND updated_at < $2 GROUP BY 1, 2
) x GROUP BY day, channel ORDER BY day, channel`

// GetOverview counts the notices of the days from since (inclusive) to
// until (exclusive), as calendar days in loc, and reads the queue as of now.
func (r *Repo) GetOverview(ctx context.Context, since, until, now time.Time, loc *time.Location) (Overview, error) {
	o := Overview{Days: []DayCount{}}
	if err := r.db.SelectContext(ctx, &o.Days, overviewDaysSQL, since, until, loc.String()); err != nil {
		return o, fmt.Errorf("overview: days: %w", err)
	}
	q, err := r.QueueDepth(ctx)
	if err != nil {
		return o, err
	}
	o.Queue = q
	if err := r.db.GetContext(ctx, &o.DuePending, `SELECT count(*) FROM notifications
		WHERE status = 'pending' AND next_attempt_at <= $1`, now); err != nil {
		return o, fmt.Errorf("overview: due: %w", err)
	}
	if o.DuePending > 0 {
		var p OldestPending
		if err := r.db.GetContext(ctx, &p, `SELECT id, kind, channel, created_at, next_attempt_at FROM notifications
			WHERE status = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT 1`, now); err != nil {
			return o, fmt.Errorf("overview: oldest: %w", err)
		}
		o.OldestDue = &p
	}
	return o, nil
}
