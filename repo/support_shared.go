package repo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"

	"duebell/internal/input"
)

// The support area's pure-Go rules, shared by every store: each store keeps
// only its dialect's SQL and calls these for validation, outcomes and
// results, so the two cannot drift apart.

// SearchLimit clamps a search's page size to 1..MaxSearchLimit,
// DefaultSearchLimit when limit is 0 or less.
func SearchLimit(limit int) int {
	if limit <= 0 {
		limit = DefaultSearchLimit
	}
	return min(limit, MaxSearchLimit)
}

// NewNoticePage builds a page from up to limit+1 rows fetched newest first:
// the extra row only says there is a next page, whose cursor is the last
// row shown.
func NewNoticePage(rows []NoticeSummary, limit int) NoticePage {
	if rows == nil {
		rows = []NoticeSummary{}
	}
	page := NoticePage{Notices: rows}
	if len(rows) > limit {
		page.Notices = rows[:limit]
		page.NextCursor = strconv.FormatInt(rows[limit-1].ID, 10)
	}
	return page
}

// IdempotencyScopeResend is the scope a single resend records its key under.
const IdempotencyScopeResend = idempotencyScopeResend

// ResendTarget is the audit target naming notice id.
func ResendTarget(id int64) string { return fmt.Sprintf("notification:%d", id) }

// KeyTargetOf is what an idempotency key of resend in is recorded for: the
// notice and what decides the message (channel, force), so a key reused
// with other parameters is refused rather than answered with the first
// request's notice. A plain resend records the notice alone, as keys did
// before the parameters were recorded. Naming the notice's own channel
// (read through q, both stores' SQL) is the same request as naming none
// (the console always names one), so a retry that spells it out replays;
// an unknown notice records the request as it is (the resend then answers
// not found).
func KeyTargetOf(ctx context.Context, q sqlx.QueryerContext, in ResendInput) (string, error) {
	channel := in.Channel
	if channel != "" {
		var own string
		err := sqlx.GetContext(ctx, q, &own, `SELECT channel FROM notifications WHERE id = $1`, in.ID)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return "", fmt.Errorf("resend: %w", err)
		}
		if channel == own {
			channel = ""
		}
	}
	if channel == "" && !in.Force {
		return ResendTarget(in.ID), nil
	}
	return fmt.Sprintf("%s channel=%s force=%t", ResendTarget(in.ID), channel, in.Force), nil
}

// Prepare checks a single resend request (ErrInvalid) and sets Now when
// zero.
func (in *ResendInput) Prepare() error {
	if err := checkResendInput(in.Reason, in.Actor, in.Channel); err != nil {
		return err
	}
	if len(in.IdempotencyKey) > MaxIdempotencyKeyLen || !printableASCII(in.IdempotencyKey) {
		return invalidf("idempotency key: want at most %d printable ASCII characters", MaxIdempotencyKeyLen)
	}
	if in.Now.IsZero() {
		in.Now = time.Now()
	}
	return nil
}

// PriorResend decides what a repeated idempotency key answers: the notice
// the first request queued, or ErrConflict when the key was used for
// another request (another scope or target) or its request never queued a
// notice.
func PriorResend(scope, target string, notificationID sql.NullInt64, wantTarget string) (int64, error) {
	if scope != idempotencyScopeResend || target != wantTarget || !notificationID.Valid {
		return 0, fmt.Errorf("idempotency key was already used for another request: %w", ErrConflict)
	}
	return notificationID.Int64, nil
}

// ResendCheck is what a store loads about the original before a single
// resend: its status, the channel the resend goes out on, why it should not
// (settled: "installment paid", "installment waived", "plan cancelled",
// "plan closed" for a kind that asks for payment, ReasonDigestSettled for
// a digest; unreachable: "opted_out", "no_phone", "no_email"), and why
// it would ask for nothing owed, which Force does not override
// (NothingOwedSQL: "installment paid" or "installment waived" for a kind
// that asks for payment, ReasonDigestNothingOwed for a digest; "" when
// something is owed or the kind asks for nothing), and a resend of it on
// that channel still queued (QueuedResendSQL), which Force overrides.
type ResendCheck struct {
	Status       string        `db:"status"`
	Channel      string        `db:"channel"`
	Settled      string        `db:"settled"`
	NothingOwed  string        `db:"nothing_owed"`
	Unreachable  string        `db:"unreachable"`
	QueuedResend sql.NullInt64 `db:"queued_resend"`
}

