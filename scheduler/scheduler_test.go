package scheduler

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"duebell/internal/syncbuf"
)

// run invokes a job exactly as cron's timer would: through the wrapped chain.
func run(s *Scheduler, i int) { s.cron.Entries()[i].WrappedJob.Run() }

func TestJobGetsInjectedClock(t *testing.T) {
	fake := time.Date(2026, 12, 7, 2, 0, 0, 0, time.UTC)
	var got time.Time
	s, err := New(Config{Now: func() time.Time { return fake }, Logger: slog.New(slog.DiscardHandler),
		Jobs: []Job{{Name: "due_scan", Schedule: "@every 1m", Run: func(_ context.Context, now time.Time) error {
			got = now
			return nil
		}}}})
	if err != nil {
		t.Fatal(err)
	}
	run(s, 0)
	if !got.Equal(fake) {
		t.Fatalf("job ran as of %v, want the injected %v", got, fake)
	}
}

func TestPanickingJobIsRecovered(t *testing.T) {
	logs := &syncbuf.Buffer{}
	var runs atomic.Int32
	s, err := New(Config{Logger: slog.New(slog.NewTextHandler(logs, nil)),
		Jobs: []Job{{Name: "boom", Schedule: "@every 1m", Run: func(context.Context, time.Time) error {
			runs.Add(1)
			panic("scan exploded")
		}}}})
	if err != nil {
		t.Fatal(err)
	}
	run(s, 0) // would crash the test binary if the panic escaped
	run(s, 0)
	if runs.Load() != 2 || !strings.Contains(logs.String(), "scan exploded") {
		t.Fatalf("runs %d, logs %q", runs.Load(), logs.String())
	}
}

func TestOverlappingRunIsSkipped(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	var runs atomic.Int32
	s, err := New(Config{Logger: slog.New(slog.DiscardHandler),
		Jobs: []Job{{Name: "slow", Schedule: "@every 1s", Run: func(context.Context, time.Time) error {
			if runs.Add(1) == 1 {
				close(started)
				<-release
			}
			return nil
		}}}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { run(s, 0); close(done) }()
	<-started
	run(s, 0) // fires while the first run is still going: skipped, returns at once
	if n := runs.Load(); n != 1 {
		t.Fatalf("overlapping run executed: %d runs", n)
	}
	close(release)
	<-done
	run(s, 0)
	if n := runs.Load(); n != 2 {
		t.Fatalf("run after the first finished: %d runs, want 2", n)
	}
}

func TestCronTZ(t *testing.T) {
	sched, err := Parser.Parse("CRON_TZ=Asia/Shanghai 0 9 * * *")
	if err != nil {
		t.Fatal(err)
	}
	// 02:00 UTC is 10:00 in Shanghai: the next 09:00 Shanghai is tomorrow, 01:00 UTC.
	next := sched.Next(time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC))
	if want := time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC); !next.Equal(want) {
		t.Fatalf("next = %v, want %v", next.UTC(), want)
	}
	if sec, err := Parser.Parse("*/30 * * * * *"); err != nil || sec.Next(time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC)).Second() != 30 {
		t.Fatalf("optional seconds field: %v", err)
	}
}

func TestBadScheduleNamesTheJob(t *testing.T) {
	_, err := New(Config{Jobs: []Job{{Name: "events_scan", Schedule: "every day", Run: func(context.Context, time.Time) error { return nil }}}})
	if err == nil || !strings.Contains(err.Error(), "events_scan") {
		t.Fatalf("error %v, want one naming the job", err)
	}
}

