package repo

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// CustomerSearchLimit caps the customers FindCustomers returns.
const CustomerSearchLimit = 50

// CustomerHit is one customer found by FindCustomers.
type CustomerHit struct {
	Customer
	Plans int `db:"plans" json:"plans"` // how many plans the customer has
}

// findCustomersSQL matches a customer ref or plan ref exactly ($1), a phone
// on file or a notice was sent to ($2), an email likewise ($3), or a part of
// the name ($4, a LIKE pattern; empty: no name search).
const findCustomersSQL = `
SELECT c.*, (SELECT count(*) FROM plans p WHERE p.customer_id = c.id) AS plans
FROM customers c
WHERE c.ref = $1
   OR c.id = (SELECT customer_id FROM plans WHERE ref = $1)
   OR ($2 <> '' AND (c.phone = $2 OR c.id IN (SELECT customer_id FROM notifications WHERE recipient = $2)))
   OR ($3 <> '' AND (c.email = $3 OR c.id IN (SELECT customer_id FROM notifications WHERE recipient = $3)))
   OR ($4 <> '' AND c.name ILIKE $4)
ORDER BY (c.ref = $1) DESC, c.name, c.ref
LIMIT $5`

// FindCustomers finds customers by what support staff are told on the
// phone: a name (or part of it), a phone number in any form (138 1234 5678,
// +86 138…, 0086…), an email address, a customer ref or a plan ref (see
// ParseCustomerQuery).
func (r *Repo) FindCustomers(ctx context.Context, q string) ([]CustomerHit, error) {
	out := []CustomerHit{}
	cq, ok := ParseCustomerQuery(q)
	if !ok {
		return out, nil
	}
	if err := r.db.SelectContext(ctx, &out, findCustomersSQL, cq.Text, cq.Phone, cq.Email, cq.Name,
		CustomerSearchLimit); err != nil {
		return nil, fmt.Errorf("find customers: %w", err)
	}
	return out, nil
}

// CustomerView is everything the console's customer page shows.
type CustomerView struct {
	Customer Customer
	Plans    []Plan // with Installments, newest plan first
	// Notices are the customer's notices, newest first (at most
	// CustomerNoticeLimit; NoticesTruncated when there are more).
	Notices          []NoticeSummary
	NoticesTruncated bool
	Events           []CustomerEvent   // channel events about the customer or their plans, newest first
	Payments         []CustomerPayment // payments on their installments, newest first
	Receipts         []CustomerReceipt // delivery receipts matched to their notices, newest first
	Audit            []AuditEntry      // admin actions on their notices (resends), newest first
	OptOutChanges    []OptOutChange    // every change of an opt-out flag, newest first
}

// OptOutChange is one change of a customer's SMS or email opt-out, recorded
// by a trigger whoever wrote the customer row.
type OptOutChange struct {
	Channel   string    `db:"channel"`
	OptOut    bool      `db:"opt_out"`
	ChangedAt time.Time `db:"changed_at"`
	DBUser    string    `db:"db_user"`
}

// CustomerNoticeLimit caps the notices on a customer page.
const CustomerNoticeLimit = 200

// CustomerEvent is a channel event on a customer page.
type CustomerEvent struct {
	Ref         string          `db:"ref"`
	Kind        string          `db:"kind"`
	Scope       string          `db:"scope"`
	PlanRef     string          `db:"plan_ref"`
	Payload     json.RawMessage `db:"payload"`
	OccurredAt  time.Time       `db:"occurred_at"`
	ProcessedAt *time.Time      `db:"processed_at"`
}

// CustomerPayment is a payment on a customer page.
type CustomerPayment struct {
	PlanRef  string    `db:"plan_ref"`
	Currency string    `db:"currency"`
	Seq      int       `db:"seq"`
	Ref      string    `db:"ref"`
	Amount   int64     `db:"amount"`
	PaidAt   time.Time `db:"paid_at"`
}

// CustomerReceipt is a delivery receipt on a customer page.
type CustomerReceipt struct {
	NotificationID int64     `db:"notification_id"`
	Provider       string    `db:"provider"`
	Status         string    `db:"status"`
	ProviderStatus string    `db:"provider_status"`
	Code           string    `db:"code"`
	Description    string    `db:"description"`
	ReceivedAt     time.Time `db:"received_at"`
}

