package outbox

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"duebell/notify"
)

// SMSFile is the file, inside the outbox directory, SMS are appended to.
const SMSFile = "sms.jsonl"

// SMSLine is one line of sms.jsonl.
type SMSLine struct {
	To    string    `json:"to"`
	Body  string    `json:"body"`
	OutID string    `json:"out_id"`
	At    time.Time `json:"at"`
}

// SMS returns a sender that appends one JSON line per message to
// <dir>/sms.jsonl. Result.ProviderMsgID is "sms.jsonl:<out_id>". It is safe
// for concurrent use, and across processes each line is one O_APPEND write.
func (o *Outbox) SMS() notify.Sender { return &smsSender{o: o} }

type smsSender struct{ o *Outbox }

func (s *smsSender) Provider() string { return Provider }

func (s *smsSender) Send(ctx context.Context, m notify.Message) (notify.Result, error) {
	if err := ctx.Err(); err != nil {
		return notify.Result{}, notify.Transient("", err)
	}
	outID := strconv.FormatInt(m.NotificationID, 10)
	line, err := json.Marshal(SMSLine{To: m.To, Body: m.Text, OutID: outID, At: s.o.now().UTC()})
	if err != nil {
		return notify.Result{}, notify.Permanent("", fmt.Errorf("outbox: encode sms: %w", err))
	}
	if err := s.o.appendSMS(append(line, '\n')); err != nil {
		return notify.Result{}, notify.Transient("", err)
	}
	return notify.Result{ProviderMsgID: SMSFile + ":" + outID}, nil
}

func (o *Outbox) appendSMS(line []byte) error {
	o.smsMu.Lock()
	defer o.smsMu.Unlock()
	f, err := os.OpenFile(filepath.Join(o.dir, SMSFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	if _, err := f.Write(line); err != nil {
		_ = f.Close()
		return fmt.Errorf("outbox: write sms: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("outbox: write sms: %w", err)
	}
	return nil
}
