// Package notify delivers queued notices: it claims them from the outbox,
// re-checks that they are still wanted, renders, sends and records each try.
package notify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Channels a notice can go out on.
const (
	ChannelSMS   = "sms"
	ChannelEmail = "email"
)

// Message is one rendered notice ready for a provider.
type Message struct {
	// NotificationID is our id for the notice. Providers use it as their
	// idempotency key / out-id so a retried send is not delivered twice.
	NotificationID int64
	// Queued is when the notice was queued: with NotificationID it names
	// the notice across databases (ids start at 1 in each), as the email
	// Message-ID must.
	Queued  time.Time
	To      string // E.164 phone for SMS, address for email
	ToName  string
	Subject string // email only
	Text    string // SMS body, or the email's plain-text part
	HTML    string // email only
	// Kind and Locale name the notice for providers whose templates are
	// kept provider-side; Vars are the template's named values.
	Kind   string
	Locale string
	Vars   map[string]string
	// Template is the template the notice renders: its kind's own, or an
	// escalation level (overdue_firm); a provider-side template mapped to
	// a level is used before the kind's (see TemplateKeys).
	Template string
}

// TemplateKeys are the provider-side template mapping keys for m, in the
// order to try: its escalation level's, then its kind's ("overdue/zh-CN"),
// in m's locale, then the same in fallback (the locale a customer whose own
// has no template filed gets: defaults.locale; "" for none).
func (m Message) TemplateKeys(fallback string) []string {
	names := []string{m.Kind}
	if m.Template != "" && m.Template != m.Kind {
		names = []string{m.Template, m.Kind}
	}
	locales := []string{m.Locale}
	if fallback != "" && fallback != m.Locale {
		locales = append(locales, fallback)
	}
	var keys []string
	for _, locale := range locales {
		for _, name := range names {
			keys = append(keys, name+"/"+locale)
		}
	}
	return keys
}

// ProviderTemplate is the template filed provider-side (Aliyun, Tencent)
// that m goes out with: the first of m.TemplateKeys(fallback) that
// templates maps. An SMS to a customer whose locale has no template goes
// out in fallback's rather than not at all.
func ProviderTemplate[T any](templates map[string]T, m Message, fallback string) (T, error) {
	for _, key := range m.TemplateKeys(fallback) {
		if t, ok := templates[key]; ok {
			return t, nil
		}
	}
	var zero T
	return zero, Permanent("no_template", fmt.Errorf("no template mapped for %q", m.Kind+"/"+m.Locale))
}

// FiledSender is a Sender whose SMS text is a template filed with the
// provider (Aliyun, Tencent), not duebell's rendering: Filed says what goes
// out for m (see FiledText), which the delivery log keeps as the message's
// body, so support reads what the borrower got; false when no template is
// mapped for m (the send then fails no_template).
type FiledSender interface {
	Filed(m Message) (string, bool)
}

// FiledText is how the delivery log shows an SMS sent as a filed template:
// its signature, its code, and each variable it takes with m's value, in
// the template's order: 【优品分期】SMS_465890001 name=李雷, amount=1,000.00.
func FiledText(sign, code string, names []string, m Message) string {
	var b strings.Builder
	b.WriteString("【" + sign + "】" + code)
	for i, n := range names {
		sep := ", "
		if i == 0 {
			sep = " "
		}
		b.WriteString(sep + n + "=" + m.Vars[n])
	}
	return b.String()
}

// Result is what a provider said about an accepted message.
type Result struct {
	ProviderMsgID string
	Code          string
}

// Sender delivers messages on one channel through one provider.
type Sender interface {
	// Provider names the provider, as recorded in the delivery log.
	Provider() string
	// Send delivers msg. A returned error is transient unless it is wrapped
	// by Permanent.
	Send(ctx context.Context, msg Message) (Result, error)
}

// Class says what a provider's answer means for duebell, beyond "retry or
// not". Each provider package maps its codes to a Class in one table.
type Class string

// The classes of a failed send.
const (
	// ClassTransient: worth retrying with backoff (network, 5xx, throttling).
	ClassTransient Class = "transient"
	// ClassPermanent: retrying cannot fix it (bad number, template, 4xx).
	ClassPermanent Class = "permanent"
	// ClassDailyLimit: a per-number daily limit; not before the provider's
	// day rolls over. Retryable, but not on the backoff schedule.
	ClassDailyLimit Class = "daily_limit"
	// ClassAccount: the provider refuses every message of this account
	// (balance, arrears, suspended, bad credentials). Retryable once the
	// account is fixed; nothing about this notice is wrong.
	ClassAccount Class = "account"
	// ClassUnsubscribed: the recipient unsubscribed or is blacklisted at the
	// provider. Permanent for this number on this channel.
	ClassUnsubscribed Class = "unsubscribed"
	// ClassNoMailbox: the email address has no mailbox (SMTP 5.1.1, 5.1.10).
	// Permanent for this address: the customer's email opt-out is set until
	// a push changes the address.
	ClassNoMailbox Class = "no_mailbox"
)

// Classes lists every Class, for metrics that must exist from start-up.
var Classes = []Class{ClassTransient, ClassPermanent, ClassDailyLimit, ClassAccount, ClassUnsubscribed, ClassNoMailbox}

// Permanent reports whether a failure of class c must not be retried for
// the notice that met it.
func (c Class) Permanent() bool {
	return c == ClassPermanent || c == ClassUnsubscribed || c == ClassNoMailbox
}

