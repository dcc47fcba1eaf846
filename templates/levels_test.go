package templates

import (
	"strings"
	"testing"
)

// Each overdue level says something the others do not: the first assumes a
// slip of memory, the firm one states the contract's consequences, the
// serious one offers to agree an arrangement. None threatens or shames.
func TestOverdueLevelsHaveDistinctWording(t *testing.T) {
	t.Parallel()
	s := load(t, Options{})
	lnk := sampleLink(t)
	tests := []struct {
		name, locale string
		want         []string // in the SMS and in the email text
		notWant      []string
	}{
		{KindOverdue, LocaleZhCN, []string{"忘"}, []string{"征信", "逾期费用"}},
		{TemplateOverdueFirm, LocaleZhCN, []string{"已逾期7天", "逾期费用", "征信"}, []string{"忘"}},
		{TemplateOverdueSerious, LocaleZhCN, []string{"已逾期30天", "逾期费", "征信", "客服"}, []string{"忘"}},
		{KindOverdue, LocaleEn, []string{"slipped your mind"}, []string{"credit", "fee"}},
		{TemplateOverdueFirm, LocaleEn, []string{"7 days overdue", "late fees", "contract", "credit bureaus"}, []string{"slipped"}},
		{TemplateOverdueSerious, LocaleEn, []string{"30 days overdue", "contract", "credit bureaus", "contact us"}, []string{"slipped"}},
	}
	banned := []string{"起诉", "律师", "上门", "曝光", "通讯录", "lawsuit", "police", "shame", "your family"}
	for _, tt := range tests {
		sms := render(t, s, Sample(tt.name, tt.locale, ChannelSMS, lnk))
		mail := render(t, s, Sample(tt.name, tt.locale, ChannelEmail, lnk))
		for _, text := range []string{sms.Text, mail.Text, mail.HTML} {
			text = strings.ToLower(text)
			for _, w := range tt.want {
				if !strings.Contains(text, strings.ToLower(w)) {
					t.Errorf("%s/%s lacks %q:\n%s", tt.locale, tt.name, w, text)
				}
			}
			for _, w := range append(tt.notWant, banned...) {
				if strings.Contains(text, strings.ToLower(w)) {
					t.Errorf("%s/%s says %q:\n%s", tt.locale, tt.name, w, text)
				}
			}
		}
	}
}

func TestRenderLevelOfAnotherKindFails(t *testing.T) {
	t.Parallel()
	s := load(t, Options{})
	d := Sample(KindDueSoon, LocaleEn, ChannelSMS, sampleLink(t))
	d.Template = TemplateOverdueFirm
	if _, err := s.Render(d); err == nil || !strings.Contains(err.Error(), "is for overdue") {
		t.Fatalf("due_soon rendered with overdue_firm: %v", err)
	}
	d.Template = "overdue_nonesuch"
	if _, err := s.Render(d); err == nil || !strings.Contains(err.Error(), "unknown template") {
		t.Fatalf("unknown template: %v", err)
	}
}

func TestOverrideOfLevelIsUsed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "en/overdue_firm.sms.txt", `Firm words for {{.PlanTitle}}`)
	s := load(t, Options{Dir: dir})
	r := render(t, s, Sample(TemplateOverdueFirm, LocaleEn, ChannelSMS, ""))
	if r.Text != "Firm words for iPhone 16 Pro 256GB" {
		t.Fatalf("override not used: %q", r.Text)
	}
}
