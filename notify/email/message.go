package email

import (
	"errors"
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	gomail "github.com/wneessen/go-mail"

	"duebell/notify"
)

// userAgent replaces go-mail's default User-Agent and X-Mailer.
const userAgent = "duebell"

// MessageID is the stable Message-ID of a notice, angle brackets included:
// "<duebell.{notificationID}.{queued}@{domain of from}>", queued being when
// the notice was queued, in microseconds since 1970 in base 36. Every send
// of the same notice carries it, so a retry after an unclear failure can be
// recognised as a duplicate; the time keeps it unique across databases
// (RFC 5322 3.6.4), whose ids all start at 1: after a move to a new
// database, or beside a staging one, Gmail would drop a reminder whose
// Message-ID an earlier email in the mailbox had. A notice without the
// time (zero) gets "<duebell.{notificationID}@…>".
func MessageID(notificationID int64, queued time.Time, from string) (string, error) {
	a, err := parseFrom(from)
	if err != nil {
		return "", err
	}
	_, domain, _ := strings.Cut(a.Address, "@")
	local := "duebell." + strconv.FormatInt(notificationID, 10)
	if !queued.IsZero() {
		local += "." + strconv.FormatInt(queued.UnixMicro(), 36)
	}
	return "<" + local + "@" + strings.ToLower(domain) + ">", nil
}

// BuildMessage turns a notice into an email from from (a bare address) and
// fromName: UTF-8 headers, a text/plain part, and a text/html alternative
// when m.HTML is set, with the stable Message-ID. Errors never contain the
// recipient's address.
func BuildMessage(from, fromName string, m notify.Message) (*gomail.Msg, error) {
	if m.NotificationID <= 0 {
		return nil, errors.New("email: notification id is required for a stable Message-ID")
	}
	fromAddr, err := parseFrom(from)
	if err != nil {
		return nil, err
	}
	to, err := mail.ParseAddress(m.To)
	if err != nil {
		return nil, fmt.Errorf("email: recipient address: %w", err)
	}
	if m.Text == "" && m.HTML == "" {
		return nil, errors.New("email: message has no body")
	}
	msgID, err := MessageID(m.NotificationID, m.Queued, from)
	if err != nil {
		return nil, err
	}

	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent(), gomail.WithEncoding(encodingFor(m.Text, m.HTML)))
	msg.FromMailAddress(&mail.Address{Name: oneLine(fromName), Address: fromAddr.Address})
	msg.ToMailAddress(&mail.Address{Name: oneLine(m.ToName), Address: to.Address})
	msg.Subject(oneLine(m.Subject))
	// go-mail adds the angle brackets itself.
	msg.SetMessageIDWithValue(strings.Trim(msgID, "<>"))
	msg.SetUserAgent(userAgent)
	msg.SetBodyString(gomail.TypeTextPlain, crlf(m.Text))
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, crlf(m.HTML))
	}
	return msg, nil
}

// crlf puts text in MIME's canonical form, lines ending CRLF (RFC 2046
// 4.1.1): base64 carries the line breaks as they are, and a bare LF in a
// decoded part runs lines together in some clients and gateways.
func crlf(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
}

// oneLine keeps a header value on one line, so a rendered subject or name
// cannot add headers.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\r' || r == '\n' }), " ")
}

// encodingFor picks the transfer encoding of a message's parts: quoted-
// printable keeps mostly-ASCII text (English) readable, but writes each
// byte of other text as three ("=E6=82=A8" for one Chinese character), so
// a message that is more than a sixth non-ASCII goes as base64 (four bytes
// for every three): smaller, and cheaper for both ends to encode and read.
func encodingFor(parts ...string) gomail.Encoding {
	var all, other int
	for _, p := range parts {
		all += len(p)
		for i := 0; i < len(p); i++ {
			if p[i] >= utf8.RuneSelf {
				other++
			}
		}
	}
	if other*6 > all {
		return gomail.EncodingB64
	}
	return gomail.EncodingQP
}
