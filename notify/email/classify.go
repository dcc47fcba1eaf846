package email

import (
	"cmp"
	"context"
	"errors"
	"io"
	"net"
	"net/textproto"
	"os"
	"regexp"
	"strconv"
	"strings"

	gomail "github.com/wneessen/go-mail"

	"duebell/mask"
	"duebell/notify"
)

// maxDetail caps the server text kept in an error.
const maxDetail = 300

// replyClasses is the table of SMTP replies whose meaning goes beyond "retry
// or not": the relay refuses our account, not this message. The README's
// provider table mirrors it.
var replyClasses = map[int]notify.Class{
	530: notify.ClassAccount, // authentication required (no or wrong credentials configured)
	534: notify.ClassAccount, // authentication mechanism too weak
	535: notify.ClassAccount, // authentication credentials invalid
}

// classify turns a go-mail error into notify's error classes. A reply in
// replyClasses has its class, wherever it came. A 5xx reply to MAIL FROM
// refuses the sender, which every message shares (a daily sending quota,
// Gmail's 550 5.4.5; a From the account may not use, Office 365's 550
// 5.7.60): the account class, which opens the relay's circuit rather than
// failing every queued email for good; but for 552, the message's declared
// size. A 5xx reply to RCPT whose enhanced status (RFC 3463) says the
// address has no mailbox — 5.1.1, bad destination mailbox; 5.1.10, the
// domain takes no mail (RFC 7505) — is no_mailbox: the customer's email
// opt-out is set until the address changes. Other 5xx replies to RCPT or
// DATA reject this message: permanent (a policy or spam refusal says
// nothing lasting about the address).
// Everything else — 4xx replies, refused or dropped connections, timeouts,
// and failures while connecting or in STARTTLS (which concern the relay,
// not the message) — is transient, with the SMTP code when there is one
// (else "timeout" or "network"); one that says the relay is not serving is
// notify.Outage too (relayDown), and one after the relay had the whole
// message, while its reply was awaited, notify.Unanswered: the relay may
// have taken the message.
func classify(ctx context.Context, err error) error {
	out := classifyFailure(ctx, err)
	if notify.ErrorClass(out) == notify.ClassTransient && relayDown(err) {
		out = notify.Outage(out)
	}
	if unanswered(err) {
		out = notify.Unanswered(out)
	}
	return out
}

// relayDown reports whether err says that the relay is not serving: it
// could not be reached or did not answer (no reply code: the connection was
// refused, broke or timed out), or it answered 421, closing the connection.
// Only these count towards its unreachable circuit (notify.Outage); a reply
// about the message (a 4xx such as greylisting or a recipient's rate
// limit) shows the relay at work, and a message go-mail could not read
// (its sender or recipients) is no news of the relay at all.
func relayDown(err error) bool {
	var se *gomail.SendError
	if errors.As(err, &se) {
		switch se.Reason {
		case gomail.ErrGetSender, gomail.ErrGetRcpts, gomail.ErrNoUnencoded, gomail.ErrAmbiguous:
			return false
		}
	}
	if _, code, _, ok := relayReply(err); ok {
		return code == 0 || code == 421
	}
	var te *textproto.Error // a reply while connecting: the greeting, EHLO, STARTTLS
	if errors.As(err, &te) {
		return te.Code == 421
	}
	return transportCode(context.Background(), err) != "" || errors.Is(err, context.Canceled)
}

// transportCode is the code of a failure that got no reply, as the SMS
// providers give it (smshttp.TransportError): "timeout" when a deadline
// passed (the Send's, or the connection's), "network" for a connection
// refused or broken, "" for anything else (a certificate refused, a
// message go-mail could not read).
//
// go-mail's SendError keeps the error it wraps to itself (no Unwrap): a
// read that hit the connection's deadline (go-mail's WithTimeout, set per
// command) shows only in its text. Read without it, a relay that timed
// out after the message was "network" whenever that deadline came before
// the Send's own (a loaded machine).
func transportCode(ctx context.Context, err error) string {
	var ne net.Error
	var se *gomail.SendError
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded), errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout(),
		errors.As(err, &se) && strings.Contains(se.Error(), os.ErrDeadlineExceeded.Error()):
		return "timeout"
	case errors.As(err, &ne), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "network"
	}
	return ""
}

