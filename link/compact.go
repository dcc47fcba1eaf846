package link

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"time"
)

// A compact token is 16 bytes, 22 characters of base64url, so a per-user
// link in a zh-CN SMS stays within two segments:
//
//	[0]     key tag: the first byte of SHA-256("duebell-link-kid:" + key id)
//	[1:3]   expiry, days since 1970-01-01 UTC, big-endian
//	[3:8]   notification id, big-endian (ids below 2^40)
//	[8:16]  HMAC-SHA256(secret, "duebell-link-c1" || bytes 0..7), first 8 bytes
//
// It names the notice only; plan ref and installment seq are read from the
// notice server-side (see api links/verify). Expiry is rounded up to the
// end of its UTC day. Tokens with a "." are the long form (Token).
const (
	CompactLen   = 22 // characters of a compact token
	compactBytes = 16
	compactMAC   = 8
	maxCompactID = 1<<40 - 1
	compactLabel = "duebell-link-c1"
	day          = 24 * time.Hour
)

// keyTag is the one-byte key id written into compact tokens. Two key ids
// may share a tag; Verify then tries each key that has it.
func keyTag(kid string) byte {
	h := sha256.Sum256([]byte("duebell-link-kid:" + kid))
	return h[0]
}

// CompactToken signs c.NotificationID with the current key in the compact
// form, valid until the end of the UTC day now+ttl falls in. ok is false
// when the id does not fit (negative, or 2^40 or more); use Token then.
func (s *Signer) CompactToken(c Claims, now time.Time) (tok string, ok bool) {
	if c.NotificationID < 0 || c.NotificationID > maxCompactID {
		return "", false
	}
	days := (now.Add(s.ttl).Unix() + int64(day/time.Second) - 1) / int64(day/time.Second)
	if days <= 0 || days > 0xFFFF {
		return "", false
	}
	b := make([]byte, compactBytes)
	b[0] = keyTag(s.current.ID)
	binary.BigEndian.PutUint16(b[1:3], uint16(days))
	id := uint64(c.NotificationID)
	for i := 7; i >= 3; i-- {
		b[i] = byte(id)
		id >>= 8
	}
	copy(b[8:], compactSum(s.current.Secret, b[:8]))
	return b64.EncodeToString(b), true
}

// verifyCompact checks a compact token; its claims carry the notice id and
// the expiry only.
func (s *Signer) verifyCompact(token string, now time.Time) (Claims, error) {
	b, err := b64.DecodeString(token)
	if err != nil || len(b) != compactBytes {
		return Claims{}, ErrMalformed
	}
	authentic := false
	known := false
	for kid, secret := range s.keys {
		if keyTag(kid) != b[0] {
			continue
		}
		known = true
		if hmac.Equal(b[8:], compactSum(secret, b[:8])) {
			authentic = true
			break
		}
	}
	switch {
	case !known:
		return Claims{}, ErrUnknownKey
	case !authentic:
		return Claims{}, ErrBadSignature
	}
	var id int64
	for _, x := range b[3:8] {
		id = id<<8 | int64(x)
	}
	c := Claims{NotificationID: id,
		Expires: time.Unix(int64(binary.BigEndian.Uint16(b[1:3]))*int64(day/time.Second), 0).UTC()}
	if !now.Before(c.Expires) {
		return c, ErrExpired
	}
	return c, nil
}

func compactSum(secret, head []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(compactLabel))
	h.Write(head)
	return h.Sum(nil)[:compactMAC]
}

// IsCompact reports whether token has the compact form's shape.
func IsCompact(token string) bool {
	if len(token) != CompactLen {
		return false
	}
	for i := 0; i < len(token); i++ {
		if token[i] == '.' {
			return false
		}
	}
	return true
}
