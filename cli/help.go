package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// commandDoc is what `duebell <command> --help` prints above the flags.
type commandDoc struct {
	synopsis string // after "duebell "; default "<name> [flags]"
	about    string
}

// docs describes every command and subcommand, keyed by its flag set name.
var docs = map[string]commandDoc{
	"serve": {about: "Run the HTTP API and support console, the cron scans and the dispatcher until SIGINT/SIGTERM.\n" +
		"Refuses to start with pending migrations unless --migrate is given."},
	"migrate": {about: "Create or upgrade the database schema (numbered migrations, one transaction each)."},
	"scan": {about: "Process channel events and queue the reminders due as of --at (default now).\n" +
		"--dry-run counts what would be queued and writes nothing; an --at in the future needs --future (test systems)."},
	"dispatch": {synopsis: "dispatch --once [--at T] [flags]",
		about: "Send what is sendable as of --at (default now), print the counts and exit.\n" +
			"An --at in the future needs --future (test systems). (The long-running dispatcher runs inside `duebell serve`.)"},
	"templates": {synopsis: "templates check|preview [flags]",
		about: "Templates: `check` renders every template with sample data; `preview` prints one.\n" +
			"Run `duebell templates check --help` or `duebell templates preview --help` for their flags."},
	"templates check": {about: "Render every template (each kind's and each escalation level, such as overdue_firm) with sample data;\n" +
		"exit 1 if any fails. Prints each SMS's segment count."},
	"templates preview": {about: "Print one template rendered with sample data."},
	"demo": {about: "Migrate, seed demo borrowers whose bills fall due around today, queue what is due and serve.\n" +
		"With duebell.demo.toml the notices are written as files to the outbox directory.\n" +
		"--reset deletes the demo borrowers and their notices first, so the demo sends again."},
	"notifications": {synopsis: "notifications list|show [flags]",
		about: "The delivery log: `list` searches it, `show ID` prints one notice's story.\n" +
			"Run `duebell notifications list --help` or `duebell notifications show --help` for their flags."},
	"notifications list": {about: "Search the delivery log, newest first. Times are printed in --tz."},
	"notifications show": {synopsis: "notifications show ID [flags]", about: "Print one notice: its facts, content, attempts and resends. Times are printed in --tz."},
	"resend": {synopsis: "resend ID --reason R [flags]\n       duebell resend --failed --since T --until T --reason R [--dry-run] [flags]",
		about: "Send one notice again to the customer's contact on file, or every notice an outage lost\n" +
			"(by status, channel, kind and provider within a window). Audited as --actor."},
	"report": {synopsis: "report effect [flags]",
		about: "Reports from the delivery log. `effect`: which reminder works.\n" +
			"Run `duebell report effect --help` for its flags."},
	"report effect": {synopsis: "report effect --since DATE [--until DATE] [--at T] [--format table|csv] [flags]",
		about: "Per stage, channel and template, the share of reminded installments paid within 1, 3 and 7 days\n" +
			"of the notice's send time, against the stage's installments that got no notice (opted out, no\n" +
			"address) as a baseline, shown from 20 of them. A share counts only notices whose window has passed\n" +
			"by --at (default now); resends and installments paid before their notice are left out."},
	"import": {synopsis: "import FILE|- [--dry-run] [--atomic] [flags]",
		about: "Apply a book export (NDJSON: customer, plan, payment and event lines; .gz read decompressed, - reads\n" +
			"stdin) as POST /api/v1/import does, and print what each kind of line did. Exit 1 when a line was refused."},
	"move": {synopsis: "move --from sqlite:FILE --config CONFIG",
		about: "Copy an embedded SQLite store, whole (the book, the delivery log and its dedup keys, attempts, receipts,\n" +
			"audit), into the empty PostgreSQL schema CONFIG names, in one transaction: no reminder is sent twice.\n" +
			"Stop the daemon on the file first; the file is then marked moved, and duebell refuses it: serve from CONFIG."},
	"version": {synopsis: "version", about: "Print the version, commit and build date."},
}

// helpError carries a command's help text to Main, which prints it to
// stdout and exits 0. It matches flag.ErrHelp.
type helpError struct{ text string }

func (h helpError) Error() string        { return "help requested" }
func (h helpError) Is(target error) bool { return target == flag.ErrHelp }

// isHelpArg reports whether a is a request for help.
func isHelpArg(a string) bool { return a == "-h" || a == "--help" || a == "-help" || a == "help" }

// helpFor is the help text of fs: synopsis, description and flags.
func helpFor(fs *flag.FlagSet) error {
	d := docs[fs.Name()]
	syn := d.synopsis
	if syn == "" {
		syn = fs.Name() + " [flags]"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: duebell %s\n\n", syn)
	if d.about != "" {
		fmt.Fprintf(&b, "%s\n\n", d.about)
	}
	b.WriteString("Flags:\n")
	fs.SetOutput(&b)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	return helpError{b.String()}
}

// groupHelp is the help of a command that only has subcommands.
func groupHelp(name string) error {
	d := docs[name]
	return helpError{fmt.Sprintf("Usage: duebell %s\n\n%s\n", d.synopsis, d.about)}
}

// flagErr turns a flag.Parse error into help or a usage error (exit 2).
func flagErr(fs *flag.FlagSet, err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return helpFor(fs)
	}
	return fmt.Errorf("%w: %v (see duebell %s --help)", errUsage, err, fs.Name())
}
