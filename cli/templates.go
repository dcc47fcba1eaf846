package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"duebell/link"
	"duebell/templates"
)

func runTemplates(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: templates check | templates preview --kind K --locale L --channel C", errUsage)
	}
	if isHelpArg(args[0]) {
		return groupHelp("templates")
	}
	switch args[0] {
	case "check":
		return templatesCheck(args[1:], out)
	case "preview":
		return templatesPreview(args[1:], out)
	}
	return fmt.Errorf("%w: unknown templates command %q (check, preview)", errUsage, args[0])
}

func sampleLink(a *app) string {
	return a.links.URL(link.Claims{NotificationID: 123456, PlanRef: "P-2026-0001", Seq: 3}, time.Now())
}

// templatesCheck renders every template with sample data and fails on any
// error, reporting each SMS's segment count.
func templatesCheck(args []string, out io.Writer) error {
	var c commonFlags
	fs := newFlagSet("templates check", &c)
	if err := parse(fs, args); err != nil {
		return err
	}
	a, err := loadConfig(c.config)
	if err != nil {
		return err
	}
	results := a.tpl.Check(sampleLink(a), a.cfg.Support.Phone, a.cfg.SMS.Signature)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TEMPLATE\tLOCALE\tCHANNEL\tSEGMENTS\tRESULT")
	var errs []error
	for _, r := range results {
		seg, res := "", "ok"
		if r.Channel == "sms" {
			seg = fmt.Sprintf("%d (%s)", r.Segments, r.Encoding)
		}
		if r.Err != nil {
			res = "ERROR: " + r.Err.Error()
			errs = append(errs, fmt.Errorf("%s/%s/%s: %w", r.Template, r.Locale, r.Channel, r.Err))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Template, r.Locale, r.Channel, seg, res)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if mapping := checkProviderMapping(a.cfg); mapping != nil {
		errs = append(errs, printMapping(out, a.cfg.SMS.Provider, mapping)...)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%d template(s) failed: %w", len(errs), errors.Join(errs...))
	}
	fmt.Fprintf(out, "%d templates rendered without error\n", len(results))
	return nil
}

// templatesPreview prints one template rendered with sample data.
func templatesPreview(args []string, out io.Writer) error {
	var c commonFlags
	fs := newFlagSet("templates preview", &c)
	kind := fs.String("kind", "due_soon", "notice kind, or an escalation level such as overdue_firm")
	locale := fs.String("locale", "zh-CN", "zh-CN or en")
	channel := fs.String("channel", "sms", "sms or email")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch _, known := templates.KindOf(*kind); {
	case !known:
		return fmt.Errorf("%w: --kind %q: want one of %s", errUsage, *kind, strings.Join(templates.Names(), ", "))
	case !slices.Contains(templates.Locales(), *locale):
		return fmt.Errorf("%w: --locale %q: want one of %s", errUsage, *locale, strings.Join(templates.Locales(), ", "))
	case *channel != "sms" && *channel != "email":
		return fmt.Errorf("%w: --channel %q: want sms or email", errUsage, *channel)
	}
	a, err := loadConfig(c.config)
	if err != nil {
		return err
	}
	sample := templates.Sample(*kind, *locale, *channel, sampleLink(a))
	sample.SupportPhone = cmp.Or(a.cfg.Support.Phone, sample.SupportPhone)
	if *channel == templates.ChannelSMS {
		sample.SMSSignature = a.cfg.SMS.Signature
	}
	r, err := a.tpl.Render(sample)
	if err != nil {
		return err
	}
	if r.Subject != "" {
		fmt.Fprintf(out, "Subject: %s\n\n", r.Subject)
	}
	fmt.Fprintln(out, r.Text)
	if r.HTML != "" {
		fmt.Fprintf(out, "\n--- HTML ---\n%s\n", r.HTML)
	}
	return nil
}