// QueuedResendSQL is the newest resend of notice n on channel ch that is
// still queued (pending or sending), or NULL: a support agent's second
// click, or a client retrying a resend without an idempotency key, would
// otherwise queue the same reminder again and again, each copy spending the
// customer's SMS cap.
func QueuedResendSQL(ch string) string {
	return `(SELECT max(r.id) FROM notifications r WHERE r.resend_of = n.id AND r.channel = ` + ch + `
		AND r.status IN ('pending', 'sending'))`
}

// ResendAuditDetail is the audit_log detail of a queued single resend.
func ResendAuditDetail(in ResendInput, channel string, resendID int64) map[string]any {
	detail := map[string]any{"reason": in.Reason, "channel": channel, "force": in.Force, "resend_id": resendID}
	if in.IdempotencyKey != "" {
		detail["idempotency_key"] = in.IdempotencyKey
	}
	return detail
}

// Prepare checks a bulk resend request (ErrInvalid) and sets Now when zero.
func (in *BulkResendInput) Prepare() error {
	if err := in.Filter.Validate(); err != nil {
		return err
	}
	if err := checkResendInput(in.Reason, in.Actor, ""); err != nil {
		return err
	}
	if in.Now.IsZero() {
		in.Now = time.Now()
	}
	return nil
}

// NewBulkResendResult is an empty result of a bulk resend.
func NewBulkResendResult(dryRun bool) BulkResendResult {
	return BulkResendResult{DryRun: dryRun, Skipped: map[string]int{}, Sample: []NoticeSummary{}}
}

// Add counts n matched candidates skipped for skip ("" = resent).
func (res *BulkResendResult) Add(skip string, n int) {
	res.Matched += n
	if skip == "" {
		res.Count = n
	} else {
		res.Skipped[skip] = n
	}
}

// CheckQueued is the error when a bulk resend queued another number of
// notices than it counted (nil when they agree).
func (res BulkResendResult) CheckQueued(queued int) error {
	if queued != res.Count {
		return fmt.Errorf("bulk resend: queued %d of %d", queued, res.Count)
	}
	return nil
}

// AuditDetail is the audit_log detail of a bulk resend of f.
func (res BulkResendResult) AuditDetail(f BulkFilter, reason string) map[string]any {
	return map[string]any{"filter": f, "reason": reason, "matched": res.Matched, "count": res.Count, "skipped": res.Skipped}
}

// Refusal is the ErrConflict a resend of in.ID gets, or nil. Nothing owed
// comes first: force would not help, so the refusal does not suggest it.
func (chk ResendCheck) Refusal(in ResendInput) error {
	switch {
	case chk.NothingOwed != "":
		return fmt.Errorf("notification %d: %s; a reminder would ask for nothing owed: %w", in.ID, chk.NothingOwed, ErrConflict)
	case (chk.Status == StatusPending || chk.Status == StatusSending) && !in.Force:
		return fmt.Errorf("notification %d is still queued (%s) and will be sent; resend with force to queue another: %w",
			in.ID, chk.Status, ErrConflict)
	case chk.Settled != "" && !in.Force:
		return fmt.Errorf("notification %d: %s; resend with force to send it anyway: %w", in.ID, chk.Settled, ErrConflict)
	case chk.QueuedResend.Valid && !in.Force:
		return fmt.Errorf("notification %d already has a resend by %s queued (notification %d), which will be sent; "+
			"resend with force to queue another: %w", in.ID, chk.Channel, chk.QueuedResend.Int64, ErrConflict)
	case chk.Unreachable == "opted_out":
		return fmt.Errorf("notification %d: the customer opted out of %s: %w", in.ID, chk.Channel, ErrConflict)
	case chk.Unreachable != "":
		return fmt.Errorf("notification %d: the customer has no %s on file: %w", in.ID,
			strings.TrimPrefix(chk.Unreachable, "no_"), ErrConflict)
	}
	return nil
}

func checkResendInput(reason, actor, channel string) error {
	for _, f := range []struct{ name, s string }{{"reason", reason}, {"actor", actor}} {
		if err := input.Text(f.s); err != nil { // the CLI passes flags as given
			return invalidf("%s: %v", f.name, err)
		}
		// The audit trail shows the reason: an unclosed override would
		// show the rest of its line reversed.
		if err := input.BidiControl(f.s); err != nil {
			return invalidf("%s: %v", f.name, err)
		}
	}
	switch {
	case strings.TrimSpace(reason) == "":
		return invalidf("reason: is required")
	case utf8.RuneCountInString(reason) > MaxReasonChars:
		return invalidf("reason: longer than %d characters", MaxReasonChars)
	case strings.TrimSpace(actor) == "":
		return invalidf("actor: is required")
	case channel != "" && !validChannels[channel]:
		return invalidf("channel: want sms or email")
	}
	return nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
