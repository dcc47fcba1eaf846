package repo

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/jmoiron/sqlx"
)

// This file holds the ingest rules both stores keep in Go (PostgreSQL here,
// SQLite in repo/sqlite), so that each is written once.

// Prepare checks a payment before any store looks at it and fills its
// defaults: the amount is not zero, a reversal has a reason, confirm
// channels are sms or email; a zero Now is the wall clock and a zero PaidAt
// is Now.
func (in PaymentInput) Prepare() (PaymentInput, error) {
	switch {
	case in.Amount == 0:
		return in, fmt.Errorf("record payment: amount must not be zero")
	case in.Amount < 0 && in.Reason == "":
		return in, fmt.Errorf("record payment: a reversal needs a reason")
	}
	for _, ch := range in.ConfirmChannels {
		if ch != "sms" && ch != "email" {
			return in, fmt.Errorf("record payment: unknown confirm channel %q", ch)
		}
	}
	if in.Now.IsZero() {
		in.Now = time.Now()
	}
	if in.PaidAt.IsZero() {
		in.PaidAt = in.Now
	}
	return in, nil
}

// PaymentEffect says what adding amount does to installment cur: settled
// when it brings a pending installment's paid up to its amount, reopened
// when a reversal takes a paid installment below it. Only a reversal
// reopens: a payment on a bill the lender's push marked paid with less
// paid than its amount (paid elsewhere) leaves it paid, where it reopened
// it, and the reminders resumed, for a bill the lender called settled.
func PaymentEffect(cur Installment, amount int64) (settled, reopened bool) {
	settled = cur.Status == InstallmentPending && cur.Paid < cur.Amount && cur.Paid+amount >= cur.Amount
	reopened = amount < 0 && cur.Status == InstallmentPaid && cur.Paid+amount < cur.Amount
	return settled, reopened
}

// CheckPaymentFits refuses a payment larger than what is still due on it
// (an overpayment) and a reversal larger than what was paid: the same rule
// as paid <= amount on a plan push. Amounts are bounded far below overflow
// by the API; the checks are written so that they cannot overflow either.
func CheckPaymentFits(it Installment, amount int64) error {
	switch {
	case amount > 0 && amount > it.Amount-it.Paid:
		return fmt.Errorf("installment %d: payment of %d exceeds the %d still due; overpayments are refused: %w",
			it.Seq, amount, max(it.Amount-it.Paid, 0), ErrConflict)
	case amount < 0 && -amount > it.Paid:
		return fmt.Errorf("installment %d: reversal of %d exceeds the %d paid: %w", it.Seq, -amount, it.Paid, ErrConflict)
	}
	return nil
}

// ReversalAudit is the audit entry a reversal (a negative payment) leaves:
// action, target and detail.
func ReversalAudit(in PaymentInput, reopened bool) (action, target string, detail map[string]any) {
	return "payment.reverse", fmt.Sprintf("plan:%s:%d", in.PlanRef, in.Seq), map[string]any{
		"amount": in.Amount, "reason": in.Reason, "ref": in.Ref, "reopened": reopened}
}

// StoredInstallmentsSQL reads plan $1's installments with the sum of the
// payments recorded for each (ImportStoredInstallment), in both stores.
const StoredInstallmentsSQL = `
SELECT i.*, (SELECT coalesce(sum(y.amount), 0) FROM payments y WHERE y.installment_id = i.id) AS recorded
FROM installments i WHERE i.plan_id = $1 ORDER BY i.seq`

// StoredCurrency is plan ref's currency as stored, "" when there is no such
// plan; lock is appended to the read.
func StoredCurrency(ctx context.Context, q sqlx.QueryerContext, ref, lock string) (string, error) {
	var c string
	err := sqlx.GetContext(ctx, q, &c, `SELECT currency FROM plans WHERE ref = $1`+lock, ref)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("read plan: %w", err)
	}
	return c, nil
}

// CheckCurrency refuses (ErrConflict) a plan push or import line that
// changes the currency of a stored plan (from was) once something was paid
// on it: its amounts, what was paid and the payments recorded are minor
// units of the old currency, and would be read in the new one (¥500.00
// paid, read as 50,000 JPY, and reminders asking for JPY). A plan nothing
// was paid on may still be corrected.
func CheckCurrency(was, currency string, stored iter.Seq[ImportStoredInstallment]) error {
	if was == "" || was == currency {
		return nil
	}
	for s := range stored {
		if s.Paid != 0 || s.Recorded != 0 {
			return fmt.Errorf("currency: cannot change from %s to %s: installment %d has payments in %s "+
				"(amounts are minor units of the plan's currency; push the plan anew under another ref): %w",
				was, currency, s.Seq, was, ErrConflict)
		}
	}
	return nil
}

