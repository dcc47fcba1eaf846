package river

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
)

type smsArgs struct {
	To   string `json:"to"`
	Text string `json:"text"`
	ID   int64  `json:"id"`
}

func (smsArgs) Kind() string { return "sms" }

// smsWorker posts one SMS to a webhook gateway, signed as duebell's webhook
// provider signs it.
type smsWorker struct {
	river.WorkerDefaults[smsArgs]
	client *http.Client
	url    string
}

func (w *smsWorker) Work(ctx context.Context, job *river.Job[smsArgs]) error {
	body, err := json.Marshal(map[string]any{"to": job.Args.To, "body": job.Args.Text, "out_id": strconv.FormatInt(job.Args.ID, 10)})
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, []byte("bench"))
	mac.Write(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Duebell-Signature", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("gateway answered %d", resp.StatusCode)
	}
	return nil
}

func BenchmarkRiverSMS(b *testing.B) {
	var got atomic.Int64
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, `{"id":"gw-%d"}`, got.Add(1))
	}))
	defer gw.Close()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = env("WORKERS", 2_000)
	w := &smsWorker{client: &http.Client{Transport: tr, Timeout: 10 * time.Second}, url: gw.URL}
	const text = "【优品手机】“iPhone 17 3期”第1/3期¥1,000.00还有3天（12/10）到期，将自动扣尾号6789卡，请留足余额。" +
		"还款：https://pay.example.com/repay?t=abcdefabcdefabcdefabcdefabcdefabcdefabcdef"
	runQueue(b, "riverbench_sms", w, func(i int) smsArgs {
		return smsArgs{To: "+8613800000000", Text: text, ID: int64(i)}
	}, &got)
}