// unanswered reports whether err broke a send after the relay had the
// whole message and before its reply came: no reply code to the message's
// final ".", in a pipelined send (replyError.whole) or go-mail's own
// (closing its DATA writer sends the "." and reads the reply).
func unanswered(err error) bool {
	var re *replyError
	if errors.As(err, &re) {
		return re.whole && re.code() == 0
	}
	var se *gomail.SendError
	return errors.As(err, &se) && se.Reason == gomail.ErrSMTPDataClose && se.ErrorCode() == 0
}

// classifyFailure is classify without the outage and unanswered marks.
func classifyFailure(ctx context.Context, err error) error {
	if cmd, code, detail, ok := relayReply(err); ok {
		detail = redact(detail)
		if c, ok := replyClasses[code]; ok {
			return notify.Classify(c, strconv.Itoa(code), errors.New(detail))
		}
		if cmd == "MAIL" && code >= 500 && code < 600 && code != 552 {
			return notify.Classify(notify.ClassAccount, strconv.Itoa(code), errors.New(detail))
		}
		if cmd == "RCPT" && code >= 500 && code < 600 && noMailbox.MatchString(detail) {
			return notify.Classify(notify.ClassNoMailbox, strconv.Itoa(code), errors.New(detail))
		}
		if code >= 500 && code < 600 {
			return notify.Permanent(strconv.Itoa(code), errors.New(detail))
		}
		if code == 0 { // no reply: the connection broke, or timed out
			return notify.Transient(cmp.Or(transportCode(ctx, err), "network"), errors.New(detail))
		}
		return notify.Transient(strconv.Itoa(code), errors.New(detail))
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return notify.Transient(transportCode(ctx, err), ctxErr)
	}
	var te *textproto.Error
	if errors.As(err, &te) {
		return notify.Classify(replyClasses[te.Code], strconv.Itoa(te.Code), errors.New(redact(err.Error())))
	}
	if authUnsupported(err) { // every message fails alike until the config changes
		return notify.Classify(notify.ClassAccount, "auth_mechanism", errors.New(redact(err.Error())))
	}
	return notify.Transient(transportCode(ctx, err), errors.New(redact(err.Error())))
}

// authUnsupported reports whether the relay offers no AUTH, not the
// mechanism email.auth names, or none go-mail can discover. go-mail has a
// sentinel for each named mechanism but not for "no AUTH at all"; all say
// "server does not support SMTP AUTH".
func authUnsupported(err error) bool {
	return errors.Is(err, gomail.ErrNoSupportedAuthDiscovered) ||
		strings.Contains(err.Error(), "server does not support SMTP AUTH")
}

// noMailbox finds the enhanced status codes that say the address has no
// mailbox: 5.1.1 and 5.1.10, not 5.1.100-something else.
var noMailbox = regexp.MustCompile(`(?:^|[^0-9.])5\.1\.(?:1|10)(?:[^0-9.]|\.?$)`)

// relayReply reads a failed send (go-mail's or a pipelined one): the
// command whose reply failed (MAIL, RCPT, DATA, "." for the message, NOOP
// for go-mail's connection check; "" for others), the relay's reply code (0
// when none came: the connection broke), and the error's text without the
// recipient list go-mail appends. ok is false for other errors (dialing,
// STARTTLS, AUTH).
func relayReply(err error) (cmd string, code int, detail string, ok bool) {
	var re *replyError
	if errors.As(err, &re) {
		return re.cmd, re.code(), re.Error(), true
	}
	var se *gomail.SendError
	if !errors.As(err, &se) {
		return "", 0, "", false
	}
	switch se.Reason {
	case gomail.ErrConnCheck:
		cmd = "NOOP"
	case gomail.ErrSMTPMailFrom:
		cmd = "MAIL"
	case gomail.ErrSMTPRcptTo:
		cmd = "RCPT"
	}
	return cmd, se.ErrorCode(), sendErrorText(se), true
}

// sendErrorText is SendError's message without the recipient list and
// message id it appends.
func sendErrorText(se *gomail.SendError) string {
	s := se.Error()
	for _, cut := range []string{", affected recipient(s): ", ", affected message ID: "} {
		if i := strings.Index(s, cut); i >= 0 {
			s = s[:i]
		}
	}
	return s
}

// redact hides the addresses and phone numbers in s (servers echo the
// recipient in their replies) and caps its length (mask.Quote).
func redact(s string) string { return mask.Quote(s, maxDetail) }
