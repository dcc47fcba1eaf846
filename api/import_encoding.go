package api

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
)

const codeBadEncoding = "bad_encoding"

// badEncodingError is a body that says how it is compressed and cannot be
// read so: not gzip at all, corrupt, or cut off.
type badEncodingError struct{ err error }

func (e *badEncodingError) Error() string { return "the gzip body cannot be read: " + e.err.Error() }
func (e *badEncodingError) Unwrap() error { return e.err }

// decodedBody returns what a request's body of kind (NDJSON for an import,
// JSON for the other routes) reads as, given its Content-Encoding: the body
// itself (none, identity), or the body decompressed (gzip, x-gzip) and at
// most max bytes once decompressed, so a small gzip bomb is as too large as
// what it expands to. Any other coding, or more than one, is a 415: read as
// it is, a compressed body would be refused as malformed JSON, which sends
// the client looking for the wrong fault.
func decodedBody(h http.Header, body io.Reader, max int64, kind string) (io.Reader, error) {
	// Every Content-Encoding header counts: Get would read the first of
	// two (gzip, then br) and decode a body coded twice as if once.
	enc := strings.Join(h.Values("Content-Encoding"), ", ")
	switch strings.ToLower(strings.TrimSpace(enc)) {
	case "", "identity":
		return body, nil
	case "gzip", "x-gzip":
		return gunzip(body, max)
	}
	return nil, &apiError{http.StatusUnsupportedMediaType, codeUnsupportedMedia,
		fmt.Sprintf("Content-Encoding %q is not supported: send the %s as it is or gzip-compressed (Content-Encoding: gzip)", enc, kind)}
}

// gunzip reads gzip from r (its header at once), at most max bytes of
// what it expands to; a read error of the gzip stream is a
// *badEncodingError, more than max an *http.MaxBytesError.
func gunzip(r io.Reader, max int64) (io.Reader, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, gzipError(err)
	}
	return &gzipBody{zr: zr, left: max, max: max}, nil
}

type gzipBody struct {
	zr        *gzip.Reader
	left, max int64
}

func (g *gzipBody) Read(p []byte) (int, error) {
	if g.left <= 0 {
		// One byte more tells a stream of exactly max bytes from a longer one.
		var one [1]byte
		if n, err := g.zr.Read(one[:]); n == 0 && err != nil {
			return 0, g.wrap(err)
		}
		return 0, &http.MaxBytesError{Limit: g.max}
	}
	if int64(len(p)) > g.left {
		p = p[:g.left]
	}
	n, err := g.zr.Read(p)
	g.left -= int64(n)
	return n, g.wrap(err)
}

func (g *gzipBody) wrap(err error) error { return gzipError(err) }

// gzipError is err of reading a gzip stream as a *badEncodingError when the
// stream is at fault; the end of the stream, a body over the limit and a
// failed read of the connection (cut off, or stalled past its deadline:
// its text names the sockets) pass as they are.
func gzipError(err error) error {
	var (
		tooLarge *http.MaxBytesError
		netErr   net.Error
	)
	if err == nil || err == io.EOF || errors.As(err, &tooLarge) || errors.As(err, &netErr) {
		return err
	}
	return &badEncodingError{err}
}

// SniffGzip returns a reader of r's content, decompressed when r is gzip
// (it starts with gzip's magic bytes, which no NDJSON line can), for
// `duebell import` of a file such as book.ndjson.gz; gz says which.
func SniffGzip(r io.Reader) (content io.Reader, gz bool, err error) {
	br := bufio.NewReader(r)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		content, err = gunzip(br, 1<<62)
		return content, true, err
	}
	return br, false, nil
}