// A scan that fails because the database is unavailable logs one WARN for
// the outage and one INFO when it gets through again, not an ERROR at
// every tick; any other failure is still an ERROR.
func TestDatabaseOutageWarnsOnce(t *testing.T) {
	logs := &syncbuf.Buffer{}
	errs := []error{
		fmt.Errorf("begin: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}),
		fmt.Errorf("begin: %w", driver.ErrBadConn),
		fmt.Errorf("scan: %w", io.ErrUnexpectedEOF),
		nil, nil,
		errors.New("scan: syntax error at or near \"SELEKT\""),
	}
	s, err := New(Config{Logger: slog.New(slog.NewTextHandler(logs, nil)),
		Jobs: []Job{{Name: "due_scan", Schedule: "@every 1m", Run: func(context.Context, time.Time) error {
			err := errs[0]
			errs = errs[1:]
			return err
		}}}})
	if err != nil {
		t.Fatal(err)
	}
	for range 6 {
		run(s, 0)
	}
	out := logs.String()
	if n := strings.Count(out, "level=WARN msg=\"scan paused: database unavailable"); n != 1 {
		t.Errorf("%d WARN scan paused, want 1:\n%s", n, out)
	}
	if n := strings.Count(out, "level=INFO msg=\"scan resumed: database reachable again\" job=due_scan"); n != 1 {
		t.Errorf("%d INFO scan resumed, want 1:\n%s", n, out)
	}
	if n := strings.Count(out, "level=ERROR"); n != 1 || !strings.Contains(out, "SELEKT") {
		t.Errorf("%d ERROR lines, want 1, for the statement the database refused:\n%s", n, out)
	}
}

// A scan that runs past its own timeout is an ERROR saying so, not an
// outage, though a statement's deadline running out counts as one (a
// database that stopped answering) and pauses the scan.
func TestScanPastItsTimeoutIsAnError(t *testing.T) {
	logs := &syncbuf.Buffer{}
	scheduler := func(timeout time.Duration, run func(context.Context, time.Time) error) *Scheduler {
		s, err := New(Config{Logger: slog.New(slog.NewTextHandler(logs, nil)), Timeout: timeout,
			Jobs: []Job{{Name: "due_scan", Schedule: "@every 1m", Run: run}}})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	run(scheduler(time.Millisecond, func(ctx context.Context, _ time.Time) error {
		<-ctx.Done()
		return fmt.Errorf("scan: %w", ctx.Err())
	}), 0)
	run(scheduler(time.Hour, func(context.Context, time.Time) error {
		return fmt.Errorf("lock: %w", context.DeadlineExceeded)
	}), 0)
	// A database that stopped answering: the read fails (its socket's
	// deadline) just after the scan's time ran out. It logged an ERROR
	// blaming the scan every 5 minutes of an outage.
	silent := scheduler(time.Millisecond, func(ctx context.Context, _ time.Time) error {
		<-ctx.Done()
		return fmt.Errorf("due scan: %w", &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded})
	})
	run(silent, 0)
	run(silent, 0)
	out := logs.String()
	if !strings.Contains(out, `level=ERROR msg="scan failed: it ran past its timeout" job=due_scan timeout=1ms`) {
		t.Errorf("no ERROR for the scan past its timeout:\n%s", out)
	}
	if n := strings.Count(out, "level=WARN msg=\"scan paused: database unavailable"); n != 2 {
		t.Errorf("%d WARN scan paused, want 1 for the statement with no answer and 1 for the silent database:\n%s", n, out)
	}
	if n := strings.Count(out, "level=ERROR"); n != 1 {
		t.Errorf("%d ERROR lines, want 1, for the scan past its timeout:\n%s", n, out)
	}
}

// A stopping scheduler waits StopWait for a running scan, then returns: a
// scan waiting on a database that stopped answering (bounded only by its
// 5-minute timeout) held a serve told to stop for minutes after its
// dispatcher had given up.
func TestStopDoesNotWaitForAStuckScan(t *testing.T) {
	logs := &syncbuf.Buffer{}
	started, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	var once sync.Once
	s, err := New(Config{Logger: slog.New(slog.NewTextHandler(logs, nil)), StopWait: 50 * time.Millisecond,
		Jobs: []Job{{Name: "due_scan", Schedule: "@every 10ms", Run: func(context.Context, time.Time) error {
			once.Do(func() { close(started) })
			<-release // a statement no context ends
			return nil
		}}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { s.Start(ctx); close(stopped) }()
	<-started // cron started it: Stop waits for it
	cancel()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Start still waiting for the stuck scan 10 s after it was told to stop")
	}
	if !strings.Contains(logs.String(), `level=WARN msg="stopping with a scan still running`) {
		t.Errorf("no WARN for the scan left running:\n%s", logs.String())
	}
}
