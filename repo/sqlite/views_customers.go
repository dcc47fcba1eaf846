package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"modernc.org/sqlite"

	"duebell/repo"
)

// SQLite's LIKE and lower() fold ASCII letters only; duebell_lower folds
// every letter as PostgreSQL's lower() does, so a name search ignores case
// in any script on both stores ("émile" finds Émile).
func init() {
	sqlite.MustRegisterDeterministicScalarFunction("duebell_lower", 1,
		func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
			s, ok := args[0].(string)
			if !ok {
				return args[0], nil // NULL stays NULL
			}
			return strings.ToLower(s), nil
		})
}

// viewsFindCustomersSQL is repo's findCustomersSQL: a customer ref or plan
// ref exactly ($1), a phone on file or a notice was sent to ($2), an email
// likewise ($3), or a part of the name ($4, a LIKE pattern with backslash
// escapes; empty: no name search), in any case as PostgreSQL's ILIKE.
const viewsFindCustomersSQL = `
SELECT c.*, (SELECT count(*) FROM plans p WHERE p.customer_id = c.id) AS plans
FROM customers c
WHERE c.ref = $1
   OR c.id = (SELECT customer_id FROM plans WHERE ref = $1)
   OR ($2 <> '' AND (c.phone = $2 OR c.id IN (SELECT customer_id FROM notifications WHERE recipient = $2)))
   OR ($3 <> '' AND (c.email = $3 OR c.id IN (SELECT customer_id FROM notifications WHERE recipient = $3)))
   OR ($4 <> '' AND duebell_lower(c.name) LIKE duebell_lower($4) ESCAPE '\')
ORDER BY (c.ref = $1) DESC, c.name, c.ref
LIMIT $5`

// FindCustomers finds customers by what support staff are told on the
// phone (see repo.ParseCustomerQuery).
func (s *Store) FindCustomers(ctx context.Context, q string) ([]repo.CustomerHit, error) {
	out := []repo.CustomerHit{}
	cq, ok := repo.ParseCustomerQuery(q)
	if !ok {
		return out, nil
	}
	if err := s.db.SelectContext(ctx, &out, viewsFindCustomersSQL, cq.Text, cq.Phone, cq.Email, cq.Name,
		repo.CustomerSearchLimit); err != nil {
		return nil, fmt.Errorf("find customers: %w", err)
	}
	return out, nil
}

// viewsSummaryColumns select a repo.NoticeSummary from viewsSummaryFrom.
const viewsSummaryColumns = `n.id, c.ref AS customer_ref, coalesce(p.ref, '') AS plan_ref, coalesce(i.seq, 0) AS seq,
	n.kind, n.stage, n.channel, n.recipient, n.status, n.status_reason, n.attempts, n.provider,
	n.resend_of, n.requested_by, n.created_at, n.updated_at, n.sent_at`

const viewsSummaryFrom = `notifications n
	JOIN customers c ON c.id = n.customer_id
	LEFT JOIN plans p ON p.id = n.plan_id
	LEFT JOIN installments i ON i.id = n.installment_id`

