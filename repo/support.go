package repo

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"duebell/internal/input"
	"duebell/kinds"
	"duebell/phone"
)

// ErrInvalid is wrapped by errors about bad search or resend input: a
// malformed filter, cursor, channel, or a missing reason or actor.
var ErrInvalid = errors.New("invalid")

// inputError is a bad-input error whose message names the field.
type inputError string

func (e inputError) Error() string        { return string(e) }
func (e inputError) Is(target error) bool { return target == ErrInvalid }

func invalidf(format string, args ...any) error { return inputError(fmt.Sprintf(format, args...)) }

// Search limits.
const (
	DefaultSearchLimit = 50
	MaxSearchLimit     = 200
)

// Channels a notice can go out on.
var validChannels = map[string]bool{"sms": true, "email": true}

// Statuses a notice can have.
var validStatuses = map[string]bool{StatusPending: true, StatusSending: true, StatusSent: true, StatusDelivered: true,
	StatusUndelivered: true, StatusSuppressed: true, StatusFailed: true, StatusSkipped: true}

// NoticeFilter selects notices in the delivery log. Empty fields match all.
type NoticeFilter struct {
	CustomerRef string
	Phone       string // matches the customer's phone on file or the address a notice went to
	Email       string // likewise
	PlanRef     string
	Kind        string
	Channel     string
	Status      string
	Since       time.Time // created_at >= Since
	Until       time.Time // created_at < Until
}

// Normalize puts the phone in E.164 and the email in lower case, as they are
// stored, and checks the enumerations. Errors wrap ErrInvalid and never
// repeat the phone or email.
func (f *NoticeFilter) Normalize() error {
	for _, v := range []struct{ name, s string }{{"customer_ref", f.CustomerRef}, {"phone", f.Phone},
		{"email", f.Email}, {"plan_ref", f.PlanRef}, {"kind", f.Kind}, {"channel", f.Channel}, {"status", f.Status}} {
		if err := input.Text(v.s); err != nil {
			return invalidf("%s: %v", v.name, err)
		}
		// No contact or ref is stored with one: a control character is a
		// pasted escape sequence, not a search (trimmed at an end, it
		// would search for the rest).
		if strings.IndexFunc(v.s, unicode.IsControl) >= 0 {
			return invalidf("%s: must not contain control characters", v.name)
		}
	}
	for _, v := range []struct {
		name string
		t    time.Time
	}{{"since", f.Since}, {"until", f.Until}} {
		if !v.t.IsZero() {
			if err := input.Instant(v.t); err != nil {
				return invalidf("%s: %v", v.name, err)
			}
		}
	}
	f.CustomerRef, f.PlanRef, f.Kind = strings.TrimSpace(f.CustomerRef), strings.TrimSpace(f.PlanRef), strings.TrimSpace(f.Kind)
	if p := strings.TrimSpace(f.Phone); p != "" {
		norm, err := phone.Normalize(p, "CN")
		if err != nil {
			return invalidf("phone: %v", err)
		}
		f.Phone = norm
	}
	f.Email = strings.ToLower(strings.TrimSpace(f.Email))
	switch {
	case f.Channel != "" && !validChannels[f.Channel]:
		return invalidf("channel: want sms or email")
	case f.Status != "" && !validStatuses[f.Status]:
		return invalidf("status: want one of pending, sending, sent, delivered, undelivered, suppressed, failed, skipped")
	case f.Kind != "" && !knownKind(f.Kind):
		return invalidf("kind: want one of %s", strings.Join(kinds.Names(), ", "))
	case !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until):
		return invalidf("since: must be before until")
	}
	return nil
}

// knownKind reports whether kind is in the registry (a search for another
// finds nothing and is a typo worth saying so).
func knownKind(kind string) bool {
	_, ok := kinds.Of(kind)
	return ok
}

// NoticeSummary is one row of a delivery-log search.
type NoticeSummary struct {
	ID           int64      `db:"id" json:"id"`
	CustomerRef  string     `db:"customer_ref" json:"customer_ref"`
	PlanRef      string     `db:"plan_ref" json:"plan_ref,omitempty"`
	Seq          int        `db:"seq" json:"seq,omitempty"`
	Kind         string     `db:"kind" json:"kind"`
	Stage        string     `db:"stage" json:"stage,omitempty"`
	Channel      string     `db:"channel" json:"channel"`
	Recipient    string     `db:"recipient" json:"recipient,omitempty"`
	Status       string     `db:"status" json:"status"`
	StatusReason string     `db:"status_reason" json:"status_reason,omitempty"`
	Attempts     int        `db:"attempts" json:"attempts"`
	Provider     string     `db:"provider" json:"provider,omitempty"`
	ResendOf     *int64     `db:"resend_of" json:"resend_of,omitempty"`
	RequestedBy  string     `db:"requested_by" json:"requested_by,omitempty"`
	CreatedAt    time.Time  `db:"created_at" json:"created_at"`
	UpdatedAt    time.Time  `db:"updated_at" json:"updated_at"`
	SentAt       *time.Time `db:"sent_at" json:"sent_at,omitempty"`
}

// NoticeSummaryColumns select a NoticeSummary from notifications n joined to
// customers c and, left, plans p and installments i.
const NoticeSummaryColumns = `n.id, c.ref AS customer_ref, coalesce(p.ref, '') AS plan_ref, coalesce(i.seq, 0) AS seq,
	n.kind, n.stage, n.channel, n.recipient, n.status, n.status_reason, n.attempts, n.provider,
	n.resend_of, n.requested_by, n.created_at, n.updated_at, n.sent_at`

