package kinds_test

import (
	"slices"
	"testing"

	"duebell/kinds"
	"duebell/notify"
	"duebell/templates"
)

// Every kind of the registry states its facts consistently, and every
// reader has what it needs for it: templates for both channels in every
// locale that render with the kind's sample data, a zh-CN label, and the
// variables a provider-side template may use. The API's payload keys, the
// console's filter and the settled rule (resend and pre-send check) are
// walked per kind in api, api/console and notify
// (TestPostEventAcceptsEveryRegistryKindAndItsPayloadKeys,
// TestKindFiltersListEveryRegistryKind,
// TestSettledRuleAgreesForEveryKindInResendAndPreSendCheck).
func TestEveryKind(t *testing.T) {
	t.Parallel()
	set, err := templates.Load(templates.Options{AllowedDomains: []string{"example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, k := range kinds.All() {
		t.Run(k.Name, func(t *testing.T) {
			if k.Name == "" || seen[k.Name] {
				t.Fatalf("name %q empty or used twice", k.Name)
			}
			seen[k.Name] = true
			if got, ok := kinds.Of(k.Name); !ok || got.Name != k.Name {
				t.Errorf("Of(%q) = %v, %v", k.Name, got.Name, ok)
			}
			if k.Label[kinds.LocaleZhCN] == "" {
				t.Errorf("no zh-CN label")
			}
			checkFacts(t, k)
			if vars := notify.VarsFor(k.Name); vars == nil {
				t.Errorf("notify.VarsFor = nil")
			}
			if !slices.Contains(templates.Kinds(), k.Name) {
				t.Errorf("templates.Kinds lacks it")
			}
			for _, locale := range templates.Locales() {
				for _, channel := range []string{templates.ChannelSMS, templates.ChannelEmail} {
					r, err := set.Render(templates.Sample(k.Name, locale, channel, "https://pay.example.com/r/abc"))
					if err != nil {
						t.Errorf("%s %s: %v", locale, channel, err)
						continue
					}
					if r.Text == "" {
						t.Errorf("%s %s: empty text", locale, channel)
					}
				}
			}
		})
	}
	for _, res := range set.Check("https://pay.example.com/r/abc", "", "") {
		if res.Err != nil {
			t.Errorf("templates check %s %s %s: %v", res.Template, res.Locale, res.Channel, res.Err)
		}
	}
}

// checkFacts checks the facts of one kind against each other.
func checkFacts(t *testing.T, k kinds.Kind) {
	t.Helper()
	if k.Reminder && k.Event != nil {
		t.Errorf("a reminder is queued by the due-date scan, not reported as an event")
	}
	if k.Reminder && (k.DueSide < -1 || k.DueSide > 1) {
		t.Errorf("DueSide %d, want -1, 0 or 1", k.DueSide)
	}
	if !k.Reminder && k.DueSide != 0 {
		t.Errorf("DueSide on a kind that is not a reminder")
	}
	if k.Collection && !k.AsksPayment {
		t.Errorf("a collection notice asks for payment")
	}
	if k.NoURL && k.Link {
		t.Errorf("NoURL and Link")
	}
	if k.Link != slices.Contains(k.Vars, notify.VarLink) {
		t.Errorf("Link = %v but vars %v", k.Link, k.Vars)
	}
	if e := k.Event; e != nil {
		if len(e.Scopes) == 0 {
			t.Errorf("an event with no scope")
		}
		for _, s := range e.Scopes {
			if s != kinds.ScopeCustomer && s != kinds.ScopePlan && s != kinds.ScopeAll {
				t.Errorf("unknown scope %q", s)
			}
		}
		for _, r := range e.Required {
			if !slices.Contains(e.Payload, r) {
				t.Errorf("required key %q is not among its payload keys %v", r, e.Payload)
			}
		}
		if e.RepayMethod != "" && e.RepayMethod != kinds.RepayAutoDebit && e.RepayMethod != kinds.RepayManual {
			t.Errorf("unknown repay method %q", e.RepayMethod)
		}
		if e.CancelsPlan && !slices.Equal(e.Scopes, []string{kinds.ScopePlan}) {
			t.Errorf("cancels a plan but takes scopes %v", e.Scopes)
		}
	}
}

func TestListsFollowTheFacts(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		got  []string
		keep func(kinds.Kind) bool
	}{
		"Reminders":         {kinds.Reminders(), func(k kinds.Kind) bool { return k.Reminder }},
		"AsksPayment":       {kinds.AsksPayment(), func(k kinds.Kind) bool { return k.AsksPayment }},
		"Events":            {kinds.Events(), func(k kinds.Kind) bool { return k.Event != nil }},
		"RepayMethodEvents": {kinds.RepayMethodEvents(), func(k kinds.Kind) bool { return k.Event != nil && k.Event.RepayMethod != "" }},
		"Outstanding":       {kinds.Outstanding(), func(k kinds.Kind) bool { return k.Outstanding }},
	} {
		var want []string
		for _, k := range kinds.All() {
			if c.keep(k) {
				want = append(want, k.Name)
			}
		}
		if !slices.Equal(c.got, want) || len(want) == 0 {
			t.Errorf("%s = %v, want %v", name, c.got, want)
		}
	}
	if got := kinds.RepayMethodEvents(); !slices.Equal(got, []string{kinds.CardUnbound, kinds.CardBound}) {
		t.Errorf("card events = %v", got)
	}
}
