package metrics

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"duebell/notify"
	"duebell/repo"
)

type stubSender struct{ err error }

func (s stubSender) Provider() string { return "aliyun" }
func (s stubSender) Send(context.Context, notify.Message) (notify.Result, error) {
	return notify.Result{}, s.err
}

func scrape(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	return string(body)
}

func wantLines(t *testing.T, body string, lines ...string) {
	t.Helper()
	for _, want := range lines {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestDeliveryMetricsFromStartUp(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg, nil, slog.New(slog.DiscardHandler))
	WatchOldest(reg, func(context.Context, time.Time, []string) ([]repo.ChannelAge, error) {
		return []repo.ChannelAge{{Channel: "email", Seconds: 0}, {Channel: "sms", Seconds: 0}}, nil
	}, time.Now, slog.New(slog.DiscardHandler))
	m.Prepare(Setup{Providers: map[string]string{"sms": "aliyun", "email": "smtp"},
		Scans: []string{"due_scan"}, Receipts: []string{"aliyun"}})
	wantLines(t, scrape(t, reg),
		`duebell_sends_total{channel="sms",class="none",outcome="sent",provider="aliyun"} 0`,
		`duebell_sends_total{channel="sms",class="daily_limit",outcome="transient",provider="aliyun"} 0`,
		`duebell_sends_total{channel="sms",class="unsubscribed",outcome="permanent",provider="aliyun"} 0`,
		`duebell_sends_total{channel="email",class="account",outcome="transient",provider="smtp"} 0`,
		`duebell_sends_total{channel="email",class="no_mailbox",outcome="permanent",provider="smtp"} 0`,
		`duebell_provider_circuit_open{provider="aliyun"} 0`,
		`duebell_provider_circuit_open{provider="smtp"} 0`,
		`duebell_oldest_pending_seconds{channel="sms"} 0`,
		`duebell_scan_duration_seconds_count{scan="due_scan"} 0`,
		`duebell_scan_last_success_timestamp_seconds{scan="due_scan"} 0`,
		`duebell_receipts_total{outcome="delivered",provider="aliyun"} 0`,
		`duebell_receipts_total{outcome="unmatched",provider="aliyun"} 0`,
	)
	if out := scrape(t, reg); strings.Contains(out, `channel="sms",class="no_mailbox"`) {
		t.Errorf("an SMS series of a class only a mail server gives:\n%s", out)
	}
}

func TestDeliveryMetricsCount(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg, nil, slog.New(slog.DiscardHandler))
	for _, err := range []error{nil, nil,
		notify.Classify(notify.ClassDailyLimit, "isv.DAY_LIMIT_CONTROL", errors.New("x")),
		notify.Classify(notify.ClassAccount, "isv.AMOUNT_NOT_ENOUGH", errors.New("x")),
		notify.Permanent("isv.MOBILE_NUMBER_ILLEGAL", errors.New("x")),
		errors.New("unclassified"),
	} {
		_, _ = m.Sender("sms", stubSender{err}).Send(context.Background(), notify.Message{})
	}
	m.CircuitOpen("aliyun", true)
	end := time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC)
	m.ScanFinished("due_scan", 2*time.Second, end, nil)
	m.ScanFinished("due_scan", time.Second, end.Add(time.Hour), errors.New("db down"))
	m.Receipt("aliyun", "delivered")
	wantLines(t, scrape(t, reg),
		`duebell_sends_total{channel="sms",class="none",outcome="sent",provider="aliyun"} 2`,
		`duebell_sends_total{channel="sms",class="daily_limit",outcome="transient",provider="aliyun"} 1`,
		`duebell_sends_total{channel="sms",class="account",outcome="transient",provider="aliyun"} 1`,
		`duebell_sends_total{channel="sms",class="permanent",outcome="permanent",provider="aliyun"} 1`,
		`duebell_sends_total{channel="sms",class="transient",outcome="transient",provider="aliyun"} 1`,
		`duebell_provider_circuit_open{provider="aliyun"} 1`,
		`duebell_scan_duration_seconds_count{scan="due_scan"} 2`,
		// The failed run leaves the last success where it was.
		`duebell_scan_last_success_timestamp_seconds{scan="due_scan"} 1.7952264e+09`,
		`duebell_receipts_total{outcome="delivered",provider="aliyun"} 1`,
	)
}
