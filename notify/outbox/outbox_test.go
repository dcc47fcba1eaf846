package outbox

import (
	"bufio"
	"context"
	"encoding/json"
	"mime"
	"net/mail"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"duebell/notify"
)

var fixed = time.Date(2025, 7, 1, 9, 2, 3, 0, time.FixedZone("CST", 8*3600))

func setup(t *testing.T) *Outbox {
	t.Helper()
	o, err := New(filepath.Join(t.TempDir(), "out", "box"))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	o.now = func() time.Time { return fixed }
	return o
}

func TestEmailWritesEML(t *testing.T) {
	t.Parallel()
	o := setup(t)
	s := o.Email("notice@shop.example", "乐分期")
	if s.Provider() != "outbox" {
		t.Errorf("Provider = %q", s.Provider())
	}
	res, err := s.Send(context.Background(), notify.Message{
		NotificationID: 42,
		To:             "zhangsan@example.com",
		ToName:         "张三",
		Subject:        "账单到期提醒",
		Text:           "第2期将于明天到期。",
		HTML:           "<p>第2期将于明天到期。</p>",
	})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	// 09:02:03 in UTC+8 is 01:02:03 UTC.
	const name = "20250701T010203-42.eml"
	if res.ProviderMsgID != name {
		t.Errorf("ProviderMsgID = %q, want %q", res.ProviderMsgID, name)
	}

	f, err := os.Open(filepath.Join(o.Dir(), name))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer f.Close()
	msg, err := mail.ReadMessage(f)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if id := msg.Header.Get("Message-Id"); id != "<duebell.42@shop.example>" {
		t.Errorf("Message-ID = %q", id)
	}
	if subj, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); subj != "账单到期提醒" {
		t.Errorf("Subject = %q", subj)
	}
	if date, err := msg.Header.Date(); err != nil || !date.Equal(fixed) {
		t.Errorf("Date = %v, %v", date, err)
	}
	to, err := msg.Header.AddressList("To")
	if err != nil || len(to) != 1 || to[0].Name != "张三" || to[0].Address != "zhangsan@example.com" {
		t.Errorf("To = %v, %v", to, err)
	}

	entries, err := os.ReadDir(o.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("outbox holds %d files, want only %s", len(entries), name)
	}
}

func TestEmailBadMessageIsPermanent(t *testing.T) {
	t.Parallel()
	o := setup(t)
	_, err := o.Email("notice@shop.example", "").Send(context.Background(), notify.Message{NotificationID: 1, To: "nobody", Text: "x"})
	if !notify.IsPermanent(err) {
		t.Fatalf("err = %v, want permanent", err)
	}
	if entries, _ := os.ReadDir(o.Dir()); len(entries) != 0 {
		t.Errorf("outbox holds %d files", len(entries))
	}
}

func TestSMSConcurrentLines(t *testing.T) {
	t.Parallel()
	o := setup(t)
	s := o.SMS()
	if s.Provider() != "outbox" {
		t.Errorf("Provider = %q", s.Provider())
	}

	const n = 64
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			id := int64(1000 + i)
			res, err := s.Send(context.Background(), notify.Message{
				NotificationID: id,
				To:             "+8613812345678",
				Text:           "【乐分期】第2期今日到期，\"还款\"请点 https://pay.shop.example/r\n谢谢",
			})
			if err != nil {
				t.Errorf("Send(%d): %v", id, err)
				return
			}
			if want := "sms.jsonl:" + strconv.FormatInt(id, 10); res.ProviderMsgID != want {
				t.Errorf("ProviderMsgID = %q, want %q", res.ProviderMsgID, want)
			}
		})
	}
	wg.Wait()

	f, err := os.Open(filepath.Join(o.Dir(), SMSFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var line SMSLine
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if line.To != "+8613812345678" || !line.At.Equal(fixed) || line.Body == "" {
			t.Errorf("line = %+v", line)
		}
		seen[line.OutID] = true
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(seen) != n {
		t.Errorf("%d distinct out_ids, want %d", len(seen), n)
	}
}

func TestSendAfterCancel(t *testing.T) {
	t.Parallel()
	o := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := o.SMS().Send(ctx, notify.Message{NotificationID: 1, To: "+8613800000000", Text: "x"}); err == nil || notify.IsPermanent(err) {
		t.Errorf("err = %v, want transient", err)
	}
}

func TestNewRejectsEmptyDir(t *testing.T) {
	t.Parallel()
	if _, err := New(""); err == nil {
		t.Error("New(\"\") succeeded")
	}
}