// GetCustomerView loads a customer by ref with their plans, installments,
// notices, events, payments, receipts, the audited actions on their notices
// and their opt-out history. An unknown ref is repo.ErrNotFound. The reads
// share one transaction, so the page is one moment's state.
func (s *Store) GetCustomerView(ctx context.Context, ref string) (repo.CustomerView, error) {
	var v repo.CustomerView
	tx, err := s.db.BeginTxx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return v, fmt.Errorf("customer view: %w", err)
	}
	defer tx.Rollback()
	if err := tx.GetContext(ctx, &v.Customer, `SELECT * FROM customers WHERE ref = $1`, ref); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return v, fmt.Errorf("customer %s: %w", ref, repo.ErrNotFound)
		}
		return v, fmt.Errorf("customer %s: %w", ref, err)
	}
	id := v.Customer.ID
	v.Plans = []repo.Plan{}
	if err := tx.SelectContext(ctx, &v.Plans, `SELECT p.*, $2 AS customer_ref FROM plans p
		WHERE p.customer_id = $1 ORDER BY p.created_at DESC, p.id DESC`, id, ref); err != nil {
		return v, fmt.Errorf("customer view: plans: %w", err)
	}
	byID := map[int64]*repo.Plan{}
	for i := range v.Plans {
		byID[v.Plans[i].ID] = &v.Plans[i]
		v.Plans[i].Installments = []repo.Installment{}
	}
	var insts []repo.Installment
	if err := tx.SelectContext(ctx, &insts, `SELECT * FROM installments
		WHERE plan_id IN (SELECT id FROM plans WHERE customer_id = $1) ORDER BY plan_id, seq`, id); err != nil {
		return v, fmt.Errorf("customer view: installments: %w", err)
	}
	for _, in := range insts {
		byID[in.PlanID].Installments = append(byID[in.PlanID].Installments, in)
	}
	v.Notices = []repo.NoticeSummary{}
	if err := tx.SelectContext(ctx, &v.Notices, `SELECT `+viewsSummaryColumns+` FROM `+viewsSummaryFrom+`
		WHERE n.customer_id = $1 ORDER BY n.id DESC LIMIT $2`, id, repo.CustomerNoticeLimit+1); err != nil {
		return v, fmt.Errorf("customer view: notices: %w", err)
	}
	if len(v.Notices) > repo.CustomerNoticeLimit {
		v.Notices, v.NoticesTruncated = v.Notices[:repo.CustomerNoticeLimit], true
	}
	// payload is TEXT: read as a BLOB it scans into json.RawMessage.
	v.Events = []repo.CustomerEvent{}
	if err := tx.SelectContext(ctx, &v.Events, `SELECT e.ref, e.kind, e.scope, coalesce(p.ref, '') AS plan_ref,
			CAST(e.payload AS BLOB) AS payload, e.occurred_at, e.processed_at
		FROM channel_events e LEFT JOIN plans p ON p.id = e.plan_id
		WHERE e.customer_id = $1 OR e.id IN (SELECT event_id FROM notifications WHERE customer_id = $1 AND event_id IS NOT NULL)
		ORDER BY e.occurred_at DESC, e.id DESC LIMIT $2`, id, repo.CustomerNoticeLimit); err != nil {
		return v, fmt.Errorf("customer view: events: %w", err)
	}
	v.Payments = []repo.CustomerPayment{}
	if err := tx.SelectContext(ctx, &v.Payments, `SELECT p.ref AS plan_ref, p.currency, i.seq, coalesce(pm.ref, '') AS ref,
			pm.amount, pm.paid_at
		FROM payments pm JOIN installments i ON i.id = pm.installment_id JOIN plans p ON p.id = i.plan_id
		WHERE p.customer_id = $1 ORDER BY pm.paid_at DESC, pm.id DESC LIMIT $2`, id, repo.CustomerNoticeLimit); err != nil {
		return v, fmt.Errorf("customer view: payments: %w", err)
	}
	// Receipts and audit entries of the notices on the page, passed as JSON
	// arrays (SQLite has no array parameters).
	noticeIDs := make([]int64, len(v.Notices))
	targets := make([]string, len(v.Notices))
	for i, n := range v.Notices {
		noticeIDs[i] = n.ID
		targets[i] = fmt.Sprintf("notification:%d", n.ID)
	}
	idsJSON, _ := json.Marshal(noticeIDs)
	targetsJSON, _ := json.Marshal(targets)
	v.Receipts = []repo.CustomerReceipt{}
	if err := tx.SelectContext(ctx, &v.Receipts, `SELECT notification_id, provider, status, provider_status, code,
			description, received_at
		FROM sms_receipts WHERE notification_id IN (SELECT value FROM json_each($1))
		ORDER BY received_at DESC, id DESC LIMIT $2`, string(idsJSON), repo.CustomerNoticeLimit); err != nil {
		return v, fmt.Errorf("customer view: receipts: %w", err)
	}
	v.Audit = []repo.AuditEntry{}
	if err := tx.SelectContext(ctx, &v.Audit, `SELECT id, at, actor, action, target, CAST(detail AS BLOB) AS detail
		FROM audit_log WHERE target IN (SELECT value FROM json_each($1))
		ORDER BY at DESC, id DESC LIMIT $2`, string(targetsJSON), repo.CustomerNoticeLimit); err != nil {
		return v, fmt.Errorf("customer view: audit: %w", err)
	}
	v.OptOutChanges = []repo.OptOutChange{}
	if err := tx.SelectContext(ctx, &v.OptOutChanges, `SELECT channel, opt_out, changed_at, db_user
		FROM customer_opt_out_changes WHERE customer_id = $1 ORDER BY changed_at DESC, id DESC LIMIT $2`,
		id, repo.CustomerNoticeLimit); err != nil {
		return v, fmt.Errorf("customer view: opt-out changes: %w", err)
	}
	return v, nil
}
