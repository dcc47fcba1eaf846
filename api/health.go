package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// DefaultReadyTimeout bounds the readiness check so a hung database fails it.
const DefaultReadyTimeout = 3 * time.Second

func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	if err := s.ready.run(r.Context(), s.cfg.Ready, s.cfg.ReadyTimeout); err != nil {
		s.log.LogAttrs(r.Context(), s.notReadyLog.Level(), "not ready", slog.String("error", err.Error()))
		writeError(w, http.StatusServiceUnavailable, codeNotReady, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// readyCheck runs the readiness check for /readyz, one at a time, and
// answers within its timeout whether the check returned or not. A database
// that stopped answering with its connections open (a hung server or
// proxy) holds a statement past its context: lib/pq asks the server to
// cancel it, over a connection that gets no answer either, and keeps
// waiting, so /readyz hung for the whole outage and a load balancer kept
// sending traffic. Probes that arrive while a check still runs wait for
// that one instead of each starting another that would hang too.
type readyCheck struct {
	mu      sync.Mutex
	running *readyRun
}

// readyRun is one check: done closes when it returns, with err.
type readyRun struct {
	done chan struct{}
	err  error
}

// run starts a check unless one is running and waits for it, timeout at most.
func (c *readyCheck) run(ctx context.Context, ready func(context.Context) error, timeout time.Duration) error {
	c.mu.Lock()
	run := c.running
	if run == nil {
		run = &readyRun{done: make(chan struct{})}
		c.running = run
		go func() {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
			defer cancel()
			run.err = ready(cctx)
			c.mu.Lock()
			c.running = nil
			c.mu.Unlock()
			close(run.done)
		}()
	}
	c.mu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-run.done:
		return run.err
	case <-t.C:
		return fmt.Errorf("the database did not answer within %v", timeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}
