package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"duebell/repo"
)

const resendUsage = `usage: duebell resend ID --reason R [--channel sms|email] [--force] [--actor A]
       duebell resend --failed|--status S --since T --until T --reason R
                      [--channel C] [--kind K] [--provider P] [--dry-run] [--actor A]`

// runResend resends one notice, or every notice that reached a status in a
// window (a provider outage), directly against the database, audited as
// --actor (default the OS user).
func runResend(ctx context.Context, args []string, out io.Writer) error {
	var (
		c                      commonFlags
		reason, channel, actor string
		force, dryRun, failed  bool
		f                      repo.BulkFilter
		since, until           string
	)
	fs := newFlagSet("resend", &c)
	fs.StringVar(&reason, "reason", "", "why the notice is sent again (required, audited)")
	fs.StringVar(&channel, "channel", "", "single: send on this channel instead (sms or email); bulk: only this channel")
	fs.StringVar(&actor, "actor", defaultActor(), "who is resending, for the audit trail")
	fs.BoolVar(&force, "force", false, "single: send even though the plan is inactive or the notice still queued (never for an installment paid or waived)")
	fs.BoolVar(&failed, "failed", false, "bulk: resend notices that failed (same as --status failed)")
	fs.StringVar(&f.Status, "status", "", "bulk: resend notices in this status (failed, undelivered, …)")
	fs.StringVar(&f.Kind, "kind", "", "bulk: only this kind")
	fs.StringVar(&f.Provider, "provider", "", "bulk: only notices that went through this provider")
	fs.StringVar(&since, "since", "", "bulk: the notice reached its status at or after (RFC 3339)")
	fs.StringVar(&until, "until", "", "bulk: … and before (RFC 3339)")
	fs.BoolVar(&dryRun, "dry-run", false, "bulk: count and sample what would be resent, change nothing")
	tz := tzFlag(fs)
	id, err := parseWithID(fs, args)
	if err != nil {
		return err
	}
	if failed {
		if f.Status != "" && f.Status != repo.StatusFailed {
			return fmt.Errorf("%w: --failed and --status %s disagree", errUsage, f.Status)
		}
		f.Status = repo.StatusFailed
	}
	bulk := f.Status != "" || since != "" || until != "" || dryRun || f.Kind != "" || f.Provider != ""
	switch {
	case id == 0 && !bulk:
		return fmt.Errorf("%w: give a notification id, or --failed with --since and --until\n%s", errUsage, resendUsage)
	case id != 0 && bulk:
		return fmt.Errorf("%w: a notification id resends one notice; --status, --since, --until, --kind, --provider and --dry-run are for bulk resends", errUsage)
	case id == 0 && force:
		return fmt.Errorf("%w: --force is for a single notice; a bulk resend skips settled installments", errUsage)
	case strings.TrimSpace(reason) == "":
		return fmt.Errorf("%w: --reason is required (it is stored in the audit trail)", errUsage)
	case strings.TrimSpace(actor) == "":
		return fmt.Errorf("%w: --actor is required (the OS user name is unknown)", errUsage)
	}
	if id != 0 {
		return resendOne(ctx, c.config, out, repo.ResendInput{ID: id, Channel: channel, Reason: reason, Actor: actor, Force: force})
	}
	f.Channel = channel
	if f.Since, err = flagTime("since", since); err != nil {
		return err
	}
	if f.Until, err = flagTime("until", until); err != nil {
		return err
	}
	if err := f.Validate(); err != nil {
		return inputErr(err)
	}
	return resendBulk(ctx, c.config, *tz, out, repo.BulkResendInput{Filter: f, Reason: reason, Actor: actor, DryRun: dryRun})
}

func resendOne(ctx context.Context, config string, out io.Writer, in repo.ResendInput) error {
	a, err := openMigrated(ctx, config)
	if err != nil {
		return err
	}
	defer a.close()
	res, err := a.repo.Resend(ctx, in)
	if err != nil {
		return inputErr(err)
	}
	n := res.Notification
	fmt.Fprintf(out, "queued notice %d, a resend of %d on %s to the customer's contact on file (audited as %s)\n",
		n.ID, in.ID, n.Channel, in.Actor)
	return nil
}

func resendBulk(ctx context.Context, config, tz string, out io.Writer, in repo.BulkResendInput) error {
	a, err := openMigrated(ctx, config)
	if err != nil {
		return err
	}
	defer a.close()
	loc, err := a.location(tz)
	if err != nil {
		return err
	}
	res, err := a.repo.ResendMatching(ctx, in)
	if err != nil {
		return inputErr(err)
	}
	verb := "queued"
	if res.DryRun {
		verb = "would queue"
	}
	fmt.Fprintf(out, "%s %d resends of %d matching notices", verb, res.Count, res.Matched)
	if len(res.Skipped) > 0 {
		reasons := make([]string, 0, len(res.Skipped))
		for r := range res.Skipped {
			reasons = append(reasons, r)
		}
		sort.Strings(reasons)
		var parts []string
		for _, r := range reasons {
			parts = append(parts, fmt.Sprintf("%d %s", res.Skipped[r], r))
		}
		fmt.Fprintf(out, "; skipped %s", strings.Join(parts, ", "))
	}
	fmt.Fprintln(out)
	if res.DryRun && len(res.Sample) > 0 {
		fmt.Fprintln(out, "sample:")
		printNotices(out, loc, res.Sample)
	}
	if !res.DryRun {
		fmt.Fprintf(out, "audited as %s\n", in.Actor)
	}
	return nil
}
