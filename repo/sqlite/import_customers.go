package sqlite

import (
	"context"
	"fmt"
	"time"

	"duebell/repo"
)

// customers upserts in, writing only what differs (so an unchanged
// customer keeps its updated_at), with one statement. ids gets the id of
// every customer in.
func (t *importTx) customers(ctx context.Context, in []repo.ImportCustomer, now time.Time, ids map[string]int64) ([]repo.ImportLineResult, error) {
	if len(in) == 0 {
		return nil, nil
	}
	refs, err := importJSON(repo.ImportCustomerRefs(in))
	if err != nil {
		return nil, err
	}
	var stored []repo.Customer
	if err := t.tx.SelectContext(ctx, &stored, `
		SELECT * FROM customers WHERE ref IN (SELECT value FROM json_each($1)) ORDER BY id`, refs); err != nil {
		return nil, fmt.Errorf("import customers: read: %w", err)
	}
	byRef := make(map[string]repo.Customer, len(stored))
	for _, c := range stored {
		byRef[c.Ref] = c
	}
	type row struct {
		Ref      string `json:"ref"`
		Name     string `json:"name"`
		Phone    string `json:"phone"`
		Email    string `json:"email"`
		Locale   string `json:"locale"`
		Timezone string `json:"timezone"`
		SMS      bool   `json:"sms"`
		EmailOut bool   `json:"email_out"`
	}
	out := make([]repo.ImportLineResult, len(in))
	var w []row
	for i, ic := range in {
		cur, found := byRef[ic.Customer.Ref]
		c, res := repo.DecideImportCustomer(ic, cur, found)
		out[i] = res
		if res.Outcome == repo.ImportUnchanged {
			ids[c.Ref] = cur.ID
			continue
		}
		w = append(w, row{c.Ref, c.Name, c.Phone, c.Email, c.Locale, c.Timezone, c.SMSOptOut, c.EmailOptOut})
	}
	if len(w) == 0 {
		return out, nil
	}
	rows, err := importJSON(w)
	if err != nil {
		return nil, err
	}
	var written []struct {
		ID  int64  `db:"id"`
		Ref string `db:"ref"`
	}
	if err := t.tx.SelectContext(ctx, &written, `
		INSERT INTO customers (ref, name, phone, email, locale, timezone, sms_opt_out, email_opt_out, created_at, updated_at)
		SELECT value->>'ref', value->>'name', value->>'phone', value->>'email', value->>'locale', value->>'timezone',
			value->>'sms', value->>'email_out', $2, $2
		FROM json_each($1) WHERE true
		ON CONFLICT (ref) DO UPDATE SET
			name = excluded.name, phone = excluded.phone, email = excluded.email,
			locale = excluded.locale, timezone = excluded.timezone,
			sms_opt_out = excluded.sms_opt_out, email_opt_out = excluded.email_opt_out,
			email_opt_out_reason = CASE WHEN excluded.email <> customers.email THEN '' ELSE customers.email_opt_out_reason END,
			updated_at = excluded.updated_at
		RETURNING id, ref`, rows, now); err != nil {
		return nil, fmt.Errorf("import customers: write: %w", err)
	}
	for _, c := range written {
		ids[c.Ref] = c.ID
	}
	return out, nil
}
