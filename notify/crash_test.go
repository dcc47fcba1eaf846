package notify_test

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"duebell/link"
	"duebell/notify"
	"duebell/notify/sms/webhook"
	"duebell/repo"
	"duebell/repo/repotest"
	"duebell/repo/sqlite"
	"duebell/repo/storetest"
	"duebell/templates"
)

// The crash test runs a dispatcher in a child process (this test binary,
// re-executed) and kills it with SIGKILL mid-run, several times.
const (
	crashChildEnv  = "DUEBELL_TEST_CRASH_CHILD" // the schema (or sqlite: URL) to dispatch from
	crashSinkEnv   = "DUEBELL_TEST_CRASH_SINK"  // the SMS gateway URL
	crashOffsetEnv = "DUEBELL_TEST_CRASH_OFFSET"
	crashServeEnv  = "DUEBELL_TEST_CRASH_SERVE" // run as serve does, until SIGTERM
	crashLease     = 5 * time.Second
	crashWorkers   = 8
)

// The figures of the delivery-safety issue come from these tests at a larger
// size: go test -run 'Killed|Rolling' ./notify/ -crash.n 10000 -crash.kills 20 -v
var (
	crashN     = flag.Int("crash.n", 1200, "notices the crash and rolling-restart tests send")
	crashKills = flag.Int("crash.kills", 3, "SIGKILLs (and SIGTERM restarts) during the run")
)

// crashChild dispatches the queue of the schema (or SQLite file) in crashChildEnv to the
// webhook gateway at crashSinkEnv, with its clock offset by
// crashOffsetEnv (so a restart sees the killed one's leases as expired
// without the test waiting for them), and exits when the queue is empty;
// with crashServeEnv it dispatches as serve does until SIGTERM, then drains.
func crashChild() int {
	offset, _ := time.ParseDuration(os.Getenv(crashOffsetEnv))
	var r interface {
		notify.Store
		Close() error
	}
	var err error
	if spec := os.Getenv(crashChildEnv); sqlite.IsURL(spec) {
		r, err = sqlite.Open(context.Background(), spec)
	} else {
		r, err = repo.Open(context.Background(), repotest.URL(), spec)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer r.Close()
	sms, err := webhook.NewClient(webhook.Config{URL: os.Getenv(crashSinkEnv), Secret: "crash"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	signer, _ := link.NewSigner("https://pay.example.com/repay", link.Key{ID: "k1", Secret: []byte("test-signing-key-0123456789abcdef")}, nil, 72*time.Hour)
	tpl, err := templates.Load(templates.Options{AllowedDomains: []string{"example.com"}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	at := sh(11, 21, 10, 0)
	started := time.Now()
	d, err := notify.New(notify.Config{Store: r, Templates: tpl, Links: signer,
		Senders: map[string]notify.Sender{"sms": sms}, Workers: crashWorkers, Batch: 50, Lease: crashLease,
		Now:    func() time.Time { return at.Add(offset + time.Since(started)) },
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if os.Getenv(crashServeEnv) != "" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
		defer stop()
		fmt.Println("ready") // SIGTERM from here on drains, as serve's does
		d.Start(ctx)
		return 0
	}
	if _, err := d.RunOnce(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// startChild starts the dispatcher child process for schema.
func startChild(t *testing.T, schema string, sink *crashSink, offset time.Duration, serve bool) (*exec.Cmd, <-chan error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+schema, crashSinkEnv+"="+sink.server.URL,
		crashOffsetEnv+"="+offset.String())
	if serve {
		cmd.Env = append(cmd.Env, crashServeEnv+"=1")
	}
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if serve { // a SIGTERM before the child handles it would just kill it
		if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "ready\n" {
			t.Fatalf("dispatcher child did not start: %q %v", line, err)
		}
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() }) // a failed test leaves no dispatcher running
	return cmd, exited
}

// crashSink is an SMS gateway that counts deliveries by notice and tells
// the test when the total reaches a mark.
type crashSink struct {
	mu     sync.Mutex
	idle   *sync.Cond // signalled when busy or conns drops to 0
	busy   int        // requests being answered
	conns  int        // client connections open
	byID   map[int64]int
	total  int
	marks  map[int]chan struct{}
	server *httptest.Server
}

func newCrashSink(t *testing.T) *crashSink {
	s := &crashSink{byID: map[int64]int{}, marks: map[int]chan struct{}{}}
	s.idle = sync.NewCond(&s.mu)
	s.server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.busy++
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			if s.busy--; s.busy == 0 {
				s.idle.Broadcast()
			}
			s.mu.Unlock()
		}()
		var req struct {
			OutID string `json:"out_id"`
		}
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &req); err != nil {
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		id, _ := strconv.ParseInt(req.OutID, 10, 64)
		time.Sleep(2 * time.Millisecond) // a provider's round trip, so kills land mid-send
		s.mu.Lock()
		s.byID[id]++
		s.total++
		if ch := s.marks[s.total]; ch != nil {
			close(ch)
		}
		s.mu.Unlock()
		fmt.Fprintf(w, `{"id":"gw-%d"}`, id)
	}))
	s.server.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		s.mu.Lock()
		defer s.mu.Unlock()
		switch st {
		case http.StateNew:
			s.conns++
		case http.StateClosed, http.StateHijacked:
			if s.conns--; s.conns == 0 {
				s.idle.Broadcast()
			}
		}
	}
	s.server.Start()
	t.Cleanup(s.server.Close)
	return s
}

// waitIdle returns, once the only client has died, when every request it
// sent has been answered: its connections are closed, and the server
// closes one only after answering what it had read on it (a request still
// in the socket buffer when the client died, whose handler had not yet
// started, counts too: on a loaded machine it did not, and its redelivery
// looked like a duplicate beyond the sends in flight). (A WaitGroup would
// not do: a request may arrive while the test waits, and a WaitGroup's Add
// from zero must not race its Wait.)
func (s *crashSink) waitIdle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.busy > 0 || s.conns > 0 {
		s.idle.Wait()
	}
}