// CheckPushedInstallment keeps the rules a plan push (single or imported)
// must follow against the installment as stored (old, with the payments
// recorded for it): its paid may not go below the recorded payments; its
// amount may not go below what is paid (the payments endpoint refuses that
// overpayment too: record a reversal first); and the amount of a bill the
// recorded payments settled may not be raised above what is paid, so that
// a stale re-push of an older version of the plan never reopens a paid bill
// and reminds it.
func CheckPushedInstallment(it Installment, old ImportStoredInstallment) error {
	paid := it.Paid
	if it.KeepPaid {
		paid = old.Paid
	}
	switch {
	case !it.KeepPaid && it.Paid < old.Recorded:
		return PaidBelowRecorded(it.Seq, it.Paid, old.Recorded)
	case it.Amount < paid:
		return fmt.Errorf("installment %d: amount %d is below the %d already paid; record a reversal first: %w",
			it.Seq, it.Amount, paid, ErrConflict)
	case old.Status == InstallmentPaid && old.Recorded > 0 && old.Recorded >= old.Amount && it.Amount > paid:
		return fmt.Errorf("installment %d was settled by recorded payments; its amount cannot be raised from %d to %d "+
			"(record a reversal first to reopen it): %w", it.Seq, old.Amount, it.Amount, ErrConflict)
	}
	return nil
}

// PaidBelowRecorded is the conflict of a plan push (single or imported)
// whose paid is below what the payments endpoint recorded.
func PaidBelowRecorded(seq int, paid, recorded int64) error {
	return fmt.Errorf("installment %d: paid %d is below the %d recorded through the payments endpoint; "+
		"omit paid to keep it, or record a reversal: %w", seq, paid, recorded, ErrConflict)
}

// AuditDetail is the JSON an audit entry stores for detail: nil (or
// anything that marshals to null) is {}.
func AuditDetail(action string, detail any) (string, error) {
	if detail == nil {
		return "{}", nil
	}
	b, err := json.Marshal(detail)
	if err != nil {
		return "", fmt.Errorf("audit %s: detail: %w", action, err)
	}
	if string(b) == "null" {
		return "{}", nil
	}
	return string(b), nil
}

// AuditDetailOf is what AppendAudit stores for an entry's raw detail: an
// empty one is nil (stored as {}).
func AuditDetailOf(e AuditEntry) any {
	if len(e.Detail) > 0 {
		return e.Detail
	}
	return nil
}

// AuditListLimit is how many entries ListAudit returns for limit: 100 when
// not positive, at most 1000.
func AuditListLimit(limit int) int {
	if limit <= 0 {
		return 100
	}
	return min(limit, 1000)
}

// CustomerUpsertSQL is how both stores write a pushed customer: $1 ref, $2
// name, $3 phone, $4 email, $5 locale, $6 timezone, $7/$8 the SMS and email
// opt-outs, $9 now, and $10/$11 true when the push left the SMS or email
// opt-out out, which keeps the stored flag. The keeping happens in the
// statement, on the row it locks: a push read-then-written would undo an
// opt-out that committed in between. An opt-out the provider reported
// (sms_opt_out_reason) stays whatever the push says; one the mail server
// caused (email_opt_out_reason: the address has no mailbox) stays while
// the push keeps the address, and a new address ends it. It ends RETURNING *;
// each store adds how it tells a created row (createdPG, or a read first
// in SQLite's serialized write).
const CustomerUpsertSQL = `
INSERT INTO customers (ref, name, phone, email, locale, timezone, sms_opt_out, email_opt_out, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7 AND NOT $10, $8 AND NOT $11, $9, $9)
ON CONFLICT (ref) DO UPDATE SET
	name = excluded.name, phone = excluded.phone, email = excluded.email,
	locale = excluded.locale, timezone = excluded.timezone,
	sms_opt_out = CASE WHEN $10 THEN customers.sms_opt_out
		ELSE excluded.sms_opt_out OR customers.sms_opt_out_reason <> '' END,
	email_opt_out = CASE
		WHEN customers.email_opt_out_reason <> '' AND excluded.email <> customers.email THEN excluded.email_opt_out AND NOT $11
		WHEN $11 THEN customers.email_opt_out
		ELSE excluded.email_opt_out OR customers.email_opt_out_reason <> '' END,
	email_opt_out_reason = CASE WHEN excluded.email <> customers.email THEN '' ELSE customers.email_opt_out_reason END,
	updated_at = excluded.updated_at
RETURNING *`

// PlanUpsertSQL is how both stores, from a push or an import line, write a
// plan whose ref exists: its fields are replaced, but only when it belongs
// to the same customer; a plan of another customer is left untouched and
// returns no row, which the caller reports as the conflict. It follows an
// INSERT INTO plans whose values are the pushed plan; an as_of it leaves
// null (or out) keeps the stored one.
const PlanUpsertSQL = `ON CONFLICT (ref) DO UPDATE SET
	merchant = EXCLUDED.merchant, title = EXCLUDED.title, currency = EXCLUDED.currency,
	total = EXCLUDED.total, periods = EXCLUDED.periods, status = EXCLUDED.status,
	repay_method = EXCLUDED.repay_method, card_last4 = EXCLUDED.card_last4,
	updated_at = EXCLUDED.updated_at, as_of = coalesce(EXCLUDED.as_of, plans.as_of)
WHERE plans.customer_id = EXCLUDED.customer_id`
