// Package outbox is a provider that writes notices to a directory instead of
// sending them, for demos and for operators trying duebell: each email is an
// .eml file any mail client opens, and SMS are lines of sms.jsonl.
package outbox

import (
	"fmt"
	"os"
	"sync"
	"time"
)

// Provider is the name both outbox senders record in the delivery log.
const Provider = "outbox"

// Outbox is a directory that receives notices.
type Outbox struct {
	dir string
	now func() time.Time

	smsMu sync.Mutex // one SMS line written at a time
}

// New creates dir if needed and returns an outbox writing into it.
func New(dir string) (*Outbox, error) {
	if dir == "" {
		return nil, fmt.Errorf("outbox: directory is required")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	return &Outbox{dir: dir, now: time.Now}, nil
}

// Dir is the directory notices are written to.
func (o *Outbox) Dir() string { return o.dir }
