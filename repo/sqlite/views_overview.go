package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"duebell/repo"
)

// viewsOverviewDaysSQL counts sends by the day they went out and failures
// and undelivered notices by the day they reached that status, between $1
// and $2. SQLite has no zone database: $3 lists the calendar days of the
// period in the report's zone as a JSON array of {d: YYYY-MM-DD, s, e}, each
// day the instants [s, e) in Unix microseconds, computed in Go. The days
// are the outer loop (CROSS JOIN keeps that order), so each is a range read
// of the sent_at or (status, updated_at) index.
const viewsOverviewDaysSQL = `
WITH d AS MATERIALIZED (
	SELECT value ->> 'd' AS day, value ->> 's' AS s, value ->> 'e' AS e FROM json_each($3)
)
SELECT day, channel, sum(sent) AS sent, sum(failed) AS failed, sum(undelivered) AS undelivered FROM (
	SELECT d.day, n.channel, count(*) AS sent, 0 AS failed, 0 AS undelivered
	FROM d CROSS JOIN notifications n
	WHERE n.sent_at >= d.s AND n.sent_at < d.e AND n.sent_at >= $1 AND n.sent_at < $2
	GROUP BY d.day, n.channel
	UNION ALL
	SELECT d.day, n.channel, 0, count(*) FILTER (WHERE n.status = 'failed'),
		count(*) FILTER (WHERE n.status = 'undelivered')
	FROM d CROSS JOIN notifications n
	WHERE n.status IN ('failed', 'undelivered') AND n.updated_at >= d.s AND n.updated_at < d.e
	  AND n.updated_at >= $1 AND n.updated_at < $2
	GROUP BY d.day, n.channel
) x GROUP BY day, channel ORDER BY day, channel`

// viewsDay is one calendar day of an overview in its zone.
type viewsDay struct {
	Day   string `json:"d"`
	Start int64  `json:"s"` // Unix µs of the day's first instant
	End   int64  `json:"e"` // Unix µs of the next day's first instant
}

// viewsDays lists the calendar days in loc that [since, until) touches.
func viewsDays(since, until time.Time, loc *time.Location) []viewsDay {
	out := []viewsDay{}
	if !since.Before(until) {
		return out
	}
	first, last := since.In(loc), until.Add(-time.Microsecond).In(loc)
	day := time.Date(first.Year(), first.Month(), first.Day(), 0, 0, 0, 0, time.UTC)
	end := time.Date(last.Year(), last.Month(), last.Day(), 0, 0, 0, 0, time.UTC)
	for ; !day.After(end); day = day.AddDate(0, 0, 1) {
		next := day.AddDate(0, 0, 1)
		out = append(out, viewsDay{Day: day.Format(repo.DateLayout),
			Start: viewsDayStart(day, loc).UnixMicro(), End: viewsDayStart(next, loc).UnixMicro()})
	}
	return out
}

// viewsDayStart is the first instant of the calendar day day (a UTC
// midnight) in loc. Where a zone skips midnight (a DST change at 00:00)
// time.Date may land inside the day, so it steps back while the instant
// before is still that day.
func viewsDayStart(day time.Time, loc *time.Location) time.Time {
	t := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, loc)
	for {
		prev := t.Add(-15 * time.Minute).In(loc)
		if prev.Year() != day.Year() || prev.Month() != day.Month() || prev.Day() != day.Day() {
			return t
		}
		t = prev
	}
}

// GetOverview counts the notices of the days from since (inclusive) to
// until (exclusive), as calendar days in loc, and reads the queue as of now.
func (s *Store) GetOverview(ctx context.Context, since, until, now time.Time, loc *time.Location) (repo.Overview, error) {
	o := repo.Overview{Days: []repo.DayCount{}}
	days, err := json.Marshal(viewsDays(since, until, loc))
	if err != nil {
		return o, fmt.Errorf("overview: days: %w", err)
	}
	if err := s.db.SelectContext(ctx, &o.Days, viewsOverviewDaysSQL, since, until, string(days)); err != nil {
		return o, fmt.Errorf("overview: days: %w", err)
	}
	q, err := s.QueueDepth(ctx)
	if err != nil {
		return o, err
	}
	o.Queue = q
	if err := s.db.GetContext(ctx, &o.DuePending, `SELECT count(*) FROM notifications
		WHERE status = 'pending' AND next_attempt_at <= $1`, now); err != nil {
		return o, fmt.Errorf("overview: due: %w", err)
	}
	if o.DuePending > 0 {
		var p repo.OldestPending
		if err := s.db.GetContext(ctx, &p, `SELECT id, kind, channel, created_at, next_attempt_at FROM notifications
			WHERE status = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT 1`, now); err != nil {
			return o, fmt.Errorf("overview: oldest: %w", err)
		}
		o.OldestDue = &p
	}
	return o, nil
}