// at returns a channel closed when the sink has taken n deliveries.
func (s *crashSink) at(n int) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := make(chan struct{})
	if s.total >= n {
		close(ch)
	} else {
		s.marks[n] = ch
	}
	return ch
}

// distinct is how many notices the sink has taken at least once.
func (s *crashSink) distinct() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byID)
}

func (s *crashSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// crashSetup queues crash.n due_soon SMS in a PostgreSQL schema of their
// own and starts the gateway the child dispatchers send to.
func crashSetup(t *testing.T) (r *repo.Repo, schema string, n int, sink *crashSink) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts child processes")
	}
	t.Parallel()
	r, schema = repotest.NewWithURL(t)
	n = *crashN
	repotest.Borrowers(t, r, n, repo.NewDate(2026, 11, 24))
	if _, err := r.QueueDueReminders(context.Background(), sh(11, 21, 8, 0), smsOnlyStages); err != nil {
		t.Fatal(err)
	}
	return r, schema, n, newCrashSink(t)
}

// crashStore is a store the crash test queues in and reads back.
type crashStore interface {
	dbHolder
	QueueDueReminders(ctx context.Context, now time.Time, stages []repo.Stage) (repo.ScanResult, error)
}

// crashSetupSQLite is crashSetup on an embedded SQLite file; spec is its
// sqlite: URL, for the child dispatchers.
func crashSetupSQLite(t *testing.T) (s crashStore, spec string, n int, sink *crashSink) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts child processes")
	}
	t.Parallel()
	spec = "sqlite:" + filepath.Join(t.TempDir(), "duebell.db")
	st, err := sqlite.Open(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	n = *crashN
	for i := 1; i <= n; i++ {
		ref := fmt.Sprintf("b%d", i)
		storetest.Customer(t, st, ref, func(c *repo.Customer) { c.Phone = fmt.Sprintf("+86138%08d", i) })
		storetest.Plan(t, st, "p"+ref, ref, []repo.Date{repo.NewDate(2026, 11, 24)})
	}
	if _, err := st.QueueDueReminders(context.Background(), sh(11, 21, 8, 0), smsOnlyStages); err != nil {
		t.Fatal(err)
	}
	return st, spec, n, newCrashSink(t)
}

func TestKilledDispatcherLosesNothingAndLogsEveryDelivery(t *testing.T) {
	r, schema, n, sink := crashSetup(t)
	testKilledDispatcher(t, r, schema, n, sink)
}

// The embedded store keeps the same promise across SIGKILLs: the file's
// write-ahead log survives a killed writer, and a restart rescues its leases.
func TestKilledDispatcherOnSQLiteLosesNothing(t *testing.T) {
	s, spec, n, sink := crashSetupSQLite(t)
	testKilledDispatcher(t, s, spec, n, sink)
}

