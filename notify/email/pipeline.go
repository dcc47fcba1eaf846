package email

import (
	"errors"
	"net/textproto"
	"strings"

	gomail "github.com/wneessen/go-mail"
)

// replyError is a failed step of a pipelined transaction: the command
// (MAIL, RCPT, DATA, or "." for the message and the reply to it) and what
// went wrong, a *textproto.Error when the relay replied. whole says the
// relay had the whole message, its final "." included: only its reply
// failed.
type replyError struct {
	cmd   string
	err   error
	whole bool
}

func (e *replyError) Error() string { return "smtp " + e.cmd + ": " + e.err.Error() }
func (e *replyError) Unwrap() error { return e.err }

// code is the relay's reply code, 0 when none came (the connection broke).
func (e *replyError) code() int {
	var te *textproto.Error
	if errors.As(e.err, &te) {
		return te.Code
	}
	return 0
}

// sendPipelined sends msg over ss with its envelope pipelined (RFC 2920, on
// relays that offer PIPELINING): MAIL FROM, RCPT TO and DATA go in one
// write and their replies are read after it, then the message and the reply
// to it. Two round trips a message instead of four; a pooled session spent
// most of its time waiting for them. The MAIL FROM parameters are those
// go-mail's own MAIL would send. It reports whether the relay took the
// message.
func sendPipelined(ss *session, msg *gomail.Msg) (delivered bool, err error) {
	from, err := msg.GetSender(false)
	if err != nil {
		return false, err
	}
	rcpts, err := msg.GetRecipients()
	if err != nil {
		return false, err
	}
	// An address is one line: a CR or LF in it would add commands.
	for _, a := range append([]string{from}, rcpts...) {
		if strings.ContainsAny(a, "\r\n") {
			return false, errors.New("smtp: an address contains a line break")
		}
	}
	var b strings.Builder
	b.WriteString("MAIL FROM:" + from)
	if ok, _ := ss.client.Extension("8BITMIME"); ok {
		b.WriteString(" BODY=8BITMIME")
	}
	if ok, _ := ss.client.Extension("SMTPUTF8"); ok {
		b.WriteString(" SMTPUTF8")
	}
	b.WriteString("\r\n")
	for _, r := range rcpts {
		b.WriteString("RCPT TO:" + r + "\r\n")
	}
	b.WriteString("DATA\r\n")

	t := ss.client.Text
	if _, err := t.W.WriteString(b.String()); err != nil {
		return false, &replyError{cmd: "MAIL", err: err}
	}
	if err := t.W.Flush(); err != nil {
		return false, &replyError{cmd: "MAIL", err: err}
	}
	// Every reply is read, so that the session stays in step with the relay
	// whatever it refused; the first refusal is the one reported.
	var first error
	read := func(cmd string, want int) {
		if _, _, err := t.ReadResponse(want); err != nil && first == nil {
			first = &replyError{cmd: cmd, err: err}
		}
	}
	read("MAIL", 250)
	for range rcpts {
		read("RCPT", 25)
	}
	_, _, dataErr := t.ReadResponse(354)
	if first != nil {
		if dataErr == nil {
			// The relay would take a message without its envelope (against
			// RFC 2920): end the session without sending one.
			_ = ss.client.Close()
		}
		return false, first
	}
	if dataErr != nil {
		return false, &replyError{cmd: "DATA", err: dataErr}
	}
	w := &dotWriter{w: t.W}
	if _, err := msg.WriteTo(w); err != nil {
		// Not closed: its "." would end the message where it broke off,
		// and the relay would take it cut short. The session is dropped.
		return false, &replyError{cmd: ".", err: err}
	}
	if err := w.Close(); err != nil {
		return false, &replyError{cmd: ".", err: err}
	}
	if _, _, err := t.ReadResponse(250); err != nil {
		return false, &replyError{cmd: ".", err: err, whole: true}
	}
	return true, nil
}
