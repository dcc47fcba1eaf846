package outbox

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"duebell/notify"
	"duebell/notify/email"
)

// Email returns a sender that writes each email, built exactly as the SMTP
// sender builds it (same stable Message-ID), to
// <dir>/<UTC yyyymmddThhmmss>-<NotificationID>.eml. Result.ProviderMsgID is
// the file name.
func (o *Outbox) Email(from, fromName string) notify.Sender {
	return &emailSender{o: o, from: from, fromName: fromName}
}

type emailSender struct {
	o              *Outbox
	from, fromName string
}

func (s *emailSender) Provider() string { return Provider }

func (s *emailSender) Send(ctx context.Context, m notify.Message) (notify.Result, error) {
	if err := ctx.Err(); err != nil {
		return notify.Result{}, notify.Transient("", err)
	}
	msg, err := email.BuildMessage(s.from, s.fromName, m)
	if err != nil {
		return notify.Result{}, notify.Permanent("", err)
	}
	now := s.o.now().UTC()
	msg.SetDateWithValue(now)
	name := now.Format("20060102T150405") + "-" + strconv.FormatInt(m.NotificationID, 10) + ".eml"

	// Write to a temporary file and rename, so a reader never sees half a
	// message. A resend of one notice within the same second replaces it.
	tmp, err := os.CreateTemp(s.o.dir, ".tmp-*.eml")
	if err != nil {
		return notify.Result{}, notify.Transient("", fmt.Errorf("outbox: %w", err))
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	// go-mail writes a message in many small pieces: buffered, one write.
	w := bufio.NewWriterSize(tmp, 32<<10)
	_, err = msg.WriteTo(w)
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		_ = tmp.Close()
		return notify.Result{}, notify.Transient("", fmt.Errorf("outbox: write email: %w", err))
	}
	if err := tmp.Close(); err != nil {
		return notify.Result{}, notify.Transient("", fmt.Errorf("outbox: write email: %w", err))
	}
	if err := os.Rename(tmp.Name(), filepath.Join(s.o.dir, name)); err != nil {
		return notify.Result{}, notify.Transient("", fmt.Errorf("outbox: %w", err))
	}
	return notify.Result{ProviderMsgID: name}, nil
}
