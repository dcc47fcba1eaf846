// Package cli implements duebell's subcommands and wires the packages
// together from the configuration.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"duebell/internal/input"
)

const usage = `duebell — installment repayment reminders

Usage: duebell <command> [flags]

Commands:
  serve      run the HTTP API, the cron scans and the dispatcher (--migrate to apply migrations first)
  migrate    create or upgrade the database schema
  scan       queue what is due as of --at (default now); --dry-run counts without writing
  dispatch   send what is sendable as of --at (default now); --once to exit when done
  templates  check (render every template with sample data) | preview --kind K --locale L --channel C
  demo       migrate, seed demo borrowers whose bills fall due around today, and serve
  notifications  list [--phone P --email E --customer REF --status S ...] | show ID: the delivery log
  resend     ID --reason R [--channel C] [--force]: one notice again, to the contact on file;
             --failed --channel sms --since T --until T --reason R [--dry-run]: every notice an outage lost
             (audited as --actor, default the OS user)
  import     FILE.ndjson [--dry-run] [--atomic] [--json]: apply a bulk NDJSON file (customers, plans,
             payments, events) like POST /api/v1/import; - reads stdin; exit 1 when a line is refused
  move       --from sqlite:FILE: copy an embedded SQLite store, history and dedup keys included, into the
             empty PostgreSQL schema of --config (moving to PostgreSQL without repeating a reminder)
  report     effect --since DATE [--until DATE] [--format table|csv]: which reminder works (share paid
             within 1, 3 and 7 days of the notice, per stage, channel and template, against no notice)
  version    print the version, commit and build date

Every command takes --config FILE (or DUEBELL_CONFIG) and answers --help.
`

// errUsage marks a command-line mistake (exit status 2).
var errUsage = errors.New("usage")

// Main runs the command in args and returns the process exit status.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 { // a script's empty command variable is a usage error, not success
		fmt.Fprintf(stderr, "duebell: no command given\n\n%s", usage)
		return 2
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		return 0
	}
	cmds := map[string]func(context.Context, []string, io.Writer) error{
		"serve":         runServe,
		"migrate":       runMigrate,
		"scan":          runScan,
		"dispatch":      runDispatch,
		"templates":     runTemplates,
		"demo":          runDemo,
		"notifications": runNotifications,
		"resend":        runResend,
		"import":        runImport,
		"move":          runMove,
		"report":        runReport,
		"version":       runVersion,
	}
	run, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "duebell: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err := run(ctx, args[1:], stdout); err != nil {
		var help helpError
		if errors.As(err, &help) {
			fmt.Fprint(stdout, help.text)
			return 0
		}
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "duebell %s: %v\n", args[0], err)
		if errors.Is(err, errUsage) {
			return 2
		}
		return 1
	}
	return 0
}

// commonFlags are the flags every command shares.
type commonFlags struct {
	config string
	at     string
}

func newFlagSet(name string, c *commonFlags) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // help goes to stdout through helpError, mistakes to stderr through Main
	fs.StringVar(&c.config, "config", os.Getenv("DUEBELL_CONFIG"), "config file (TOML); env DUEBELL_CONFIG")
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return flagErr(fs, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return nil
}

// parseAt reads an --at instant; empty means now. One more than a few
// minutes ahead of the clock is refused unless future: a scan as of a day
// not yet come queues that day's stage now, holding its dedup key so the
// stage never comes when it is due (a mistyped year held a borrower's
// overdue reminder for months), and a send as of it goes out now and
// counts against the borrower's SMS cap then. --dry-run previews any day.
func parseAt(s string, future bool) (time.Time, error) {
	if s == "" {
		return time.Now(), nil
	}
	at, err := parseInstant("at", s)
	if err == nil && !future && at.After(time.Now().Add(maxAhead)) {
		err = fmt.Errorf("%w: --at %s is in the future: pass --future to act as of a day not yet come "+
			"(a test system's simulated day; never in production)", errUsage, s)
	}
	return at, err
}

// maxAhead is how far ahead of this host's clock an --at may lie without
// --future: a clock's skew, not a mistyped date.
const maxAhead = 5 * time.Minute

// futureFlag adds --future to fs.
func futureFlag(fs *flag.FlagSet) *bool {
	return fs.Bool("future", false, "allow an --at more than 5 minutes ahead of the clock (a test system's simulated day)")
}

// parseInstant reads the RFC 3339 instant s given to --flag, refusing one
// outside what duebell handles (input.Instant: this century, a real UTC
// offset) as a usage error.
func parseInstant(flag, s string) (time.Time, error) {
	t, err := input.ParseRFC3339(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: --%s %q: want RFC 3339, e.g. 2026-11-21T10:00:00+08:00", errUsage, flag, s)
	}
	if err := input.Instant(t); err != nil {
		return time.Time{}, fmt.Errorf("%w: --%s %q: %v", errUsage, flag, s, err)
	}
	return t, nil
}
