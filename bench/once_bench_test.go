package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"duebell/internal/smtptest"
	"duebell/repo"
	"duebell/repo/repotest"
)

// BenchmarkDispatchOnce is BenchmarkDispatch through the binary, as the
// issue states its figures: `duebell dispatch --once` built from
// cmd/duebell, run as its own process with a config file, against the
// seeded schema, sending to a loopback SMS webhook and SMTP server that run
// in the benchmark's process. max-rss-MB is the dispatcher process's own
// peak resident memory (its VmHWM, sampled while it runs), dispatcher-cpu-s the CPU time it used (the rest of
// the machine's two cores went to PostgreSQL and the loopback sinks).
func BenchmarkDispatchOnce(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "duebell")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/duebell").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	for _, channel := range []string{"sms", "email"} {
		b.Run(channel, func(b *testing.B) { benchDispatchOnce(b, bin, channel) })
	}
}

func benchDispatchOnce(b *testing.B, bin, channel string) {
	n := size(b)
	at := time.Date(2026, 11, 21, 10, 0, 0, 0, shanghai)
	stages := stagesOn(channel)
	smtp := smtptest.Start(b, smtptest.WithDiscard())
	var got atomic.Int64
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"id":"gw-%d"}`, got.Add(1))
	}))
	b.Cleanup(gw.Close)
	var sent int
	var elapsed time.Duration
	var rss int64
	var cpu time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		r, schema := repotest.NewWithURL(b)
		seed(b, r, n, repo.NewDate(2026, 11, 24), false)
		if _, err := r.QueueDueReminders(context.Background(), at, stages); err != nil {
			b.Fatal(err)
		}
		config := filepath.Join(b.TempDir(), "duebell.toml")
		if err := os.WriteFile(config, []byte(fmt.Sprintf(`
[database]
url = %q
schema = %q
[links]
base_url = "https://pay.example.com/repay"
allowed_domains = ["example.com"]
signing_key = "bench-signing-key-0123456789abcdef"
[sms]
provider = "webhook"
[sms.webhook]
url = %q
secret = "bench"
[email]
host = %q
port = %d
tls = "none"
from = "billing@example.com"
[log]
level = "error"
`, repotest.URL(), schema, gw.URL, smtp.Host(), smtp.Port())), 0o600); err != nil {
			b.Fatal(err)
		}
		cmd := exec.Command(bin, "dispatch", "--once", "--config", config, "--at", at.Format(time.RFC3339))
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		b.StartTimer()
		start := time.Now()
		err := cmd.Start()
		var peak int64
		if err == nil {
			stop := watchPeak(cmd.Process.Pid, &peak)
			err = cmd.Wait()
			stop()
		}
		elapsed += time.Since(start)
		b.StopTimer()
		if err != nil {
			b.Fatalf("dispatch --once: %v\n%s", err, out.String())
		}
		var done int
		if err := r.DB().Get(&done, `SELECT count(*) FROM notifications n JOIN delivery_attempts a
			ON a.notification_id = n.id AND a.outcome = 'sent' WHERE n.status = 'sent'`); err != nil || done != n {
			b.Fatalf("%d notices sent with their attempt rows (%v), want %d\n%s", done, err, n, out.String())
		}
		sent += done
		rss = max(rss, peak)
		cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	b.ReportMetric(float64(sent)/elapsed.Seconds(), "notices/s")
	b.ReportMetric(float64(n), "installments")
	b.ReportMetric(float64(rss)/(1<<20), "max-rss-MB")
	b.ReportMetric(cpu.Seconds()/float64(b.N), "dispatcher-cpu-s")
}

// watchPeak samples the peak resident memory (VmHWM) of process pid into
// *peak every 50 ms until stop is called. The kernel's own account of a
// child (wait4's ru_maxrss) starts from the benchmark's memory at the fork,
// so the child's is read where it is kept, while it runs.
func watchPeak(pid int, peak *int64) (stop func()) {
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			if kb := vmHWM(pid); kb > 0 {
				*peak = max(*peak, kb<<10)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); <-finished }
}

// vmHWM is process pid's peak resident memory in kB, 0 when unknown.
func vmHWM(pid int) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb
		}
	}
	return 0
}
