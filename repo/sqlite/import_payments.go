package sqlite

import (
	"context"
	"duebell/kinds"
	"fmt"
	"time"

	"duebell/repo"
)

// payments records in with the rules of RecordPayment (decided in package
// repo, as for PostgreSQL). Each installment appears at most once in a
// batch (CheckUnique) and nothing else writes while the import holds the
// write lock, so every decision reads the row as it is written.
func (t *importTx) payments(ctx context.Context, in []repo.ImportPayment, now time.Time) ([]repo.ImportLineResult, error) {
	if len(in) == 0 {
		return nil, nil
	}
	planRefs, seqs, payRefs := repo.ImportPaymentKeys(in)
	type key struct {
		Ref string `json:"ref"`
		Seq int64  `json:"seq"`
	}
	keys := make([]key, len(in))
	for i := range in {
		keys[i] = key{planRefs[i], seqs[i]}
	}
	list, err := importJSON(keys)
	if err != nil {
		return nil, err
	}
	var rows []repo.ImportPaymentTarget
	if err := t.tx.SelectContext(ctx, &rows, `
		SELECT i.*, p.customer_id, p.ref AS plan_ref
		FROM (SELECT DISTINCT value->>'ref' AS ref, value->>'seq' AS seq FROM json_each($1)) x
		JOIN plans p ON p.ref = x.ref
		JOIN installments i ON i.plan_id = p.id AND i.seq = x.seq
		ORDER BY i.id`, list); err != nil {
		return nil, fmt.Errorf("import payments: read installments: %w", err)
	}
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	var known []repo.ImportRecordedPayment
	if len(ids) > 0 {
		idList, err := importJSON(ids)
		if err != nil {
			return nil, err
		}
		refList, err := importJSON(payRefs)
		if err != nil {
			return nil, err
		}
		if err := t.tx.SelectContext(ctx, &known, `
			SELECT installment_id, ref, amount FROM payments
			WHERE installment_id IN (SELECT value FROM json_each($1)) AND ref IN (SELECT value FROM json_each($2))`,
			idList, refList); err != nil {
			return nil, fmt.Errorf("import payments: look up refs: %w", err)
		}
	}
	out, writes := repo.DecideImportPayments(in, rows, known, now)
	if len(writes) == 0 {
		return out, nil
	}
	type row struct {
		ID         int64  `json:"id"`
		PlanID     int64  `json:"plan_id"`
		CustomerID int64  `json:"customer_id"`
		Ref        string `json:"ref"`
		Amount     int64  `json:"amount"`
		PaidAt     *int64 `json:"paid_at"`
		Settles    bool   `json:"settles"`
	}
	w := make([]row, len(writes))
	for i, x := range writes {
		w[i] = row{x.InstallmentID, x.PlanID, x.CustomerID, x.Ref, x.Amount, importMicros(&x.PaidAt), x.Settles}
	}
	if list, err = importJSON(w); err != nil {
		return nil, err
	}
	if _, err := t.tx.ExecContext(ctx, `
		INSERT INTO payments (installment_id, ref, amount, paid_at, created_at)
		SELECT value->>'id', value->>'ref', value->>'amount', value->>'paid_at', $2 FROM json_each($1)`,
		list, now); err != nil {
		return nil, fmt.Errorf("import payments: insert: %w", err)
	}
	if _, err := t.tx.ExecContext(ctx, `
		UPDATE installments SET paid = installments.paid + x.amount,
			status  = CASE WHEN x.settles THEN 'paid' ELSE installments.status END,
			paid_at = CASE WHEN x.settles THEN x.paid_at ELSE installments.paid_at END
		FROM (SELECT value->>'id' AS id, value->>'amount' AS amount, value->>'settles' AS settles,
			value->>'paid_at' AS paid_at FROM json_each($1)) AS x
		WHERE installments.id = x.id`, list); err != nil {
		return nil, fmt.Errorf("import payments: update installments: %w", err)
	}
	if len(t.confirm) == 0 {
		return out, nil
	}
	chans, err := importJSON(t.confirm)
	if err != nil {
		return nil, err
	}
	// payment_received per confirm channel for each settled installment,
	// as RecordPayment queues it: not before the payment, suppressed when
	// the customer opted out of the channel or has no address on it.
	if _, err := t.tx.ExecContext(ctx, `
		INSERT INTO notifications (dedup_key, customer_id, plan_id, installment_id, kind, stage, stage_offset,
			channel, locale, status, status_reason, not_before, next_attempt_at, created_at, updated_at)
		SELECT s.id || ':' || $4 || ':' || s.ch || ':' || s.paid_at, s.customer_id, s.plan_id, s.id, $4, $4, NULL,
			s.ch, s.locale, `+repo.NewNoticeStatusSQL+`, s.reason, s.paid_at, s.paid_at, $3, $3
		FROM (
			SELECT x.id, x.plan_id, c.id AS customer_id, c.locale, x.paid_at, chans.ch,
				`+repo.SuppressReasonSQL+` AS reason
			FROM (SELECT value->>'id' AS id, value->>'plan_id' AS plan_id, value->>'customer_id' AS customer_id,
					value->>'paid_at' AS paid_at
				FROM json_each($1) WHERE value->>'settles') x
			JOIN customers c ON c.id = x.customer_id
			CROSS JOIN (SELECT DISTINCT value AS ch FROM json_each($2)) chans
		) s WHERE true
		ON CONFLICT (dedup_key) DO NOTHING`, list, chans, now, kinds.PaymentReceived); err != nil {
		return nil, fmt.Errorf("import payments: queue payment_received: %w", err)
	}
	return out, nil
}
