package notify_test

import (
	"context"
	"strings"
	"testing"

	"duebell/notify"
	"duebell/repo"
	"duebell/repo/storetest"
	"duebell/scheduler"
)

// stageTemplates is the default policy's stage → template map, as the CLI
// builds it from the configuration.
func stageTemplates() map[string]string {
	out := map[string]string{}
	for _, s := range scheduler.DefaultStages() {
		if s.Template != "" {
			out[s.Name] = s.Template
		}
	}
	return out
}

// The default policy's first overdue notice is the friendly one, the notice
// at +7 the firm one: each stage renders its own template, the row records
// which, and each stage still goes out once.
func TestOverdueStagesRenderTheirLevel(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *notify.Config) { c.StageTemplates = stageTemplates() })
	ctx := context.Background()
	storetest.Customer(t, b.r, "c1")
	storetest.Plan(t, b.r, "p1", "c1", []repo.Date{repo.NewDate(2026, 11, 24)})

	steps := []struct {
		scanDay          int // of November; 31 is December 1st
		stage, template  string
		want, notWant    string
		smsTemplateLevel string
	}{
		{25, "overdue_1", "overdue.sms.zh-CN", "已逾期1天，可能您一时忘了", "征信", "overdue"},
		{31, "overdue_7", "overdue_firm.sms.zh-CN", "已逾期7天，将按合同计收逾期费用，并可能按规定报送征信", "忘", "overdue_firm"},
	}
	for i, st := range steps {
		at := sh(11, st.scanDay, 8, 0)
		for range 2 { // a re-scan adds nothing
			if _, err := b.r.QueueDueReminders(ctx, at, scheduler.DefaultStages()); err != nil {
				t.Fatal(err)
			}
		}
		b.dispatch(t, at.Add(2*3600e9))
		b.dispatch(t, at.Add(3*3600e9)) // nothing left to send
		msgs := b.sms.messages()
		if len(msgs) != i+1 {
			t.Fatalf("after %s: %d SMS sent, want %d", st.stage, len(msgs), i+1)
		}
		m := msgs[i]
		if !strings.Contains(m.Text, st.want) || strings.Contains(m.Text, st.notWant) {
			t.Errorf("%s SMS: %s", st.stage, m.Text)
		}
		if m.Template != st.smsTemplateLevel {
			t.Errorf("%s: message template %q, want %q", st.stage, m.Template, st.smsTemplateLevel)
		}
		n := b.notice(t, "sms")
		if n.Stage != st.stage || n.Template != st.template || n.Status != repo.StatusSent {
			t.Errorf("%s row: stage %s template %s status %s", st.stage, n.Stage, n.Template, n.Status)
		}
		mails := b.email.messages()
		if len(mails) != i+1 || !strings.Contains(mails[i].Text, st.want[:strings.Index(st.want, "，")]) {
			t.Errorf("%s: %d emails, last %+v", st.stage, len(mails), mails[len(mails)-1].Subject)
		}
	}
	if got := b.email.messages()[1].Subject; got != "重要：您的分期账单已逾期7天，请尽快还款" {
		t.Errorf("firm email subject %q", got)
	}
}

// A digest of overdue bills at a stage that names an escalation level says
// what that level says (late fees, credit reporting) for them all: every
// overdue digest read as the friendly first reminder, whatever the stage.
func TestOverdueDigestSpeaksItsStagesLevel(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *notify.Config) { c.StageTemplates = stageTemplates() })
	threePlans(t, b)
	for _, day := range []int{25, 31} {
		at := sh(11, day, 8, 0)
		b.scanStages(t, at, digestStages())
		b.dispatch(t, at.Add(2*3600e9))
	}
	msgs := b.sms.messages()
	if len(msgs) != 2 {
		t.Fatalf("%d SMS, want the overdue_1 and overdue_7 digests", len(msgs))
	}
	if first := msgs[0].Text; !strings.Contains(first, "您有3笔分期") || !strings.Contains(first, "已还请忽略") || strings.Contains(first, "征信") {
		t.Errorf("overdue_1 digest %q, want the friendly wording", first)
	}
	if firm := msgs[1].Text; !strings.Contains(firm, "您有3笔分期") || !strings.Contains(firm, "将按合同计收逾期费用，并可能按规定报送征信") {
		t.Errorf("overdue_7 digest %q, want the firm level's wording", firm)
	}
}
