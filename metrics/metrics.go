// Package metrics exposes duebell's Prometheus metrics.
package metrics

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"duebell/repo"
)

// Metrics are the counters and histograms the scans and the dispatcher feed.
type Metrics struct {
	delivery
	queued   *prometheus.CounterVec
	finished *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// DepthFunc counts notices by status and channel for the queue-depth gauge.
type DepthFunc func(ctx context.Context) ([]repo.StatusCount, error)

// New registers duebell's metrics with reg. depth, when set, is queried on
// every scrape (with a short timeout) for the queue depth.
func New(reg prometheus.Registerer, depth DepthFunc, logger *slog.Logger) *Metrics {
	m := &Metrics{
		queued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "duebell_notifications_queued_total",
			Help: "Notices created by scans, by kind, channel and first status.",
		}, []string{"kind", "channel", "status"}),
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "duebell_notifications_dispatched_total",
			Help: "Notices handled by the dispatcher, by kind, channel and resulting status (sent, failed, suppressed, pending for retries and deferrals).",
		}, []string{"kind", "channel", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "duebell_send_duration_seconds",
			Help:    "Time to handle one notice, render and provider call included, by channel.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}, []string{"channel"}),
	}
	reg.MustRegister(m.queued, m.finished, m.latency)
	m.delivery = newDelivery(reg)
	if depth != nil {
		reg.MustRegister(&depthCollector{depth: depth, logger: logger, desc: prometheus.NewDesc(
			"duebell_queue_depth", "Notices waiting or being sent, by status and channel.",
			[]string{"status", "channel"}, nil)})
	}
	return m
}

// Queued records what a scan created.
func (m *Metrics) Queued(res repo.ScanResult) {
	for _, q := range res.Queued {
		m.queued.WithLabelValues(q.Kind, q.Channel, q.Status).Add(float64(q.Count))
	}
}

// Finished records one dispatched notice.
func (m *Metrics) Finished(kind, channel, status string, took time.Duration) {
	m.finished.WithLabelValues(kind, channel, status).Inc()
	m.latency.WithLabelValues(channel).Observe(took.Seconds())
}

type depthCollector struct {
	depth  DepthFunc
	logger *slog.Logger
	desc   *prometheus.Desc
}

func (c *depthCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *depthCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	counts, err := c.depth(ctx)
	if err != nil {
		c.logger.Warn("queue depth unavailable", slog.String("error", err.Error()))
		return
	}
	// Every series is reported, zeros included, so an empty queue reads 0
	// rather than "no data".
	depth := map[[2]string]int64{}
	for _, st := range []string{"pending", "sending"} {
		for _, chn := range []string{"sms", "email"} {
			depth[[2]string{st, chn}] = 0
		}
	}
	for _, s := range counts {
		depth[[2]string{s.Status, s.Channel}] = s.Count
	}
	for k, n := range depth {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), k[0], k[1])
	}
}
