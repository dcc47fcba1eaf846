package cli

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"duebell/internal/input"
	"duebell/repo"
	"duebell/scheduler"
)

// runReport runs a report subcommand; effect is the only one.
func runReport(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: report effect --since DATE [--until DATE] [--format table|csv]", errUsage)
	}
	if isHelpArg(args[0]) {
		return groupHelp("report")
	}
	if args[0] != "effect" {
		return fmt.Errorf("%w: unknown report %q (effect)", errUsage, args[0])
	}
	return reportEffect(ctx, args[1:], out)
}

// reportEffect prints, per stage, channel and template, the share of
// reminded installments paid within 1, 3 and 7 days of the notice, with the
// stage's no-notice baseline.
func reportEffect(ctx context.Context, args []string, out io.Writer) error {
	var c commonFlags
	fs := newFlagSet("report effect", &c)
	since := fs.String("since", "", "notices sent from this date (YYYY-MM-DD, local midnight in --tz) or time (RFC 3339); required")
	until := fs.String("until", "", "notices sent up to and including this date, or before this RFC 3339 time (default: now)")
	at := fs.String("at", "", "as of this RFC 3339 time (default now): a window counts once it has passed by then")
	format := fs.String("format", "table", "table or csv")
	tz := tzFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *since == "" {
		return fmt.Errorf("%w: --since is required, e.g. --since 2026-01-01", errUsage)
	}
	if *format != "table" && *format != "csv" {
		return fmt.Errorf("%w: --format %q: want table or csv", errUsage, *format)
	}
	asOf, err := flagTime("at", *at)
	if err != nil {
		return err
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
	if asOf.IsZero() {
		asOf = a.now()
	}
	from, err := flagDay("since", *since, loc, false)
	if err != nil {
		return err
	}
	to := asOf
	if *until != "" {
		if to, err = flagDay("until", *until, loc, true); err != nil {
			return err
		}
	}
	if !from.Before(to) {
		return fmt.Errorf("%w: --since must be before --until", errUsage)
	}
	rows, err := a.repo.EffectReport(ctx, scheduler.ReminderKinds(), from, to, asOf)
	if err != nil {
		return err
	}
	if *format == "csv" {
		return writeEffectCSV(out, rows)
	}
	fmt.Fprintf(out, "Reminders sent %s – %s, as of %s (%s).\n", from.In(loc).Format("2006-01-02 15:04"),
		to.In(loc).Format("2006-01-02 15:04"), asOf.In(loc).Format("2006-01-02 15:04"), loc)
	fmt.Fprintf(out, "PAID_nD: share of reminded installments paid within n days of the notice (— until n days have passed).\n"+
		"NO_NOTICE: installments of the stage that got no notice (opted out, no address); BASE_nD their share, from %d on.\n\n",
		repo.EffectMinBaseline)
	if len(rows) == 0 {
		fmt.Fprintln(out, "no reminders were sent in this period")
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STAGE\tCHANNEL\tTEMPLATE\tSENT\tPAID_1D\tPAID_3D\tPAID_7D\tNO_NOTICE\tBASE_1D\tBASE_3D\tBASE_7D")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d", r.Stage, r.Channel, r.Template, r.Sent)
		for _, s := range r.Shares {
			fmt.Fprintf(tw, "\t%s", percent(s.Ratio()))
		}
		fmt.Fprintf(tw, "\t%d", r.Baseline)
		for _, s := range r.Base {
			fmt.Fprintf(tw, "\t%s", percent(s.BaseRatio()))
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// percent formats a share as "40.0%", or "—" when there is none.
func percent(ratio float64, ok bool) string {
	if !ok {
		return "—"
	}
	return strconv.FormatFloat(ratio*100, 'f', 1, 64) + "%"
}

// writeEffectCSV writes the report with its counts: a share is left empty
// when there is none (or, for the baseline, too few installments).
func writeEffectCSV(out io.Writer, rows []repo.EffectRow) error {
	w := csv.NewWriter(out)
	head := []string{"stage", "stage_offset", "channel", "template", "sent"}
	for _, d := range repo.EffectWindows {
		head = append(head, fmt.Sprintf("paid_%dd", d), fmt.Sprintf("eligible_%dd", d), fmt.Sprintf("share_%dd", d))
	}
	head = append(head, "no_notice")
	for _, d := range repo.EffectWindows {
		head = append(head, fmt.Sprintf("base_paid_%dd", d), fmt.Sprintf("base_eligible_%dd", d), fmt.Sprintf("base_share_%dd", d))
	}
	_ = w.Write(head)
	ratio := func(r float64, ok bool) string {
		if !ok {
			return ""
		}
		return strconv.FormatFloat(r, 'f', 4, 64)
	}
	for _, r := range rows {
		rec := []string{r.Stage, strconv.Itoa(r.Offset), r.Channel, r.Template, strconv.FormatInt(r.Sent, 10)}
		for _, s := range r.Shares {
			x, ok := s.Ratio()
			rec = append(rec, strconv.FormatInt(s.Paid, 10), strconv.FormatInt(s.Eligible, 10), ratio(x, ok))
		}
		rec = append(rec, strconv.FormatInt(r.Baseline, 10))
		for _, s := range r.Base {
			x, ok := s.BaseRatio()
			rec = append(rec, strconv.FormatInt(s.Paid, 10), strconv.FormatInt(s.Eligible, 10), ratio(x, ok))
		}
		_ = w.Write(rec)
	}
	w.Flush()
	return w.Error()
}

// flagDay reads a date (YYYY-MM-DD, midnight in loc; with endOfDay the
// following midnight, so the day is included) or an RFC 3339 time.
func flagDay(name, s string, loc *time.Location, endOfDay bool) (time.Time, error) {
	if d, err := time.ParseInLocation(time.DateOnly, s, loc); err == nil {
		if err := input.Date(d); err != nil {
			return time.Time{}, fmt.Errorf("%w: --%s %q: %v", errUsage, name, s, err)
		}
		if endOfDay {
			d = d.AddDate(0, 0, 1)
		}
		return d, nil
	}
	if _, err := input.ParseRFC3339(s); err != nil {
		return time.Time{}, fmt.Errorf("%w: --%s %q: want a date 2026-01-01 or an RFC 3339 time", errUsage, name, s)
	}
	return parseInstant(name, s)
}
