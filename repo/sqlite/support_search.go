package sqlite

import (
	"context"
	"fmt"
	"strings"

	"duebell/repo"
)

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
	if err := s.db.SelectContext(ctx, &rows, `SELECT `+repo.NoticeSummaryColumns+` FROM `+repo.NoticeSummaryFrom+`
		`+where+` ORDER BY n.id DESC LIMIT ?`, append(args, limit+1)...); err != nil {
		return repo.NoticePage{}, fmt.Errorf("search notifications: %w", err)
	}
	return repo.NewNoticePage(rows, limit), nil
}
