package repo

import (
	"context"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// CollectionCount is what the contact limits (policy.collection) need to
// know about one customer whose collection notices a dispatcher holds.
type CollectionCount struct {
	CustomerID int64
	// Sent are the times the customer's collection notices reached a
	// provider, from since up to the query.
	Sent []time.Time
	// Held are the customer's collection notices the asking dispatcher
	// holds (status sending, its lease): its claims not yet written back.
	Held []int64
	// InFlight counts the customer's collection notices other dispatchers
	// hold right now, which may be reaching a provider.
	InFlight int
}

// collectionCountsSQL reads, in one statement, the counts of every customer
// with a collection notice ($3: the kinds) that owner $1 holds: their
// collection notices sent since $4 (and the tries since $4 of those never
// recorded sent whose outcome a crash left unknown: they may have reached
// the borrower; a notice $1 holds again, about to be tried anew, aside),
// the ones $1 holds, and the ones other owners hold on a live lease as of
// $2. Sent times come as microseconds since the epoch (pq reads no
// timestamp arrays). Like the SMS cap's counts
// (see smsCapJoinSQL) each is read once for all the customers, as an array,
// and the sent times through the customers' recently sent notices
// (notifications_customer_recent, which holds the notices given to a
// provider) whatever the statistics say about sent_at.
const collectionCountsSQL = `
WITH h AS (
	SELECT customer_id, array_agg(id ORDER BY id) AS ids FROM notifications
	WHERE status = 'sending' AND lease_owner = $1 AND kind = ANY($3)
	GROUP BY customer_id
), sent AS (
	SELECT customer_id, array_agg((extract(epoch FROM at) * 1000000)::bigint ORDER BY at) AS times
	FROM (
		SELECT x.customer_id, x.sent_at AS at FROM notifications x
		WHERE x.customer_id = ANY (ARRAY(SELECT customer_id FROM h))
		  AND x.provider <> '' AND coalesce(x.sent_at, '-infinity') > $4 AND x.kind = ANY($3)
		UNION ALL
		SELECT x.customer_id, a.started_at FROM notifications x JOIN delivery_attempts a ON a.notification_id = x.id
		WHERE x.customer_id = ANY (ARRAY(SELECT customer_id FROM h)) AND x.kind = ANY($3) AND x.sent_at IS NULL
		  AND NOT (x.status = 'sending' AND x.lease_owner = $1) AND a.outcome = 'unknown' AND a.started_at > $4
	) t
	GROUP BY customer_id
), flying AS (
	SELECT x.customer_id, count(*) AS n FROM notifications x
	WHERE x.customer_id = ANY (ARRAY(SELECT customer_id FROM h))
	  AND x.status = 'sending' AND x.lease_owner <> $1 AND x.lease_expires_at >= $2 AND x.kind = ANY($3)
	GROUP BY x.customer_id
)
SELECT h.customer_id, coalesce(sent.times, '{}') AS sent, h.ids AS held, coalesce(flying.n, 0) AS in_flight
FROM h LEFT JOIN sent USING (customer_id) LEFT JOIN flying USING (customer_id)`

// CollectionCounts reads, for every customer with a collection notice owner
// holds, what the contact limits need (see CollectionCount), in one
// statement: a dispatcher asks once per claimed batch. Other owners' leases
// count while live as of leaseNow, the lease clock's now.
func (r *Repo) CollectionCounts(ctx context.Context, owner string, leaseNow, since time.Time, kinds []string) (map[int64]CollectionCount, error) {
	rows, err := r.db.QueryContext(ctx, collectionCountsSQL, owner, leaseNow, pq.Array(kinds), since)
	if err != nil {
		return nil, fmt.Errorf("collection counts: %w", err)
	}
	defer rows.Close()
	out := map[int64]CollectionCount{}
	for rows.Next() {
		var (
			c    CollectionCount
			sent pq.Int64Array
			held pq.Int64Array
		)
		if err := rows.Scan(&c.CustomerID, &sent, &held, &c.InFlight); err != nil {
			return nil, fmt.Errorf("collection counts: %w", err)
		}
		c.Sent = MicrosToTimes(sent)
		c.Held = held
		out[c.CustomerID] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("collection counts: %w", err)
	}
	return out, nil
}

// CollectionSent lists when customer's collection notices (kinds) reached a
// provider after since, oldest first: the budget on the console's customer page.
func (r *Repo) CollectionSent(ctx context.Context, customerID int64, since time.Time, kinds []string) ([]time.Time, error) {
	var sent pq.Int64Array
	if err := r.db.QueryRowContext(ctx, `SELECT coalesce(array_agg((extract(epoch FROM sent_at) * 1000000)::bigint
			ORDER BY sent_at), '{}') FROM notifications
			WHERE customer_id = $1 AND provider <> '' AND coalesce(sent_at, '-infinity') > $2 AND kind = ANY($3)`,
		customerID, since, pq.Array(kinds)).Scan(&sent); err != nil {
		return nil, fmt.Errorf("collection sent: %w", err)
	}
	return MicrosToTimes(sent), nil
}

// MicrosToTimes turns Unix microseconds into instants, as both stores read
// a list of sent times.
func MicrosToTimes(us []int64) []time.Time {
	out := make([]time.Time, len(us))
	for i, u := range us {
		out[i] = time.UnixMicro(u)
	}
	return out
}
