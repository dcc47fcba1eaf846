// Package link signs and verifies repayment links, and checks that every URL
// in an outgoing message points at one of the operator's official domains.
//
// A token is base64url(payload) "." base64url(mac). The payload is compact
// binary (version, key id, notification id, plan ref, installment seq, expiry
// in unix seconds); the mac is HMAC-SHA256 over the payload bytes, truncated to
// 128 bits to keep SMS short. The key id lets old links verify after rotation.
package link

import (
	"errors"
	"time"
)

// Errors returned by Verify; compare with errors.Is.
var (
	ErrMalformed    = errors.New("link: malformed token")
	ErrBadSignature = errors.New("link: bad signature")
	ErrExpired      = errors.New("link: token expired")
	ErrUnknownKey   = errors.New("link: unknown key id")
)

// QueryParam is the query parameter that carries the token in a link.
const QueryParam = "t"

// MinSecretLen is the shortest accepted signing secret, in bytes.
const MinSecretLen = 16

// Key is one signing key. ID is written into every token it signs.
type Key struct {
	ID     string
	Secret []byte
}

// Claims is what a repayment link vouches for.
type Claims struct {
	NotificationID int64
	PlanRef        string
	Seq            int       // installment seq, 0 if none
	Expires        time.Time // set by Token/URL from now+ttl
}
