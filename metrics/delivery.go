package metrics

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"duebell/notify"
	"duebell/repo"
)

// Outcomes of one provider call in duebell_sends_total, as in
// delivery_attempts.
const (
	OutcomeSent      = "sent"
	OutcomeTransient = "transient"
	OutcomePermanent = "permanent"
	classNone        = "none" // the class label of a sent message
)

// Receipt outcomes beyond a receipt's own status (delivered, undelivered,
// progress).
const ReceiptUnmatched = "unmatched"

// delivery holds the metrics an operator alerts on.
type delivery struct {
	sends       *prometheus.CounterVec
	circuit     *prometheus.GaugeVec
	scanTook    *prometheus.HistogramVec
	scanSuccess *prometheus.GaugeVec
	receipts    *prometheus.CounterVec
}

func newDelivery(reg prometheus.Registerer) delivery {
	d := delivery{
		sends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "duebell_sends_total",
			Help: "Provider calls, by channel, provider, outcome (sent, transient, permanent) and class of the failure (none when sent; transient, permanent, daily_limit, account, unsubscribed, no_mailbox).",
		}, []string{"channel", "provider", "outcome", "class"}),
		circuit: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "duebell_provider_circuit_open",
			Help: "1 while this process sends nothing through the provider because it refused the account (balance, arrears, credentials) or could not be reached (no connection, no reply, 5xx, SMTP 421), else 0.",
		}, []string{"provider"}),
		scanTook: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "duebell_scan_duration_seconds",
			Help:    "Time one scan run took, by scan (due_scan, channel_event_scan), failed runs included.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
		}, []string{"scan"}),
		scanSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "duebell_scan_last_success_timestamp_seconds",
			Help: "Unix time the scan last finished without error on this process; 0 if never (scans run on the leader replica only).",
		}, []string{"scan"}),
		receipts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "duebell_receipts_total",
			Help: "SMS delivery receipts received, by provider and outcome (delivered, undelivered, progress, unmatched).",
		}, []string{"provider", "outcome"}),
	}
	reg.MustRegister(d.sends, d.circuit, d.scanTook, d.scanSuccess, d.receipts)
	return d
}

// Setup names what this process runs, so every series exists, at zero,
// from start-up rather than after the first event.
type Setup struct {
	Providers map[string]string // channel → provider
	Scans     []string          // scan job names
	Receipts  []string          // providers that post receipts
}

// Prepare creates the zero-valued series of s.
func (m *Metrics) Prepare(s Setup) {
	for ch, p := range s.Providers {
		m.sends.WithLabelValues(ch, p, OutcomeSent, classNone)
		for _, c := range notify.Classes {
			if c == notify.ClassNoMailbox && ch != notify.ChannelEmail {
				continue // a class only a mail server gives
			}
			m.sends.WithLabelValues(ch, p, outcomeOf(c), string(c))
		}
		m.circuit.WithLabelValues(p).Set(0)
	}
	for _, scan := range s.Scans {
		m.scanTook.WithLabelValues(scan)
		m.scanSuccess.WithLabelValues(scan).Set(0)
	}
	for _, p := range s.Receipts {
		for _, o := range []string{repo.ReceiptDelivered, repo.ReceiptUndelivered, repo.ReceiptProgress, ReceiptUnmatched} {
			m.receipts.WithLabelValues(p, o)
		}
	}
}

func outcomeOf(c notify.Class) string {
	if c.Permanent() {
		return OutcomePermanent
	}
	return OutcomeTransient
}

// Sent records one provider call's result.
func (m *Metrics) Sent(channel, provider string, err error) {
	if err == nil {
		m.sends.WithLabelValues(channel, provider, OutcomeSent, classNone).Inc()
		return
	}
	c := notify.ErrorClass(err)
	m.sends.WithLabelValues(channel, provider, outcomeOf(c), string(c)).Inc()
}

// CircuitOpen sets whether provider's circuit is open.
func (m *Metrics) CircuitOpen(provider string, open bool) {
	v := 0.0
	if open {
		v = 1
	}
	m.circuit.WithLabelValues(provider).Set(v)
}

// ScanFinished records one scan run that ended at end.
func (m *Metrics) ScanFinished(scan string, took time.Duration, end time.Time, err error) {
	m.scanTook.WithLabelValues(scan).Observe(took.Seconds())
	if err == nil {
		m.scanSuccess.WithLabelValues(scan).Set(float64(end.UnixNano()) / 1e9)
	}
}

// Receipt records one delivery receipt: its status, or ReceiptUnmatched
// when no notice matched it.
func (m *Metrics) Receipt(provider, outcome string) {
	m.receipts.WithLabelValues(provider, outcome).Inc()
}

// Sender wraps s so each of its calls counts in duebell_sends_total.
func (m *Metrics) Sender(channel string, s notify.Sender) notify.Sender {
	return &countingSender{Sender: s, channel: channel, m: m}
}

type countingSender struct {
	notify.Sender
	channel string
	m       *Metrics
}

// Unwrap returns the wrapped sender (the dispatcher asks it for its day zone).
func (s *countingSender) Unwrap() notify.Sender { return s.Sender }

func (s *countingSender) Send(ctx context.Context, msg notify.Message) (notify.Result, error) {
	res, err := s.Sender.Send(ctx, msg)
	s.m.Sent(s.channel, s.Sender.Provider(), err)
	return res, err
}

// OldestFunc reports, per channel, how long the oldest due notice has
// waited (repo.Repo.OldestDue).
type OldestFunc func(ctx context.Context, now time.Time, channels []string) ([]repo.ChannelAge, error)

// WatchOldest registers duebell_oldest_pending_seconds, read with oldest
// on every scrape for the sms and email channels at now().
func WatchOldest(reg prometheus.Registerer, oldest OldestFunc, now func() time.Time, logger *slog.Logger) {
	reg.MustRegister(&oldestCollector{oldest: oldest, now: now, logger: logger, desc: prometheus.NewDesc(
		"duebell_oldest_pending_seconds",
		"How long the oldest notice of the channel has been due but not sent (pending past its next attempt, or sending past its lease); 0 if none.",
		[]string{"channel"}, nil)})
}

type oldestCollector struct {
	oldest OldestFunc
	now    func() time.Time
	logger *slog.Logger
	desc   *prometheus.Desc
}

func (c *oldestCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *oldestCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	ages, err := c.oldest(ctx, c.now(), []string{notify.ChannelSMS, notify.ChannelEmail})
	if err != nil {
		c.logger.Warn("oldest pending unavailable", slog.String("error", err.Error()))
		return
	}
	for _, a := range ages {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, a.Seconds, a.Channel)
	}
}
