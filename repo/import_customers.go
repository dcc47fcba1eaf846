package repo

import (
	"context"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// customers upserts in, writing only what differs (so an unchanged
// customer keeps its updated_at and is not even locked): the customers a
// first read finds changed are read again locked, so an opt-out recorded
// meanwhile is kept, then written with one statement. ids gets the id of
// every customer in.
func (t *importTx) customers(ctx context.Context, in []ImportCustomer, now time.Time, ids map[string]int64) ([]ImportLineResult, error) {
	if len(in) == 0 {
		return nil, nil
	}
	byRef, err := t.loadCustomers(ctx, in, false)
	if err != nil {
		return nil, err
	}
	var changed []ImportCustomer
	for _, ic := range in {
		if cur, found := byRef[ic.Customer.Ref]; found {
			if _, res := DecideImportCustomer(ic, cur, true); res.Outcome == ImportUpdated {
				changed = append(changed, ic)
			}
		}
	}
	if len(changed) > 0 {
		locked, err := t.loadCustomers(ctx, changed, true)
		if err != nil {
			return nil, err
		}
		for ref, c := range locked {
			byRef[ref] = c
		}
	}
	out := make([]ImportLineResult, len(in))
	var w struct {
		refs, names, phones, emails, locales, zones []string
		sms, email                                  []bool
	}
	for i, ic := range in {
		cur, found := byRef[ic.Customer.Ref]
		c, res := DecideImportCustomer(ic, cur, found)
		out[i] = res
		if res.Outcome == ImportUnchanged {
			ids[c.Ref] = cur.ID
			continue
		}
		w.refs, w.names, w.phones = append(w.refs, c.Ref), append(w.names, c.Name), append(w.phones, c.Phone)
		w.emails, w.locales, w.zones = append(w.emails, c.Email), append(w.locales, c.Locale), append(w.zones, c.Timezone)
		w.sms, w.email = append(w.sms, c.SMSOptOut), append(w.email, c.EmailOptOut)
	}
	if len(w.refs) == 0 {
		return out, nil
	}
	var written []struct {
		ID  int64  `db:"id"`
		Ref string `db:"ref"`
	}
	if err := t.tx.SelectContext(ctx, &written, `
		INSERT INTO customers (ref, name, phone, email, locale, timezone, sms_opt_out, email_opt_out, created_at, updated_at)
		SELECT x.ref, x.name, x.phone, x.email, x.locale, x.timezone, x.sms, x.email_out, $9, $9
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bool[], $8::bool[])
			AS x (ref, name, phone, email, locale, timezone, sms, email_out)
		ON CONFLICT (ref) DO UPDATE SET
			name = EXCLUDED.name, phone = EXCLUDED.phone, email = EXCLUDED.email,
			locale = EXCLUDED.locale, timezone = EXCLUDED.timezone,
			sms_opt_out = EXCLUDED.sms_opt_out, email_opt_out = EXCLUDED.email_opt_out,
			email_opt_out_reason = CASE WHEN EXCLUDED.email <> customers.email THEN '' ELSE customers.email_opt_out_reason END,
			updated_at = EXCLUDED.updated_at
		RETURNING id, ref`,
		pq.Array(w.refs), pq.Array(w.names), pq.Array(w.phones), pq.Array(w.emails), pq.Array(w.locales),
		pq.Array(w.zones), pq.Array(w.sms), pq.Array(w.email), now); err != nil {
		return nil, fmt.Errorf("import customers: write: %w", err)
	}
	for _, c := range written {
		ids[c.Ref] = c.ID
	}
	return out, nil
}

// loadCustomers reads the stored customers of in by ref, locked when lock.
func (t *importTx) loadCustomers(ctx context.Context, in []ImportCustomer, lock bool) (map[string]Customer, error) {
	refs := ImportCustomerRefs(in)
	q := `SELECT * FROM customers WHERE ref = ANY($1) ORDER BY id`
	if lock {
		q += ` FOR NO KEY UPDATE` // not FOR UPDATE: see loadPlans
	}
	var stored []Customer
	if err := t.tx.SelectContext(ctx, &stored, q, pq.Array(refs)); err != nil {
		return nil, fmt.Errorf("import customers: read: %w", err)
	}
	byRef := make(map[string]Customer, len(stored))
	for _, c := range stored {
		byRef[c.Ref] = c
	}
	return byRef, nil
}
