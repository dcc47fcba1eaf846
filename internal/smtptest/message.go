package smtptest

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
)

// Message is one message the server accepted.
type Message struct {
	From     string   // envelope MAIL FROM
	To       []string // envelope RCPT TO
	Data     []byte   // the message exactly as received (CRLF line ends)
	AuthUser string   // the user the client authenticated as, if any
	Helo     string   // the name the client gave in EHLO (or HELO)
	// Header is the parsed top-level header; nil if Data did not parse.
	Header mail.Header
}

// Part is one leaf (non-multipart) body part, decoded.
type Part struct {
	MediaType string // lower case, for example "text/plain"
	Params    map[string]string
	Header    textproto.MIMEHeader
	// Body is the content with its transfer encoding (quoted-printable,
	// base64) removed; for text/* parts CRLF is turned into LF.
	Body string
}

// Subject returns the Subject header with RFC 2047 encoded words decoded.
func (m Message) Subject() (string, error) {
	return m.DecodedHeader("Subject")
}

// DecodedHeader returns the named top-level header with RFC 2047 encoded
// words decoded.
func (m Message) DecodedHeader(name string) (string, error) {
	if m.Header == nil {
		return "", errors.New("smtptest: message has no parsed header")
	}
	return new(mime.WordDecoder).DecodeHeader(m.Header.Get(name))
}

// Parts returns the message's leaf parts in order, walking nested multiparts.
// A message that is not multipart has one part.
func (m Message) Parts() ([]Part, error) {
	if m.Header == nil {
		return nil, errors.New("smtptest: message has no parsed header")
	}
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		return nil, fmt.Errorf("smtptest: parse message: %w", err)
	}
	return walk(textproto.MIMEHeader(msg.Header), msg.Body)
}

// Text returns the decoded body of the first text/plain part.
func (m Message) Text() (string, error) { return m.part("text/plain") }

// HTML returns the decoded body of the first text/html part.
func (m Message) HTML() (string, error) { return m.part("text/html") }

// HasPart reports whether the message has a part of the given media type.
func (m Message) HasPart(mediaType string) bool {
	_, err := m.part(mediaType)
	return err == nil
}

func (m Message) part(mediaType string) (string, error) {
	parts, err := m.Parts()
	if err != nil {
		return "", err
	}
	for _, p := range parts {
		if p.MediaType == mediaType {
			return p.Body, nil
		}
	}
	return "", fmt.Errorf("smtptest: no %s part", mediaType)
}

func walk(h textproto.MIMEHeader, body io.Reader) ([]Part, error) {
	mediaType, params := "text/plain", map[string]string{"charset": "us-ascii"}
	if ct := h.Get("Content-Type"); ct != "" {
		var err error
		mediaType, params, err = mime.ParseMediaType(ct)
		if err != nil {
			return nil, fmt.Errorf("smtptest: content type %q: %w", ct, err)
		}
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		r := multipart.NewReader(body, params["boundary"])
		var out []Part
		for {
			p, err := r.NextRawPart()
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			if err != nil {
				return nil, fmt.Errorf("smtptest: multipart: %w", err)
			}
			sub, err := walk(p.Header, p)
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
		}
	}
	decoded, err := decode(h.Get("Content-Transfer-Encoding"), body)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(mediaType, "text/") {
		decoded = strings.ReplaceAll(decoded, "\r\n", "\n")
	}
	return []Part{{MediaType: mediaType, Params: params, Header: h, Body: decoded}}, nil
}

func decode(cte string, body io.Reader) (string, error) {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body)
	case "", "7bit", "8bit", "binary":
	default:
		return "", fmt.Errorf("smtptest: unknown transfer encoding %q", cte)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return "", fmt.Errorf("smtptest: decode %s: %w", cte, err)
	}
	return string(b), nil
}
