// Package notify delivers queued notices: it claims them from the outbox,
// re-checks that they are still wanted, renders, sends and records each try.
package notify

import (
	"context"
	"errors"
	"fmt"
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
	To             string // E.164 phone for SMS, address for email
	ToName         string
	Subject        string // email only
	Text           string // SMS body, or the email's plain-text part
	HTML           string // email only
	// Kind and Locale name the notice for providers whose templates are
	// kept provider-side; Vars are the template's named values.
	Kind   string
	Locale string
	Vars   map[string]string
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

// PermanentError marks a failure that retrying cannot fix (bad number,
// rejected template, 4xx from the provider).
type PermanentError struct {
	Code string
	Err  error
}

func (e *PermanentError) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("permanent (%s): %v", e.Code, e.Err)
	}
	return "permanent: " + e.Err.Error()
}

func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err as a permanent failure with the provider's code.
func Permanent(code string, err error) error { return &PermanentError{Code: code, Err: err} }

// TransientError is a failure worth retrying; Code is the provider's code.
type TransientError struct {
	Code string
	Err  error
}

func (e *TransientError) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("transient (%s): %v", e.Code, e.Err)
	}
	return "transient: " + e.Err.Error()
}

func (e *TransientError) Unwrap() error { return e.Err }

// Transient wraps err as a retryable failure with the provider's code.
func Transient(code string, err error) error { return &TransientError{Code: code, Err: err} }

// IsPermanent reports whether err must not be retried.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
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