func testKilledDispatcher(t *testing.T, r crashStore, schema string, n int, sink *crashSink) {
	committedSent := func() int {
		var c int
		if err := r.DB().Get(&c, `SELECT count(*) FROM notifications WHERE status = 'sent'`); err != nil {
			t.Fatal(err)
		}
		return c
	}

	run := func(offset time.Duration, killAt int) {
		t.Helper()
		cmd, exited := startChild(t, schema, sink, offset, false)
		if killAt == 0 {
			if err := <-exited; err != nil {
				t.Fatalf("last dispatcher: %v", err)
			}
			return
		}
		select {
		case <-sink.at(killAt):
			_ = cmd.Process.Kill() // SIGKILL: no drain, no last write
			<-exited
			sink.waitIdle() // a request the child sent before dying still counts
		case err := <-exited:
			t.Fatalf("dispatcher exited before the kill at %d deliveries: %v", killAt, err)
		}
	}

	// Kills spread over the run; each restart's clock runs a lease (and a
	// second) ahead of the killed one's, counted from one base, so it
	// rescues the dead one's claims however long that one ran before the
	// kill (a fixed step per restart assumed under a second, which a loaded
	// machine broke: a batch left leased past the last run).
	base := time.Now()
	clock := func(i int) time.Duration { return time.Since(base) + time.Duration(i)*(crashLease+time.Second) }
	// Deliveries the sink took whose outcome the killed process had not
	// written: the sends in flight and the outcomes waiting for their group
	// commit. Only these may go out twice.
	uncommitted := 0
	var kills []int
	for k := range *crashKills {
		kills = append(kills, (k+1)*n*2/(3*(*crashKills+1))+k*50)
	}
	for i, mark := range kills {
		run(clock(i), mark)
		uncommitted += sink.distinct() - committedSent()
	}
	run(clock(len(kills)), 0)

	if got := statusCounts(t, r); got["sent"] != n {
		t.Fatalf("statuses %v, want all %d sent (nothing lost)", got, n)
	}
	dups := sink.count() - n
	t.Logf("%d kills: %d deliveries, %d duplicates; %d deliveries were uncommitted at the kills", len(kills), sink.count(), dups, uncommitted)
	if dups > uncommitted {
		t.Errorf("%d duplicates, more than the %d sends in flight at the kills", dups, uncommitted)
	}
	// Every delivery the gateway saw is a logged try (sent, or unknown after a rescue).
	var logged []struct {
		ID int64 `db:"notification_id"`
		N  int   `db:"n"`
	}
	if err := r.DB().Select(&logged, `SELECT notification_id, count(*) AS n FROM delivery_attempts
		WHERE outcome IN ('sent', 'unknown') GROUP BY notification_id`); err != nil {
		t.Fatal(err)
	}
	tries := map[int64]int{}
	for _, l := range logged {
		tries[l.ID] = l.N
	}
	// A lost try names the gateway that may hold the first copy.
	var nameless int
	if err := r.DB().Get(&nameless, `SELECT count(*) FROM delivery_attempts WHERE provider = ''`); err != nil {
		t.Fatal(err)
	}
	if nameless > 0 {
		t.Errorf("%d tries logged without the provider they may have reached", nameless)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	for id, got := range sink.byID {
		if tries[id] < got {
			t.Errorf("notice %d reached the gateway %d times but has %d logged tries", id, got, tries[id])
		}
	}
	attemptsAgree(t, r)
}

func TestRollingRestartOfTwoReplicasSendsNothingTwice(t *testing.T) {
	r, schema, n, sink := crashSetup(t)
	type replica struct {
		cmd    *exec.Cmd
		exited <-chan error
	}
	var reps [2]replica
	// Every replica's clock runs from the test's start, as replicas' clocks
	// agree: offset 0 would start each at the same instant when it starts,
	// and a replica restarted more than a lease after the other would see
	// the other's leases as expired and rescue its sends in flight (under
	// load, restarts 10 s apart: 19 duplicates).
	base := time.Now()
	for i := range reps {
		reps[i].cmd, reps[i].exited = startChild(t, schema, sink, time.Since(base), true)
	}
	stop := func(i int) {
		t.Helper()
		_ = reps[i].cmd.Process.Signal(syscall.SIGTERM)
		if err := <-reps[i].exited; err != nil {
			t.Fatalf("replica %d after SIGTERM: %v, want exit 0", i, err)
		}
	}
	// Restart the replicas in turn, one at a time, as a deploy does.
	for k := range *crashKills + 2 {
		waitFor(t, sink.at((k+1)*n/(*crashKills+4)), "deliveries before a restart")
		i := k % 2
		pid := reps[i].cmd.Process.Pid
		stop(i)
		var left int // the owner is host-pid-random
		if err := r.DB().Get(&left, `SELECT count(*) FROM notifications WHERE status = 'sending'
			AND lease_owner LIKE '%-' || $1 || '-%'`, strconv.Itoa(pid)); err != nil {
			t.Fatal(err)
		}
		if left != 0 {
			t.Errorf("replica %d left %d notices sending after SIGTERM", i, left)
		}
		reps[i].cmd, reps[i].exited = startChild(t, schema, sink, time.Since(base), true)
	}
	waitFor(t, sink.at(n), "every notice delivered")
	// Every notice delivered; let the replicas write the last outcomes, then stop them.
	for i := range reps {
		stop(i)
	}
	if got := statusCounts(t, r); got["sent"] != n || got["sending"] != 0 {
		t.Errorf("statuses %v, want all %d sent and none left sending", got, n)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	dups := 0
	for _, c := range sink.byID {
		dups += c - 1
	}
	t.Logf("%d restarts of 2 replicas: %d deliveries, %d duplicates", *crashKills+2, sink.total, dups)
	if dups != 0 || len(sink.byID) != n {
		t.Errorf("%d duplicates, %d of %d notices delivered; want every notice exactly once", dups, len(sink.byID), n)
	}
	attemptsAgree(t, r)
}

// waitFor waits for ch, failing the test after a minute.
func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(time.Minute):
		t.Fatalf("waited a minute for %s", what)
	}
}
