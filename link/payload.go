package link

import (
	"encoding/binary"
	"errors"
	"time"
)

const payloadVersion = 1

var errPayload = errors.New("bad payload")

// encodePayload writes the compact binary form of a token's payload.
// Integers are uvarints of their two's-complement bits, so any value
// round-trips and the usual small positive ones take few bytes.
func encodePayload(kid string, c Claims) []byte {
	b := make([]byte, 0, 16+len(kid)+len(c.PlanRef))
	b = append(b, payloadVersion)
	b = appendString(b, kid)
	b = binary.AppendUvarint(b, uint64(c.NotificationID))
	b = appendString(b, c.PlanRef)
	b = binary.AppendUvarint(b, uint64(int64(c.Seq)))
	b = binary.AppendUvarint(b, uint64(c.Expires.Unix()))
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decodePayload is the strict inverse of encodePayload: unknown versions and
// trailing bytes are errors.
func decodePayload(b []byte) (kid string, c Claims, err error) {
	r := reader{b: b}
	if v := r.byte(); v != payloadVersion {
		return "", Claims{}, errPayload
	}
	kid = r.string()
	c.NotificationID = int64(r.uvarint())
	c.PlanRef = r.string()
	c.Seq = int(int64(r.uvarint()))
	c.Expires = time.Unix(int64(r.uvarint()), 0).UTC()
	if r.err || len(r.b) != 0 || kid == "" {
		return "", Claims{}, errPayload
	}
	return kid, c, nil
}

// reader consumes b; after the first failure every read returns zero and
// err stays set.
type reader struct {
	b   []byte
	err bool
}

func (r *reader) byte() byte {
	if r.err || len(r.b) == 0 {
		r.err = true
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) uvarint() uint64 {
	if r.err {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) string() string {
	n := r.uvarint()
	if r.err || n > uint64(len(r.b)) {
		r.err = true
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}
