package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"duebell/repo"
	"duebell/scheduler"
)

func runMigrate(ctx context.Context, args []string, out io.Writer) error {
	var c commonFlags
	fs := newFlagSet("migrate", &c)
	if err := parse(fs, args); err != nil {
		return err
	}
	a, err := openDatabase(ctx, c.config)
	if err != nil {
		return err
	}
	defer a.close()
	applied, err := a.repo.Migrate(ctx)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		newer, err := a.repo.NewerMigrations(ctx)
		if err != nil {
			return err
		}
		if len(newer) > 0 {
			// A binary put back after an upgrade (or a replica not yet
			// replaced): it runs on the newer schema; nothing to undo.
			fmt.Fprintf(out, "%s is ahead of this build: a later release applied migration(s) %s, which this build "+
				"does not know; nothing applied (this build runs on it: README, Production)\n", a.where(), versions(newer))
		} else {
			fmt.Fprintf(out, "%s is up to date\n", a.where())
		}
	}
	for _, m := range applied {
		fmt.Fprintf(out, "applied %s to %s\n", m, a.where())
	}
	return nil
}

func runScan(ctx context.Context, args []string, out io.Writer) error {
	var c commonFlags
	fs := newFlagSet("scan", &c)
	fs.StringVar(&c.at, "at", "", "queue what is due as of this instant (RFC 3339); default now")
	dryRun := fs.Bool("dry-run", false, "count what would be queued without writing")
	future := futureFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	at, err := parseAt(c.at, *future || *dryRun)
	if err != nil {
		return err
	}
	a, err := openMigrated(ctx, c.config)
	if err != nil {
		return err
	}
	defer a.close()
	// Channel events first: a plan cancelled by an event gets no reminder.
	var ev repo.EventScanResult
	if *dryRun {
		ev, err = a.repo.PreviewChannelEvents(ctx, at, 0, scheduler.DefaultEventChannels)
	} else {
		ev, err = (&scheduler.EventScan{Store: a.repo, Logger: a.log}).Run(ctx, at)
	}
	verb := "queued"
	if *dryRun {
		verb = "would queue"
	}
	// A peer holding the scan lock is doing this work: skipping is not a failure.
	switch {
	case errors.Is(err, repo.ErrBusy):
		fmt.Fprintln(out, "channel-event scan skipped: another replica is scanning")
	case err != nil:
		return err
	default:
		printEventScan(out, at, verb, ev)
	}
	var res repo.ScanResult
	if *dryRun {
		res, err = a.repo.PreviewDueReminders(ctx, at, a.cfg.Stages())
	} else {
		res, err = a.dueScan(nil).Run(ctx, at)
	}
	if errors.Is(err, repo.ErrBusy) {
		fmt.Fprintln(out, "due-date scan skipped: another replica is scanning")
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "due-date scan as of %s: %s %d, skipped %d superseded\n", at.Format("2006-01-02T15:04:05Z07:00"), verb, res.Total(), res.Skipped)
	if len(res.UnknownZones) > 0 {
		fmt.Fprintf(out, "unknown time zones, their customers get no reminders: %s\n", strings.Join(res.UnknownZones, ", "))
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tSTAGE\tCHANNEL\tSTATUS\tCOUNT")
	for _, q := range res.Queued {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", q.Kind, q.Stage, q.Channel, q.Status, q.Count)
	}
	return tw.Flush()
}

func printEventScan(out io.Writer, at time.Time, verb string, ev repo.EventScanResult) {
	fmt.Fprintf(out, "channel-event scan as of %s: %d events, %s %d, plans changed %d, reminders suppressed %d, superseded %d, ignored %d\n",
		at.Format("2006-01-02T15:04:05Z07:00"), ev.Events, verb, ev.Total(), ev.PlansChanged, ev.Suppressed, ev.Superseded, ev.Ignored)
	if len(ev.Queued) == 0 {
		return
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tCHANNEL\tSTATUS\tCOUNT")
	for _, q := range ev.Queued {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", q.Kind, q.Channel, q.Status, q.Count)
	}
	_ = tw.Flush()
}

func runDispatch(ctx context.Context, args []string, out io.Writer) error {
	var c commonFlags
	fs := newFlagSet("dispatch", &c)
	fs.StringVar(&c.at, "at", "", "send what is sendable as of this instant (RFC 3339); default now")
	once := fs.Bool("once", false, "send what is sendable, print counts and exit")
	future := futureFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if !*once {
		return fmt.Errorf("%w: dispatch runs inside `duebell serve`; use --once for a single pass", errUsage)
	}
	at, err := parseAt(c.at, *future)
	if err != nil {
		return err
	}
	a, err := openMigrated(ctx, c.config)
	if err != nil {
		return err
	}
	defer a.close()
	if c.at != "" { // pinned: every claim as of --at; else a fresh clock per claim
		// Leases stay on the wall clock: one that ran from --at (a replayed
		// morning) would already have expired, and a serving replica would
		// rescue and send again what this run is sending.
		a.now, a.leaseClock = func() time.Time { return at }, time.Now
	}
	d, err := a.dispatcher(nil)
	if err != nil {
		return err
	}
	// SIGINT or SIGTERM drains as serve does: no new claims, sends in
	// progress get dispatch.shutdown_grace, every outcome is written; what
	// was not claimed stays queued for the next run. Killed instead, the
	// sends in flight would go out again when their leases are rescued.
	sig, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	counts, err := d.RunOnce(sig)
	if err != nil {
		return err
	}
	statuses := make([]string, 0, len(counts))
	total := 0
	for s, n := range counts {
		statuses = append(statuses, s)
		total += n
	}
	sort.Strings(statuses)
	fmt.Fprintf(out, "dispatch as of %s: handled %d\n", at.Format("2006-01-02T15:04:05Z07:00"), total)
	for _, s := range statuses {
		fmt.Fprintf(out, "  %-10s %d\n", s, counts[s])
	}
	if sig.Err() != nil && ctx.Err() == nil {
		return errors.New("stopped by a signal before the queue was empty: every claimed notice's outcome is written; " +
			"the rest stays queued for the next run")
	}
	return nil
}

// versions lists migration numbers as their file names start: 049, 050.
func versions(vs []int) string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = fmt.Sprintf("%03d", v)
	}
	return strings.Join(out, ", ")
}
