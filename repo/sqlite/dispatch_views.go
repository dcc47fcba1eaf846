package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"duebell/repo"
)

// dispatchCollectionCountsSQL reads, in one statement, the counts of every
// customer with a collection notice ($3: the kinds, a JSON array) that owner
// $1 holds: their collection notices sent since $4 (micros), with the tries
// since then whose outcome a crash left unknown (PostgreSQL's
// collectionCountsSQL says which), as a JSON array; the ones $1 holds (a
// JSON array), and the ones other owners hold on a live lease as of $2.
const dispatchCollectionCountsSQL = `
WITH held AS (
	SELECT id, customer_id FROM notifications
	WHERE status = 'sending' AND lease_owner = $1 AND kind IN (SELECT value FROM json_each($3))
)
SELECT h.customer_id,
	(SELECT json_group_array(at ORDER BY at) FROM (
		SELECT x.sent_at AS at FROM notifications x
		WHERE x.customer_id = h.customer_id AND x.sent_at > $4 AND x.kind IN (SELECT value FROM json_each($3))
		UNION ALL
		SELECT a.started_at FROM notifications x JOIN delivery_attempts a ON a.notification_id = x.id
		WHERE x.customer_id = h.customer_id AND x.kind IN (SELECT value FROM json_each($3)) AND x.sent_at IS NULL
		  AND NOT (x.status = 'sending' AND x.lease_owner = $1) AND a.outcome = 'unknown' AND a.started_at > $4)) AS sent,
	json_group_array(h.id ORDER BY h.id) AS held,
	(SELECT count(*) FROM notifications x
	 WHERE x.customer_id = h.customer_id AND x.status = 'sending' AND x.lease_owner <> $1
	   AND x.lease_expires_at >= $2 AND x.kind IN (SELECT value FROM json_each($3))) AS in_flight
FROM held h GROUP BY h.customer_id`

// dispatchKinds passes a list of kinds as a JSON array (never null).
func dispatchKinds(kinds []string) (string, error) {
	if kinds == nil {
		kinds = []string{}
	}
	b, err := json.Marshal(kinds)
	return string(b), err
}

// CollectionCounts reads, for every customer with a collection notice owner
// holds as of now, what the contact limits need (see repo.CollectionCount),
// in one statement.
func (s *Store) CollectionCounts(ctx context.Context, owner string, leaseNow, since time.Time, kinds []string) (map[int64]repo.CollectionCount, error) {
	ks, err := dispatchKinds(kinds)
	if err != nil {
		return nil, fmt.Errorf("collection counts: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, dispatchCollectionCountsSQL, owner, leaseNow, ks, since)
	if err != nil {
		return nil, fmt.Errorf("collection counts: %w", err)
	}
	defer rows.Close()
	out := map[int64]repo.CollectionCount{}
	for rows.Next() {
		var (
			c          repo.CollectionCount
			sent, held string
		)
		if err := rows.Scan(&c.CustomerID, &sent, &held, &c.InFlight); err != nil {
			return nil, fmt.Errorf("collection counts: %w", err)
		}
		var us []int64
		if err := json.Unmarshal([]byte(sent), &us); err != nil {
			return nil, fmt.Errorf("collection counts: sent: %w", err)
		}
		if err := json.Unmarshal([]byte(held), &c.Held); err != nil {
			return nil, fmt.Errorf("collection counts: held: %w", err)
		}
		slices.Sort(us)
		c.Sent = repo.MicrosToTimes(us)
		out[c.CustomerID] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("collection counts: %w", err)
	}
	return out, nil
}

// CollectionSent lists when customer's collection notices (kinds) reached a
// provider after since, oldest first.
func (s *Store) CollectionSent(ctx context.Context, customerID int64, since time.Time, kinds []string) ([]time.Time, error) {
	ks, err := dispatchKinds(kinds)
	if err != nil {
		return nil, fmt.Errorf("collection sent: %w", err)
	}
	var sent []int64
	if err := s.db.SelectContext(ctx, &sent, `SELECT CAST(sent_at AS INTEGER) FROM notifications
		WHERE customer_id = $1 AND sent_at > $2 AND kind IN (SELECT value FROM json_each($3))
		ORDER BY sent_at`, customerID, since, ks); err != nil {
		return nil, fmt.Errorf("collection sent: %w", err)
	}
	return repo.MicrosToTimes(sent), nil
}

// OldestDue reports, for each of channels (in order), how long the
// longest-waiting notice has been due but not sent as of now: a pending
// notice whose next_attempt_at has passed, or a sending one whose lease has
// expired. 0 when none is. Each channel reads the first row of the due and
// lease indexes (named: see dispatchLeaseSQL), one statement per channel and index.
func (s *Store) OldestDue(ctx context.Context, now time.Time, channels []string) ([]repo.ChannelAge, error) {
	now = time.UnixMicro(now.UnixMicro()) // as stored: to the microsecond
	chs := slices.Clone(channels)
	slices.Sort(chs)
	var out []repo.ChannelAge
	first := func(q, ch string) (*time.Time, error) {
		var ts []time.Time
		if err := s.db.SelectContext(ctx, &ts, q, ch, now); err != nil {
			return nil, err
		}
		if len(ts) == 0 {
			return nil, nil
		}
		return &ts[0], nil
	}
	for _, ch := range chs {
		due, err := first(`SELECT next_attempt_at FROM notifications INDEXED BY notifications_due
			WHERE status = 'pending' AND channel = $1 AND next_attempt_at <= $2
			ORDER BY next_attempt_at LIMIT 1`, ch)
		if err != nil {
			return nil, fmt.Errorf("oldest due: %w", err)
		}
		lost, err := first(`SELECT lease_expires_at FROM notifications INDEXED BY notifications_lease
			WHERE status = 'sending' AND channel = $1 AND lease_expires_at <= $2
			ORDER BY lease_expires_at LIMIT 1`, ch)
		if err != nil {
			return nil, fmt.Errorf("oldest due: %w", err)
		}
		if due == nil || lost != nil && lost.Before(*due) {
			due = lost
		}
		age := repo.ChannelAge{Channel: ch}
		if due != nil {
			age.Seconds = now.Sub(*due).Seconds()
		}
		out = append(out, age)
	}
	return out, nil
}
