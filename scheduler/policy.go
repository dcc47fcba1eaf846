// Package scheduler decides what is due: the reminder policy, send windows,
// and the cron scans that queue notices.
package scheduler

import (
	"fmt"
	"strings"

	"duebell/kinds"
	"duebell/repo"
	"duebell/templates"
)

// Reminder kinds (names from the registry in package kinds).
const (
	KindDueSoon         = kinds.DueSoon
	KindDueToday        = kinds.DueToday
	KindOverdue         = kinds.Overdue
	KindPaymentReceived = kinds.PaymentReceived
)

// ReminderKinds are the kinds a policy stage sends.
func ReminderKinds() []string { return kinds.Reminders() }

// DefaultStages is the default reminder policy: three days before, on the
// day, and one and seven days after, by SMS and email. The first overdue
// notice is friendly (the overdue template), the one at +7 firm
// (overdue_firm); overdue_serious is shipped for a stage an operator adds.
func DefaultStages() []repo.Stage {
	both := []string{"sms", "email"}
	return []repo.Stage{
		{Name: "due_soon", OffsetDays: -3, Kind: KindDueSoon, Channels: both},
		{Name: "due_today", OffsetDays: 0, Kind: KindDueToday, Channels: both},
		{Name: "overdue_1", OffsetDays: 1, Kind: KindOverdue, Channels: both},
		{Name: "overdue_7", OffsetDays: 7, Kind: KindOverdue, Channels: both, Template: templates.TemplateOverdueFirm},
	}
}

// MaxOffsetDays bounds a stage's offset_days either way: due dates lie in
// 2000–2099 (input.Date), so a stage further from its due date than the
// century could never apply — and an offset beyond PostgreSQL's integer
// failed every scan of the store while the config loaded.
const MaxOffsetDays = 36524

// ValidateStages checks a reminder policy: unique names and offsets within
// MaxOffsetDays, a kind that fits the offset, known channels.
func ValidateStages(stages []repo.Stage) error {
	if len(stages) == 0 {
		return fmt.Errorf("policy.stage: at least one stage is needed")
	}
	names, offsets := map[string]bool{}, map[int]bool{}
	for i, s := range stages {
		key := fmt.Sprintf("policy.stage[%d]", i)
		if s.Name == "" {
			return fmt.Errorf("%s.name: required", key)
		}
		if names[s.Name] {
			return fmt.Errorf("%s.name: %q used twice", key, s.Name)
		}
		if s.OffsetDays < -MaxOffsetDays || s.OffsetDays > MaxOffsetDays {
			return fmt.Errorf("%s.offset_days: %d is out of range (%d to %d days: due dates lie in 2000-2099)",
				key, s.OffsetDays, -MaxOffsetDays, MaxOffsetDays)
		}
		if offsets[s.OffsetDays] {
			return fmt.Errorf("%s.offset_days: %d used twice", key, s.OffsetDays)
		}
		names[s.Name], offsets[s.OffsetDays] = true, true
		switch k, _ := kinds.Of(s.Kind); {
		case !k.Reminder:
			return fmt.Errorf("%s.kind: unknown kind %q (%s)", key, s.Kind, strings.Join(kinds.Reminders(), ", "))
		case sign(s.OffsetDays) != k.DueSide:
			return fmt.Errorf("%s.kind: %s does not fit offset_days %d", key, s.Kind, s.OffsetDays)
		}
		if s.Template != "" {
			if kind, ok := templates.KindOf(s.Template); !ok || kind != s.Kind || templates.IsDigest(s.Template) {
				return fmt.Errorf("%s.template: %q is not a template of kind %s (%s)", key, s.Template, s.Kind,
					strings.Join(templatesOf(s.Kind), ", "))
			}
		}
		if len(s.Channels) == 0 {
			return fmt.Errorf("%s.channels: at least one channel", key)
		}
		if err := ValidateChannels(s.Channels); err != nil {
			return fmt.Errorf("%s.channels: %w", key, err)
		}
	}
	return nil
}

// sign is -1, 0 or 1 as days is before, on or after the due date.
func sign(days int) int {
	switch {
	case days < 0:
		return -1
	case days > 0:
		return 1
	}
	return 0
}

// templatesOf lists the templates a stage of kind may name.
func templatesOf(kind string) []string {
	var out []string
	for _, n := range templates.Names() {
		if k, _ := templates.KindOf(n); k == kind && !templates.IsDigest(n) {
			out = append(out, n)
		}
	}
	return out
}

// ValidateChannels accepts sms and email, each at most once.
func ValidateChannels(chs []string) error {
	seen := map[string]bool{}
	for _, ch := range chs {
		if ch != "sms" && ch != "email" {
			return fmt.Errorf("unknown channel %q (sms, email)", ch)
		}
		if seen[ch] {
			return fmt.Errorf("channel %q listed twice", ch)
		}
		seen[ch] = true
	}
	return nil
}
