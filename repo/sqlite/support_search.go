package sqlite

import (
	"context"
	"fmt"
	"strings"

	"duebell/repo"
)

// supportSummaryColumns select a repo.NoticeSummary from notifications n
// joined to customers c and, left, plans p and installments i
// (supportSummaryFrom). Every instant is a plain TIMESTAMP column, so it
// scans as a time.Time.
const supportSummaryColumns = `n.id, c.ref AS customer_ref, coalesce(p.ref, '') AS plan_ref, coalesce(i.seq, 0) AS seq,
	n.kind, n.stage, n.channel, n.recipient, n.status, n.status_reason, n.attempts, n.provider,
	n.resend_of, n.requested_by, n.created_at, n.updated_at, n.sent_at`

const supportSummaryFrom = `notifications n
	JOIN customers c ON c.id = n.customer_id
	LEFT JOIN plans p ON p.id = n.plan_id
	LEFT JOIN installments i ON i.id = n.installment_id`

// supportSearchWhere builds the search's conditions, only for the filters
// set: SQLite's planner cannot pick an index through "(? = ” OR …)", so a
// customer's, plan's or address's notices are read through their index
// (notifications_customer, _plan, _recipient) instead of the whole log. The
// contact filters match the customer's contact on file or the address a
// notice was sent to.
func supportSearchWhere(f repo.NoticeFilter, before int64) (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, a ...any) {
		conds = append(conds, cond)
		args = append(args, a...)
	}
	if before > 0 {
		add(`n.id < ?`, before)
	}
	if f.CustomerRef != "" {
		add(`n.customer_id = (SELECT id FROM customers WHERE ref = ?)`, f.CustomerRef)
	}
	if f.Phone != "" {
		add(`(n.customer_id IN (SELECT id FROM customers WHERE phone = ?) OR n.recipient = ?)`, f.Phone, f.Phone)
	}
	if f.Email != "" {
		add(`(n.customer_id IN (SELECT id FROM customers WHERE email = ?) OR n.recipient = ?)`, f.Email, f.Email)
	}
	if f.PlanRef != "" {
		add(`n.plan_id = (SELECT id FROM plans WHERE ref = ?)`, f.PlanRef)
	}
	if f.Kind != "" {
		add(`n.kind = ?`, f.Kind)
	}
	if f.Channel != "" {
		add(`n.channel = ?`, f.Channel)
	}
	if f.Status != "" {
		add(`n.status = ?`, f.Status)
	}
	if !f.Since.IsZero() {
		add(`n.created_at >= ?`, f.Since)
	}
	if !f.Until.IsZero() {
		add(`n.created_at < ?`, f.Until)
	}
	if len(conds) == 0 {
		return "", nil
	}
	return "WHERE " + strings.Join(conds, "\n  AND "), args
}

// SearchNotifications returns up to limit notices matching f (call
// f.Normalize first), newest first (by id, which only grows, so a cursor is
// stable while new notices arrive), older than cursor (a NoticePage's
// NextCursor; "" for the first page). limit is clamped to
// 1..repo.MaxSearchLimit, repo.DefaultSearchLimit when 0.
func (s *Store) SearchNotifications(ctx context.Context, f repo.NoticeFilter, limit int, cursor string) (repo.NoticePage, error) {
	before, err := repo.ParseCursor(cursor)
	if err != nil {
		return repo.NoticePage{}, err
	}
	limit = repo.SearchLimit(limit)
	where, args := supportSearchWhere(f, before)
	rows := []repo.NoticeSummary{}
	if err := s.db.SelectContext(ctx, &rows, `SELECT `+supportSummaryColumns+` FROM `+supportSummaryFrom+`
		`+where+` ORDER BY n.id DESC LIMIT ?`, append(args, limit+1)...); err != nil {
		return repo.NoticePage{}, fmt.Errorf("search notifications: %w", err)
	}
	return repo.NewNoticePage(rows, limit), nil
}

// GetNotificationDetail loads a notice with its attempts, the references of
// its customer, plan and installment, its resends and, for a notice in a
// digest, the digest's notices.
func (s *Store) GetNotificationDetail(ctx context.Context, id int64) (repo.NoticeDetail, error) {
	var row struct {
		repo.Notification
		CustomerRef string `db:"customer_ref"`
		PlanRef     string `db:"plan_ref"`
		Seq         int    `db:"seq"`
	}
	if err := s.db.GetContext(ctx, &row, `
		SELECT n.*, c.ref AS customer_ref, coalesce(p.ref, '') AS plan_ref, coalesce(i.seq, 0) AS seq
		FROM `+supportSummaryFrom+` WHERE n.id = ?`, id); err != nil {
		return repo.NoticeDetail{}, supportNotFound(err, fmt.Sprintf("notification %d", id))
	}
	d := repo.NoticeDetail{Notification: row.Notification, CustomerRef: row.CustomerRef, PlanRef: row.PlanRef,
		Seq: row.Seq, DeliveryAttempts: []repo.Attempt{}, ResentAs: []repo.NoticeSummary{}}
	if err := s.db.SelectContext(ctx, &d.DeliveryAttempts,
		`SELECT * FROM delivery_attempts WHERE notification_id = ? ORDER BY n, id`, id); err != nil {
		return repo.NoticeDetail{}, fmt.Errorf("list attempts: %w", err)
	}
	if err := s.db.SelectContext(ctx, &d.ResentAs, `SELECT `+supportSummaryColumns+` FROM `+supportSummaryFrom+`
		WHERE n.resend_of = ? ORDER BY n.id`, id); err != nil {
		return repo.NoticeDetail{}, fmt.Errorf("list resends: %w", err)
	}
	if d.DigestOf != nil {
		if err := s.db.SelectContext(ctx, &d.Digest, `SELECT `+supportSummaryColumns+` FROM `+supportSummaryFrom+`
			WHERE n.digest_of = $1 ORDER BY n.id <> $1, n.id`, *d.DigestOf); err != nil {
			return repo.NoticeDetail{}, fmt.Errorf("list digest: %w", err)
		}
	}
	return d, nil
}
