package notify

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"
)

// fallbackStore queues fallback notices (repo.Repo implements it).
type fallbackStore interface {
	QueueFallbacks(ctx context.Context, now, since time.Time, stages []string, ch string) (int, error)
}

// fallbackLookback is how far back a dispatcher's first fallback sweep
// looks for SMS notices that did not go out; later sweeps start where the
// previous one did, less fallbackOverlap beyond the lease, so a notice
// settled by a transaction that committed late is still seen.
const (
	fallbackLookback = 24 * time.Hour
	fallbackOverlap  = time.Minute
)

// fallbackCursor is where the next sweep starts.
type fallbackCursor struct {
	mu    sync.Mutex
	since time.Time
}

// checkFallbacks validates Config.Fallbacks against the store.
func checkFallbacks(cfg Config) error {
	if len(cfg.Fallbacks) == 0 {
		return nil
	}
	if _, ok := cfg.Store.(fallbackStore); !ok {
		return fmt.Errorf("dispatcher: fallbacks need a store that can queue them")
	}
	for stage, ch := range cfg.Fallbacks {
		if ch != ChannelEmail {
			return fmt.Errorf("dispatcher: fallback of stage %q: %q is not email", stage, ch)
		}
	}
	return nil
}

// queueFallbacks queues, for SMS notices of stages with a fallback channel
// that did not go out (failed, undelivered, opted out, no phone), the
// linked notice on that channel. It is a set-based, idempotent sweep of the
// notices settled since the last one, so it also covers SMS notices the
// scans created already suppressed.
func (d *Dispatcher) queueFallbacks(ctx context.Context, now time.Time) error {
	if len(d.cfg.Fallbacks) == 0 {
		return nil
	}
	byChannel := map[string][]string{}
	for _, stage := range slices.Sorted(maps.Keys(d.cfg.Fallbacks)) {
		ch := d.cfg.Fallbacks[stage]
		byChannel[ch] = append(byChannel[ch], stage)
	}
	d.fallback.mu.Lock()
	defer d.fallback.mu.Unlock()
	since := d.fallback.since
	if since.IsZero() || since.After(now) {
		since = now.Add(-fallbackLookback)
	}
	store := d.cfg.Store.(fallbackStore)
	for ch, stages := range byChannel {
		n, err := store.QueueFallbacks(ctx, now, since, stages, ch)
		if err != nil {
			return err
		}
		if n > 0 {
			d.cfg.Logger.Info("fallback notices queued", slog.Int("count", n), slog.String("channel", ch))
		}
	}
	d.fallback.since = now.Add(-d.cfg.Lease - fallbackOverlap)
	return nil
}
