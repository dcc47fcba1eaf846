package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/robfig/cron/v3"

	"duebell/internal/outage"
	"duebell/repo"
)

// Job is one scan the scheduler runs on its cron schedule.
type Job struct {
	Name     string
	Schedule string // cron spec, optionally with CRON_TZ=; seconds field optional
	Run      func(ctx context.Context, now time.Time) error
}

// Config configures a Scheduler.
type Config struct {
	Jobs   []Job
	Logger *slog.Logger
	Now    func() time.Time
	// Timeout bounds one run of a job. Default 5 minutes.
	Timeout time.Duration
	// StopWait bounds how long Start waits, once its context ends, for the
	// jobs still running (default Timeout). A job still running then is
	// left to the process's exit: a scan writes in transactions, and what
	// one has not committed the database rolls back when its connection
	// closes. A scan waiting on a database that stopped answering held a
	// stopping serve for up to Timeout.
	StopWait time.Duration
}

// Scheduler runs jobs on cron schedules with panics recovered and
// overlapping runs of the same job skipped.
type Scheduler struct {
	cfg  Config
	cron *cron.Cron
}

// Parser accepts standard five-field specs, an optional leading seconds
// field, descriptors like @every 30s, and a CRON_TZ= prefix.
var Parser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ValidateSpec reports whether spec is a schedule the scheduler accepts.
func ValidateSpec(spec string) error {
	_, err := Parser.Parse(spec)
	return err
}

// New validates the jobs' schedules.
func New(cfg Config) (*Scheduler, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Minute
	}
	if cfg.StopWait <= 0 {
		cfg.StopWait = cfg.Timeout
	}
	logger := cronLogger{cfg.Logger}
	// Recover must sit inside SkipIfStillRunning: the latter releases its
	// "running" token only when the job returns, so a panic escaping past it
	// would skip every later run of that job.
	c := cron.New(cron.WithParser(Parser), cron.WithLogger(logger),
		cron.WithChain(cron.SkipIfStillRunning(logger), cron.Recover(logger)))
	s := &Scheduler{cfg: cfg, cron: c}
	for _, j := range cfg.Jobs {
		if _, err := c.AddFunc(j.Schedule, s.runner(j)); err != nil {
			return nil, fmt.Errorf("job %s: schedule %q: %w", j.Name, j.Schedule, err)
		}
	}
	return s, nil
}

// runner runs j once per tick. A run that fails because the database is
// unavailable (down, restarting, unreachable) logs one WARN for the outage,
// not an ERROR at every tick, and the first run that gets through again
// logs one INFO, as the dispatcher does: an operator paging on ERROR is not
// woken every 30 s all through an outage. Any other failure stays an ERROR.
func (s *Scheduler) runner(j Job) func() {
	var down outage.Once
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
		defer cancel()
		start := time.Now()
		err := j.Run(ctx, s.cfg.Now())
		if err == nil || errors.Is(err, repo.ErrBusy) {
			if down.Recovered() {
				s.cfg.Logger.Info("scan resumed: database reachable again", slog.String("job", j.Name))
			}
		}
		switch {
		case errors.Is(err, repo.ErrBusy):
			s.cfg.Logger.Debug("scan skipped: another replica is scanning", slog.String("job", j.Name))
		case err != nil && ctx.Err() != nil && !unanswered(err):
			// Its own time ran out: a scan too long for its timeout,
			// not an outage (a statement's deadline counts as one, and
			// so does a read that got no answer by the scan's end).
			s.cfg.Logger.Error("scan failed: it ran past its timeout", slog.String("job", j.Name),
				slog.Duration("timeout", s.cfg.Timeout), slog.String("error", err.Error()))
		case err != nil && repo.IsUnavailable(err):
			s.cfg.Logger.Log(ctx, down.Level(), "scan paused: database unavailable; trying again at each scheduled time",
				slog.String("job", j.Name), slog.String("error", err.Error()))
		case err != nil:
			s.cfg.Logger.Error("scan failed", slog.String("job", j.Name), slog.String("error", err.Error()))
		default:
			s.cfg.Logger.Debug("scan done", slog.String("job", j.Name), slog.Duration("took", time.Since(start)))
		}
	}
}

// unanswered reports whether err is the database's silence, not the end of
// the scan's own time: a connection that stopped answering fails its read
// (as a network error) a few seconds after the scan's time ran out, and the
// scan was waiting for the database, not running long.
func unanswered(err error) bool {
	return repo.IsUnavailable(err) && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled)
}

// Start runs the schedule until ctx ends, then waits for running jobs, at
// most StopWait.
func (s *Scheduler) Start(ctx context.Context) {
	s.cron.Start()
	<-ctx.Done()
	select {
	case <-s.cron.Stop().Done():
	case <-time.After(s.cfg.StopWait):
		s.cfg.Logger.Warn("stopping with a scan still running: what it has not committed is rolled back, "+
			"and the next start scans again", slog.Duration("waited", s.cfg.StopWait))
	}
}

// cronLogger adapts slog to cron's logger.
type cronLogger struct{ l *slog.Logger }

func (c cronLogger) Info(msg string, kv ...any) { c.l.Debug("cron: "+msg, kv...) }
func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.l.Error("cron: "+msg, append(kv, slog.String("error", fmt.Sprint(err)))...)
}
