package metrics

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"duebell/repo"
)

func TestExposition(t *testing.T) {
	reg := prometheus.NewRegistry()
	depth := func(context.Context) ([]repo.StatusCount, error) {
		return []repo.StatusCount{{Status: "pending", Channel: "sms", Count: 7}}, nil
	}
	m := New(reg, depth, slog.New(slog.DiscardHandler))
	m.Queued(repo.ScanResult{Queued: []repo.QueuedCount{{Kind: "due_soon", Channel: "sms", Status: "pending", Count: 3}}})
	m.Finished("due_soon", "sms", "sent", 20*time.Millisecond)
	m.Finished("due_soon", "sms", "failed", 5*time.Millisecond)

	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`duebell_notifications_queued_total{channel="sms",kind="due_soon",status="pending"} 3`,
		`duebell_notifications_dispatched_total{channel="sms",kind="due_soon",status="sent"} 1`,
		`duebell_notifications_dispatched_total{channel="sms",kind="due_soon",status="failed"} 1`,
		`duebell_send_duration_seconds_count{channel="sms"} 2`,
		`duebell_queue_depth{channel="sms",status="pending"} 7`,
		`duebell_queue_depth{channel="email",status="pending"} 0`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