// PermanentError marks a failure that retrying cannot fix (bad number,
// rejected template, 4xx from the provider). Class is ClassPermanent or a
// finer permanent class (ClassUnsubscribed, ClassNoMailbox).
type PermanentError struct {
	Class Class
	Code  string
	Err   error
}

func (e *PermanentError) Error() string {
	return classText(e.Class, ClassPermanent, e.Code, e.Err)
}

func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err as a permanent failure with the provider's code.
func Permanent(code string, err error) error {
	return &PermanentError{Class: ClassPermanent, Code: code, Err: err}
}

// TransientError is a failure worth retrying; Code is the provider's code.
// Class is ClassTransient or a finer retryable class (ClassDailyLimit,
// ClassAccount).
type TransientError struct {
	Class Class
	Code  string
	Err   error
}

func (e *TransientError) Error() string {
	return classText(e.Class, ClassTransient, e.Code, e.Err)
}

func (e *TransientError) Unwrap() error { return e.Err }

// Transient wraps err as a retryable failure with the provider's code.
func Transient(code string, err error) error {
	return &TransientError{Class: ClassTransient, Code: code, Err: err}
}

// UnansweredError marks a failed send whose message reached the provider
// whole and whose answer never came (a timeout or a dropped connection
// while the reply was awaited): the provider may have taken it. It is
// retried as the failure it wraps (transient), and its try is logged with
// the outcome unknown, which the contact limits count as a message that
// may have reached the borrower.
type UnansweredError struct{ Err error }

func (e *UnansweredError) Error() string { return e.Err.Error() }
func (e *UnansweredError) Unwrap() error { return e.Err }

// Unanswered marks err, a transient failure, as one met after the provider
// had the whole message (see UnansweredError).
func Unanswered(err error) error { return &UnansweredError{Err: err} }

// IsUnanswered reports whether err is a failure after the provider had
// the whole message.
func IsUnanswered(err error) bool {
	var u *UnansweredError
	return errors.As(err, &u)
}

// OutageError marks a transient failure that says the provider is not
// serving at all: no connection, no reply, a 5xx, an SMTP 421. Only these
// count towards an unreachable provider's circuit (Config.OutageAfter); a
// reply about the message (an SMTP 4xx such as greylisting, a rate limit, a
// number's flow control) shows the provider at work and ends their run.
type OutageError struct{ Err error }

func (e *OutageError) Error() string { return e.Err.Error() }
func (e *OutageError) Unwrap() error { return e.Err }

// Outage marks err, a transient failure, as saying that the provider is not
// serving (see OutageError).
func Outage(err error) error { return &OutageError{Err: err} }

// IsOutage reports whether err says that the provider is not serving.
func IsOutage(err error) bool {
	var o *OutageError
	return errors.As(err, &o)
}

// Classify wraps err as a failure of class c with the provider's code: a
// PermanentError for the permanent classes, a TransientError otherwise. An
// empty class is ClassTransient.
func Classify(c Class, code string, err error) error {
	if c == "" {
		c = ClassTransient
	}
	if c.Permanent() {
		return &PermanentError{Class: c, Code: code, Err: err}
	}
	return &TransientError{Class: c, Code: code, Err: err}
}

func classText(c, def Class, code string, err error) string {
	if c == "" {
		c = def
	}
	if code != "" {
		return fmt.Sprintf("%s (%s): %v", c, code, err)
	}
	return fmt.Sprintf("%s: %v", c, err)
}

// IsPermanent reports whether err must not be retried.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// ErrorClass returns the class of err: the class a provider gave it, else
// ClassPermanent for a PermanentError and ClassTransient for anything else.
func ErrorClass(err error) Class {
	var p *PermanentError
	if errors.As(err, &p) {
		if p.Class == "" {
			return ClassPermanent
		}
		return p.Class
	}
	var t *TransientError
	if errors.As(err, &t) && t.Class != "" {
		return t.Class
	}
	return ClassTransient
}

// ErrorCode returns the provider's code carried by err, if any.
func ErrorCode(err error) string {
	var p *PermanentError
	if errors.As(err, &p) {
		return p.Code
	}
	var t *TransientError
	if errors.As(err, &t) {
		return t.Code
	}
	return ""
}

type startByKey struct{}

// WithStartBy tells a Sender the latest instant (wall clock) at which it may
// start a send: the close of the customer's send window. A sender that has
// to wait before it can start (for a free SMTP session) gives up then with
// ErrNotStarted, and the notice waits for the next opening.
func WithStartBy(ctx context.Context, t time.Time) context.Context {
	return context.WithValue(ctx, startByKey{}, t)
}

// StartBy is the instant WithStartBy set; false when none was.
func StartBy(ctx context.Context) (time.Time, bool) {
	t, ok := ctx.Value(startByKey{}).(time.Time)
	return t, ok
}

type startStopKey struct{}

// WithStartStop tells a Sender that a send not yet started when stop
// closes (the dispatcher was told to stop: a deploy) is not to start: one
// waiting for a free SMTP session gives up with ErrNotStarted, and the
// notice is given back untried. Sends already started run on to the end
// of the shutdown grace.
func WithStartStop(ctx context.Context, stop <-chan struct{}) context.Context {
	return context.WithValue(ctx, startStopKey{}, stop)
}

// StartStop is the channel WithStartStop set; nil (never ready) when none was.
func StartStop(ctx context.Context) <-chan struct{} {
	stop, _ := ctx.Value(startStopKey{}).(<-chan struct{})
	return stop
}

// ErrNotStarted is wrapped by a Sender that gave up before it tried, at its
// StartBy instant or when its StartStop closed: nothing reached the
// provider, so no attempt is counted.
var ErrNotStarted = errors.New("not started before the send window closed")