const NoticeSummaryFrom = `notifications n
	JOIN customers c ON c.id = n.customer_id
	LEFT JOIN plans p ON p.id = n.plan_id
	LEFT JOIN installments i ON i.id = n.installment_id`

// searchSQL lists notices newest first (by id, which only grows, so a cursor
// is stable while new notices arrive). The contact filters match the
// customer's contact on file or the address a notice was sent to.
const searchSQL = `
SELECT ` + NoticeSummaryColumns + `
FROM ` + NoticeSummaryFrom + `
WHERE ($1::bigint = 0 OR n.id < $1)
  AND ($2 = '' OR n.customer_id = (SELECT id FROM customers WHERE ref = $2))
  AND ($3 = '' OR n.customer_id = ANY(SELECT id FROM customers WHERE phone = $3) OR n.recipient = $3)
  AND ($4 = '' OR n.customer_id = ANY(SELECT id FROM customers WHERE email = $4) OR n.recipient = $4)
  AND ($5 = '' OR n.plan_id = (SELECT id FROM plans WHERE ref = $5))
  AND ($6 = '' OR n.kind = $6)
  AND ($7 = '' OR n.channel = $7)
  AND ($8 = '' OR n.status = $8)
  AND ($9::timestamptz IS NULL OR n.created_at >= $9)
  AND ($10::timestamptz IS NULL OR n.created_at < $10)
ORDER BY n.id DESC
LIMIT $11`

// NoticePage is one page of a search; NextCursor is empty on the last page.
type NoticePage struct {
	Notices    []NoticeSummary `json:"notifications"`
	NextCursor string          `json:"next_cursor,omitempty"`
}

// ParseCursor reads a cursor from a previous NoticePage; "" is the first page.
func ParseCursor(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 || s[0] < '0' || s[0] > '9' {
		return 0, invalidf("cursor: not a cursor this API returned")
	}
	return id, nil
}

// SearchNotifications returns up to limit notices matching f (call
// f.Normalize first), newest first, older than cursor (a NoticePage's
// NextCursor; "" for the first page). limit is clamped to 1..MaxSearchLimit,
// DefaultSearchLimit when 0.
func (r *Repo) SearchNotifications(ctx context.Context, f NoticeFilter, limit int, cursor string) (NoticePage, error) {
	before, err := ParseCursor(cursor)
	if err != nil {
		return NoticePage{}, err
	}
	limit = SearchLimit(limit)
	rows := []NoticeSummary{}
	if err := r.db.SelectContext(ctx, &rows, searchSQL, before, f.CustomerRef, f.Phone, f.Email, f.PlanRef,
		f.Kind, f.Channel, f.Status, optTime(f.Since), optTime(f.Until), limit+1); err != nil {
		return NoticePage{}, fmt.Errorf("search notifications: %w", err)
	}
	return NewNoticePage(rows, limit), nil
}

// NoticeDetail is one notice's whole story.
type NoticeDetail struct {
	Notification
	CustomerRef string `json:"customer_ref"`
	PlanRef     string `json:"plan_ref,omitempty"`
	Seq         int    `json:"seq,omitempty"`
	// DeliveryAttempts are the tries, oldest first.
	DeliveryAttempts []Attempt `json:"delivery_attempts"`
	// ResentAs are the resends of this notice, oldest first.
	ResentAs []NoticeSummary `json:"resent_as"`
	// Digest is, for a notice in a digest, every notice of that digest (the
	// one that goes out first, then the bills it covers); empty otherwise.
	Digest []NoticeSummary `json:"digest,omitempty"`
}

// GetNotificationDetail loads a notice with its attempts, the references of
// its customer, plan and installment, and its resends.
func (q Common) GetNotificationDetail(ctx context.Context, id int64) (NoticeDetail, error) {
	var row struct {
		Notification
		CustomerRef string `db:"customer_ref"`
		PlanRef     string `db:"plan_ref"`
		Seq         int    `db:"seq"`
	}
	if err := q.db.GetContext(ctx, &row, `
		SELECT n.*, c.ref AS customer_ref, coalesce(p.ref, '') AS plan_ref, coalesce(i.seq, 0) AS seq
		FROM `+NoticeSummaryFrom+` WHERE n.id = $1`, id); err != nil {
		return NoticeDetail{}, NotFound(err, fmt.Sprintf("notification %d", id))
	}
	d := NoticeDetail{Notification: row.Notification, CustomerRef: row.CustomerRef, PlanRef: row.PlanRef, Seq: row.Seq,
		DeliveryAttempts: []Attempt{}, ResentAs: []NoticeSummary{}}
	if err := q.db.SelectContext(ctx, &d.DeliveryAttempts,
		`SELECT * FROM delivery_attempts WHERE notification_id = $1 ORDER BY n, id`, id); err != nil {
		return NoticeDetail{}, fmt.Errorf("list attempts: %w", err)
	}
	if err := q.db.SelectContext(ctx, &d.ResentAs, `SELECT `+NoticeSummaryColumns+` FROM `+NoticeSummaryFrom+`
		WHERE n.resend_of = $1 ORDER BY n.id`, id); err != nil {
		return NoticeDetail{}, fmt.Errorf("list resends: %w", err)
	}
	if d.DigestOf != nil {
		if err := q.db.SelectContext(ctx, &d.Digest, `SELECT `+NoticeSummaryColumns+` FROM `+NoticeSummaryFrom+`
			WHERE n.digest_of = $1 ORDER BY n.id <> $1, n.id`, *d.DigestOf); err != nil {
			return NoticeDetail{}, fmt.Errorf("list digest: %w", err)
		}
	}
	return d, nil
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