// GetCustomerView loads a customer by ref with their plans, installments,
// notices, events, payments, receipts and the audited actions on their
// notices. An unknown ref is ErrNotFound.
func (r *Repo) GetCustomerView(ctx context.Context, ref string) (CustomerView, error) {
	var v CustomerView
	if err := r.db.GetContext(ctx, &v.Customer, `SELECT * FROM customers WHERE ref = $1`, ref); err != nil {
		return v, NotFound(err, "customer "+ref)
	}
	id := v.Customer.ID
	v.Plans = []Plan{}
	if err := r.db.SelectContext(ctx, &v.Plans, `SELECT p.*, $2::text AS customer_ref FROM plans p
		WHERE p.customer_id = $1 ORDER BY p.created_at DESC, p.id DESC`, id, ref); err != nil {
		return v, fmt.Errorf("customer view: plans: %w", err)
	}
	planIDs := make([]int64, len(v.Plans))
	byID := map[int64]*Plan{}
	for i := range v.Plans {
		planIDs[i] = v.Plans[i].ID
		byID[v.Plans[i].ID] = &v.Plans[i]
		v.Plans[i].Installments = []Installment{}
	}
	var insts []Installment
	if err := r.db.SelectContext(ctx, &insts, `SELECT * FROM installments WHERE plan_id = ANY($1) ORDER BY plan_id, seq`,
		pq.Array(planIDs)); err != nil {
		return v, fmt.Errorf("customer view: installments: %w", err)
	}
	for _, in := range insts {
		byID[in.PlanID].Installments = append(byID[in.PlanID].Installments, in)
	}
	v.Notices = []NoticeSummary{}
	if err := r.db.SelectContext(ctx, &v.Notices, `SELECT `+NoticeSummaryColumns+` FROM `+NoticeSummaryFrom+`
		WHERE n.customer_id = $1 ORDER BY n.id DESC LIMIT $2`, id, CustomerNoticeLimit+1); err != nil {
		return v, fmt.Errorf("customer view: notices: %w", err)
	}
	if len(v.Notices) > CustomerNoticeLimit {
		v.Notices, v.NoticesTruncated = v.Notices[:CustomerNoticeLimit], true
	}
	v.Events = []CustomerEvent{}
	if err := r.db.SelectContext(ctx, &v.Events, `SELECT e.ref, e.kind, e.scope, coalesce(p.ref, '') AS plan_ref,
			e.payload, e.occurred_at, e.processed_at
		FROM channel_events e LEFT JOIN plans p ON p.id = e.plan_id
		WHERE e.customer_id = $1 OR e.id IN (SELECT event_id FROM notifications WHERE customer_id = $1 AND event_id IS NOT NULL)
		ORDER BY e.occurred_at DESC, e.id DESC LIMIT $2`, id, CustomerNoticeLimit); err != nil {
		return v, fmt.Errorf("customer view: events: %w", err)
	}
	v.Payments = []CustomerPayment{}
	if err := r.db.SelectContext(ctx, &v.Payments, `SELECT p.ref AS plan_ref, p.currency, i.seq, coalesce(pm.ref, '') AS ref,
			pm.amount, pm.paid_at
		FROM payments pm JOIN installments i ON i.id = pm.installment_id JOIN plans p ON p.id = i.plan_id
		WHERE p.customer_id = $1 ORDER BY pm.paid_at DESC, pm.id DESC LIMIT $2`, id, CustomerNoticeLimit); err != nil {
		return v, fmt.Errorf("customer view: payments: %w", err)
	}
	noticeIDs := make([]int64, len(v.Notices))
	targets := make([]string, len(v.Notices))
	for i, n := range v.Notices {
		noticeIDs[i] = n.ID
		targets[i] = fmt.Sprintf("notification:%d", n.ID)
	}
	v.Receipts = []CustomerReceipt{}
	if err := r.db.SelectContext(ctx, &v.Receipts, `SELECT notification_id, provider, status, provider_status, code,
			description, received_at
		FROM sms_receipts WHERE notification_id = ANY($1) ORDER BY received_at DESC, id DESC LIMIT $2`,
		pq.Array(noticeIDs), CustomerNoticeLimit); err != nil {
		return v, fmt.Errorf("customer view: receipts: %w", err)
	}
	v.Audit = []AuditEntry{}
	if err := r.db.SelectContext(ctx, &v.Audit, `SELECT id, at, actor, action, target, detail FROM audit_log
		WHERE target = ANY($1) ORDER BY at DESC, id DESC LIMIT $2`, pq.Array(targets), CustomerNoticeLimit); err != nil {
		return v, fmt.Errorf("customer view: audit: %w", err)
	}
	v.OptOutChanges = []OptOutChange{}
	if err := r.db.SelectContext(ctx, &v.OptOutChanges, `SELECT channel, opt_out, changed_at, db_user
		FROM customer_opt_out_changes WHERE customer_id = $1 ORDER BY changed_at DESC, id DESC LIMIT $2`,
		id, CustomerNoticeLimit); err != nil {
		return v, fmt.Errorf("customer view: opt-out changes: %w", err)
	}
	return v, nil
}
