package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/user"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"duebell/internal/input"
	"duebell/repo"
)

const notificationsUsage = `usage: duebell notifications list [--customer REF] [--phone P] [--email E] [--plan REF]
                                  [--kind K] [--channel sms|email] [--status S]
                                  [--since T] [--until T] [--limit N] [--cursor C] [--json]
       duebell notifications show ID [--json]`

// runNotifications searches the delivery log (list) or prints one notice's
// story (show), directly from the database.
func runNotifications(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: want list or show\n%s", errUsage, notificationsUsage)
	}
	if isHelpArg(args[0]) {
		return groupHelp("notifications")
	}
	switch args[0] {
	case "list":
		return listNotifications(ctx, args[1:], out)
	case "show":
		return showNotification(ctx, args[1:], out)
	}
	return fmt.Errorf("%w: unknown subcommand %q\n%s", errUsage, args[0], notificationsUsage)
}

func listNotifications(ctx context.Context, args []string, out io.Writer) error {
	var (
		c            commonFlags
		f            repo.NoticeFilter
		since, until string
		cursor       string
		limit        int
		asJSON       bool
	)
	fs := newFlagSet("notifications list", &c)
	fs.StringVar(&f.CustomerRef, "customer", "", "customer reference")
	fs.StringVar(&f.Phone, "phone", "", "phone, as typed (normalized to E.164); matches the phone on file or sent to")
	fs.StringVar(&f.Email, "email", "", "email (any case); matches the address on file or sent to")
	fs.StringVar(&f.PlanRef, "plan", "", "plan reference")
	fs.StringVar(&f.Kind, "kind", "", "notice kind, e.g. due_soon, overdue")
	fs.StringVar(&f.Channel, "channel", "", "sms or email")
	fs.StringVar(&f.Status, "status", "", "pending, sending, sent, delivered, undelivered, suppressed, failed or skipped")
	fs.StringVar(&since, "since", "", "created at or after (RFC 3339)")
	fs.StringVar(&until, "until", "", "created before (RFC 3339)")
	fs.IntVar(&limit, "limit", repo.DefaultSearchLimit, fmt.Sprintf("rows per page (at most %d)", repo.MaxSearchLimit))
	fs.StringVar(&cursor, "cursor", "", "the next page's cursor, from the previous page")
	fs.BoolVar(&asJSON, "json", false, "print JSON")
	tz := tzFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	var err error
	if f.Since, err = flagTime("since", since); err != nil {
		return err
	}
	if f.Until, err = flagTime("until", until); err != nil {
		return err
	}
	if limit < 1 {
		return fmt.Errorf("%w: --limit must be positive", errUsage)
	}
	if err := f.Normalize(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	a, err := openMigrated(ctx, c.config)
	if err != nil {
		return err
	}
	defer a.close()
	loc, err := a.location(*tz)
	if err != nil {
		return err
	}
	page, err := a.repo.SearchNotifications(ctx, f, limit, cursor)
	if err != nil {
		return inputErr(err)
	}
	if asJSON {
		return printJSON(out, page)
	}
	printNotices(out, loc, page.Notices)
	if page.NextCursor != "" {
		fmt.Fprintf(out, "more: add --cursor %s\n", page.NextCursor)
	}
	return nil
}

// printNotices prints a table of notices with their times in loc.
func printNotices(out io.Writer, loc *time.Location, rows []repo.NoticeSummary) {
	if len(rows) == 0 {
		fmt.Fprintln(out, "no notices match")
		return
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCREATED\tCUSTOMER\tPLAN\tSEQ\tKIND\tCHANNEL\tTO\tSTATUS\tTRIES\tRESEND_OF\tBY")
	for _, n := range rows {
		resendOf := ""
		if n.ResendOf != nil {
			resendOf = strconv.FormatInt(*n.ResendOf, 10)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", n.ID, n.CreatedAt.In(loc).Format(time.RFC3339),
			n.CustomerRef, dash(n.PlanRef), dash(seqString(n.Seq)), n.Kind, n.Channel, dash(n.Recipient),
			statusText(n.Status, n.StatusReason), n.Attempts, dash(resendOf), dash(n.RequestedBy))
	}
	tw.Flush()
}

func showNotification(ctx context.Context, args []string, out io.Writer) error {
	var c commonFlags
	fs := newFlagSet("notifications show", &c)
	asJSON := fs.Bool("json", false, "print JSON")
	tz := tzFlag(fs)
	id, err := parseWithID(fs, args)
	if err != nil {
		return err
	}
	if id == 0 {
		return fmt.Errorf("%w: give a notification id\n%s", errUsage, notificationsUsage)
	}
	a, err := openMigrated(ctx, c.config)
	if err != nil {
		return err
	}
	defer a.close()
	loc, err := a.location(*tz)
	if err != nil {
		return err
	}
	d, err := a.repo.GetNotificationDetail(ctx, id)
	if err != nil {
		return err
	}
	ts := func(t time.Time) string { return t.In(loc).Format(time.RFC3339) }
	if *asJSON {
		return printJSON(out, d)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	line := func(k, v string) {
		if v = strings.TrimSpace(v); v != "" {
			fmt.Fprintf(tw, "%s\t%s\n", k, v)
		}
	}
	line("notice", strconv.FormatInt(d.ID, 10))
	line("status", statusText(d.Status, d.StatusReason))
	line("customer", d.CustomerRef)
	line("plan", d.PlanRef+" "+seqString(d.Seq))
	line("kind", d.Kind+" "+d.Stage)
	line("channel", d.Channel+" "+d.Locale)
	line("sent to", d.Recipient)
	line("provider", strings.TrimSpace(d.Provider+" "+d.ProviderMsgID))
	line("created", ts(d.CreatedAt))
	line("not before", ts(d.NotBefore))
	if d.Status == repo.StatusPending { // waiting for its window, a quiet day, a limit or a retry
		line("next try", ts(d.NextAttemptAt))
	}
	if d.Status == repo.StatusSending && d.LeaseOwner != nil && d.LeaseExpiresAt != nil {
		// Its try is logged when it ends: a crashed worker's is logged
		// unknown when another takes the notice over.
		line("being sent", fmt.Sprintf("by %s; the try in progress is logged when it ends, or, if that worker "+
			"stopped, as unknown when another takes it over at %s", *d.LeaseOwner, ts(*d.LeaseExpiresAt)))
	}
	if d.SentAt != nil {
		line("sent", ts(*d.SentAt))
	}
	line("tries", strconv.Itoa(d.Notification.Attempts))
	line("last error", d.LastError)
	if d.ResendOf != nil {
		line("resend of", strconv.FormatInt(*d.ResendOf, 10))
	}
	line("requested by", d.RequestedBy)
	line("reason", d.ResendReason)
	if d.Forced {
		line("forced", "yes")
	}
	line("subject", d.Subject)
	line("link", d.Link)
	tw.Flush()
	if d.Body != "" {
		fmt.Fprintf(out, "\n%s\n", d.Body)
	}
	fmt.Fprintf(out, "\nattempts: %d\n", len(d.DeliveryAttempts))
	for _, at := range d.DeliveryAttempts {
		fmt.Fprintf(out, "  #%d %s %s via %s %s %s %s\n", at.N, ts(at.StartedAt), at.Outcome, at.Provider,
			at.ProviderMsgID, at.Code, at.Error)
	}
	if len(d.ResentAs) > 0 {
		fmt.Fprintln(out, "\nresent as:")
		printNotices(out, loc, d.ResentAs)
	}
	return nil
}

// parseWithID parses flags around one positional notification id, in any
// order ("show 42 --json", "show --json 42"). No id gives 0.
func parseWithID(fs *flag.FlagSet, args []string) (int64, error) {
	var idArg string
	for {
		if err := fs.Parse(args); err != nil {
			return 0, flagErr(fs, err)
		}
		if fs.NArg() == 0 {
			break
		}
		if idArg != "" {
			return 0, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
		}
		idArg, args = fs.Arg(0), fs.Args()[1:]
	}
	if idArg == "" {
		return 0, nil
	}
	id, ok := input.PositiveInt(idArg, math.MaxInt64)
	if !ok {
		return 0, fmt.Errorf("%w: %q is not a notification id", errUsage, idArg)
	}
	return id, nil
}

// defaultActor is the OS user running the command.
func defaultActor() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return os.Getenv("USER")
}

func flagTime(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return parseInstant(name, s)
}

// inputErr turns the repo's bad-input errors into usage errors (exit 2).
func inputErr(err error) error {
	if errors.Is(err, repo.ErrInvalid) {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return err
}

func printJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func statusText(status, reason string) string {
	if reason == "" {
		return status
	}
	return status + " (" + reason + ")"
}

func seqString(seq int) string {
	if seq == 0 {
		return ""
	}
	return strconv.Itoa(seq)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
