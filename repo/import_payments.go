package repo

import (
	"context"
	"duebell/kinds"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// payments records in with the rules of RecordPayment: unknown plan or seq
// is ErrNotFound; a ref already recorded with the same amount changes
// nothing, with another amount is ErrConflict; a payment that brings a
// pending installment up to its amount settles it and queues
// payment_received on the confirm channels. Each installment appears at
// most once in a batch (CheckUnique), so every decision reads the row as
// locked here.
func (t *importTx) payments(ctx context.Context, in []ImportPayment, now time.Time) ([]ImportLineResult, error) {
	if len(in) == 0 {
		return nil, nil
	}
	refs, seqs, payRefs := ImportPaymentKeys(in)
	var rows []ImportPaymentTarget
	if err := t.tx.SelectContext(ctx, &rows, `
		SELECT i.*, p.customer_id, p.ref AS plan_ref
		FROM (SELECT DISTINCT * FROM unnest($1::text[], $2::int[]) AS x (ref, seq)) x
		JOIN plans p ON p.ref = x.ref
		JOIN installments i ON i.plan_id = p.id AND i.seq = x.seq
		ORDER BY i.id FOR UPDATE OF i`, pq.Array(refs), pq.Array(seqs)); err != nil {
		return nil, fmt.Errorf("import payments: lock installments: %w", err)
	}
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	var known []ImportRecordedPayment
	if err := t.tx.SelectContext(ctx, &known, `
		SELECT installment_id, ref, amount FROM payments WHERE installment_id = ANY($1) AND ref = ANY($2)`,
		pq.Array(ids), pq.Array(payRefs)); err != nil {
		return nil, fmt.Errorf("import payments: look up refs: %w", err)
	}
	out, writes := DecideImportPayments(in, rows, known, now)
	if len(writes) == 0 {
		return out, nil
	}
	var w struct {
		ids, plans, customers, amounts []int64
		micros                         []int64 // paid_at in a payment_received dedup key
		refs, paidAts                  []string
		settled                        []bool
	}
	for _, x := range writes {
		w.ids, w.plans, w.customers, w.amounts = append(w.ids, x.InstallmentID), append(w.plans, x.PlanID), append(w.customers, x.CustomerID), append(w.amounts, x.Amount)
		w.refs, w.paidAts, w.settled = append(w.refs, x.Ref), append(w.paidAts, x.PaidAt.Format(time.RFC3339Nano)), append(w.settled, x.Settles)
		w.micros = append(w.micros, x.PaidAt.UnixMicro())
	}
	if _, err := t.tx.ExecContext(ctx, `
		INSERT INTO payments (installment_id, ref, amount, paid_at, created_at)
		SELECT x.id, x.ref, x.amount, x.paid_at, $5
		FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::timestamptz[]) AS x (id, ref, amount, paid_at)`,
		pq.Array(w.ids), pq.Array(w.refs), pq.Array(w.amounts), pq.Array(w.paidAts), now); err != nil {
		return nil, fmt.Errorf("import payments: insert: %w", err)
	}
	if _, err := t.tx.ExecContext(ctx, `
		UPDATE installments i SET paid = i.paid + x.amount,
			status  = CASE WHEN x.settles THEN 'paid' ELSE i.status END,
			paid_at = CASE WHEN x.settles THEN x.paid_at ELSE i.paid_at END
		FROM unnest($1::bigint[], $2::bigint[], $3::bool[], $4::timestamptz[]) AS x (id, amount, settles, paid_at)
		WHERE i.id = x.id`,
		pq.Array(w.ids), pq.Array(w.amounts), pq.Array(w.settled), pq.Array(w.paidAts)); err != nil {
		return nil, fmt.Errorf("import payments: update installments: %w", err)
	}
	if len(t.ConfirmChannels) == 0 {
		return out, nil
	}
	if _, err := t.tx.ExecContext(ctx, `
		INSERT INTO notifications (dedup_key, customer_id, plan_id, installment_id, kind, stage, stage_offset,
			channel, locale, status, status_reason, not_before, next_attempt_at, created_at, updated_at)
		SELECT x.id || ':' || $8 || ':' || ch || ':' || x.micros, c.id, x.plan_id, x.id, $8, $8, NULL,
			ch, c.locale, `+newNoticeStatusSQL+`, reason, x.paid_at, x.paid_at, $6, $6
		FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::timestamptz[], $7::bool[], $9::bigint[])
			AS x (id, plan_id, customer_id, paid_at, settles, micros)
		JOIN customers c ON c.id = x.customer_id
		CROSS JOIN (SELECT DISTINCT unnest($5::text[]) AS ch) chans
		CROSS JOIN LATERAL (SELECT `+suppressReasonSQL+` AS reason) s
		WHERE x.settles
		ON CONFLICT (dedup_key) DO NOTHING`,
		pq.Array(w.ids), pq.Array(w.plans), pq.Array(w.customers), pq.Array(w.paidAts),
		pq.Array(t.ConfirmChannels), now, pq.Array(w.settled), kinds.PaymentReceived, pq.Array(w.micros)); err != nil {
		return nil, fmt.Errorf("import payments: queue payment_received: %w", err)
	}
	return out, nil
}
