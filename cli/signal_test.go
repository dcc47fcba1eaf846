package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"duebell/notify/sms/webhook"
	"duebell/repo/repotest"
)

// childArgsEnv, when set, makes the test binary run Main with these
// arguments (newline-separated) instead of the tests: a duebell process
// the test can signal.
const childArgsEnv = "DUEBELL_TEST_CLI_ARGS"

func TestMain(m *testing.M) {
	if args := os.Getenv(childArgsEnv); args != "" {
		os.Exit(Main(context.Background(), strings.Split(args, "\n"), os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// slowGateway is an SMS gateway that takes a provider's round trip per
// message, counts deliveries by notice, and closes reached when the count
// reaches mark.
type slowGateway struct {
	*httptest.Server
	mu      sync.Mutex
	byID    map[string]int
	total   int
	mark    int
	reached chan struct{}
}

func newSlowGateway(t *testing.T, mark int) *slowGateway {
	g := &slowGateway{byID: map[string]int{}, mark: mark, reached: make(chan struct{})}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var m map[string]string
		if !webhook.Verify([]byte(e2eSMSSecret), body, r.Header.Get(webhook.SignatureHeader)) ||
			json.Unmarshal(body, &m) != nil || m["out_id"] == "" {
			http.Error(w, `{"error":"bad request"}`, http.StatusBadRequest)
			return
		}
		time.Sleep(20 * time.Millisecond)
		g.mu.Lock()
		g.byID[m["out_id"]]++
		if g.total++; g.total == g.mark {
			close(g.reached)
		}
		n := g.total
		g.mu.Unlock()
		fmt.Fprintf(w, `{"id":"gw-%d"}`, n)
	}))
	t.Cleanup(g.Close)
	return g
}

// deliveries returns how many messages the gateway took and how many of
// them repeated a notice it had already taken.
func (g *slowGateway) deliveries() (total, repeats int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, n := range g.byID {
		repeats += n - 1
	}
	return g.total, repeats
}

// `dispatch --once` stopped with SIGTERM (a deploy, a timeout) or Ctrl-C
// drains as serve does: it used to die at once, leaving its claimed notices
// sending until their lease ran out, when the next run sent them again.
func TestDispatchOnceDrainsOnSIGTERM(t *testing.T) {
	t.Parallel()
	const borrowers = 300
	r, schema := repotest.NewWithURL(t)
	gw := newSlowGateway(t, 40)
	config := testConfig(t, schema, fmt.Sprintf(`
[dispatch]
workers = 8
batch = 50
[sms]
provider = "webhook"
[sms.webhook]
url = %q
secret = %q
[log]
level = "warn"
`, gw.URL, e2eSMSSecret))
	dir := t.TempDir()
	var book strings.Builder
	for i := range borrowers {
		fmt.Fprintf(&book, `{"type":"customer","ref":"c%d","name":"Li","phone":"+86138%08d"}`+"\n", i, i)
		fmt.Fprintf(&book, `{"type":"plan","ref":"p%d","customer_ref":"c%d","title":"Phone","total":10000,"periods":1,`+
			`"installments":[{"seq":1,"due_date":"2026-12-15","amount":10000}]}`+"\n", i, i)
	}
	file := filepath.Join(dir, "book.ndjson")
	if err := os.WriteFile(file, []byte(book.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	const at = "2026-12-15T10:00:00+08:00"
	for _, args := range [][]string{{"import", file}, {"scan", "--at", at, "--future"}} {
		if code, out, stderr := runMain(append(args, "--config", config)...); code != 0 {
			t.Fatalf("%v: exit %d %s %s", args, code, out, stderr)
		}
	}

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childArgsEnv+"="+strings.Join([]string{"dispatch", "--once", "--at", at, "--future", "--config", config}, "\n"))
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	select {
	case <-gw.reached:
	case <-time.After(60 * time.Second):
		t.Fatalf("the gateway saw %d messages in 60 s\n%s", gw.total, stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(stderr.String(), "stopped by a signal") {
		t.Fatalf("dispatch --once after SIGTERM: %v, stderr:\n%s\nwant exit 1 saying it was stopped", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "sent") {
		t.Errorf("dispatch --once after SIGTERM printed no counts:\n%s", stdout.String())
	}

	statuses := func() map[string]int {
		rows, err := r.DB().Query(`SELECT status, count(*) FROM notifications GROUP BY status`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string]int{}
		for rows.Next() {
			var s string
			var n int
			if err := rows.Scan(&s, &n); err != nil {
				t.Fatal(err)
			}
			out[s] = n
		}
		return out
	}
	delivered, repeats := gw.deliveries()
	got := statuses()
	if got["sending"] != 0 || got["sent"] != delivered || repeats != 0 || got["pending"] == 0 || got["sent"]+got["pending"] != borrowers {
		t.Fatalf("after SIGTERM: %v, gateway took %d (%d twice): want none sending, every delivery recorded sent once, the rest pending",
			got, delivered, repeats)
	}
	var attempts int
	if err := r.DB().Get(&attempts, `SELECT count(*) FROM delivery_attempts`); err != nil || attempts != delivered {
		t.Errorf("attempt rows = %d (%v), want one per delivery (%d)", attempts, err, delivered)
	}

	// The next run sends the rest, and nothing twice.
	if code, out, stderr := runMain("dispatch", "--once", "--at", at, "--future", "--config", config); code != 0 {
		t.Fatalf("second dispatch --once: exit %d %s %s", code, out, stderr)
	}
	delivered, repeats = gw.deliveries()
	if got := statuses(); got["sent"] != borrowers || delivered != borrowers || repeats != 0 {
		t.Errorf("after the second run: %v, gateway took %d with %d repeats; want all %d sent once", got, delivered, repeats, borrowers)
	}
}
