package templates

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"duebell/kinds"
	"duebell/link"
)

// linkKinds carry the repayment link (or the new entry URL, payload url):
// from the registry.
var linkKinds = func() []string {
	var out []string
	for _, k := range kinds.All() {
		if k.Link || k.Takes("url") {
			out = append(out, k.Name)
		}
	}
	return out
}()

func TestRenderEveryKindLocaleChannel(t *testing.T) {
	t.Parallel()
	s := load(t, Options{})
	lnk := sampleLink(t)
	for _, kind := range Names() {
		for _, locale := range Locales() {
			for _, channel := range []string{ChannelSMS, ChannelEmail} {
				t.Run(kind+"/"+locale+"/"+channel, func(t *testing.T) {
					t.Parallel()
					r := render(t, s, Sample(kind, locale, channel, lnk))
					if r.Text == "" {
						t.Fatal("empty text")
					}
					if channel == ChannelSMS {
						if r.Subject != "" || r.HTML != "" {
							t.Fatalf("SMS rendered subject/HTML: %+v", r)
						}
					} else if r.Subject == "" || !strings.Contains(r.HTML, "</html>") {
						t.Fatalf("email lacks subject or HTML: %+v", r)
					}
					if strings.Contains(strings.Join(parts(r), ""), "<no value>") {
						t.Fatalf("rendered a missing value: %+v", r)
					}
					hasLink := strings.Contains(r.Text, lnk)
					realKind, _ := KindOf(kind)
					if want := slices.Contains(linkKinds, realKind); hasLink != want {
						t.Fatalf("text carries the link = %v, want %v:\n%s", hasLink, want, r.Text)
					}
					if channel == ChannelEmail && slices.Contains(linkKinds, realKind) && !strings.Contains(r.HTML, `href="`+strings.ReplaceAll(lnk, "&", "&amp;")+`"`) {
						t.Fatalf("HTML has no visible link to %s:\n%s", lnk, r.HTML)
					}
				})
			}
		}
	}
}

func TestRenderSMSStartsWithSignature(t *testing.T) {
	t.Parallel()
	s := load(t, Options{})
	r := render(t, s, Sample(KindDueSoon, LocaleZhCN, ChannelSMS, sampleLink(t)))
	if !strings.HasPrefix(r.Text, "【优品数码商城】") {
		t.Fatalf("zh-CN SMS does not start with the signature: %s", r.Text)
	}
}

func TestRenderRepayMethod(t *testing.T) {
	t.Parallel()
	s := load(t, Options{})
	lnk := sampleLink(t)
	tests := []struct {
		locale, method, card string
		want, notWant        string
	}{
		{LocaleEn, RepayAutoDebit, "1234", "debited from card ****1234; please keep enough balance", "NOT"},
		{LocaleEn, RepayManual, "", "will NOT be debited automatically; please pay here: " + lnk, "card"},
		{LocaleZhCN, RepayAutoDebit, "1234", "将自动扣尾号1234卡，请留足余额", "不会自动扣款"},
		{LocaleZhCN, RepayManual, "", "不会自动扣款，请按时还款：" + lnk, "尾号"},
	}
	for _, tt := range tests {
		d := Sample(KindDueSoon, tt.locale, ChannelSMS, lnk)
		d.RepayMethod, d.CardLast4 = tt.method, tt.card
		got := render(t, s, d).Text
		if !strings.Contains(got, tt.want) || strings.Contains(got, tt.notWant) {
			t.Errorf("%s %s: %q\nwant it to contain %q and not %q", tt.locale, tt.method, got, tt.want, tt.notWant)
		}
	}
}

func TestRenderDaysUntilDue(t *testing.T) {
	t.Parallel()
	s := load(t, Options{})
	tests := []struct {
		kind, locale, channel string
		days                  int
		want                  string
	}{
		{KindDueSoon, LocaleEn, ChannelSMS, 1, "due in 1 day ("},
		{KindDueSoon, LocaleEn, ChannelSMS, 3, "due in 3 days ("},
		{KindDueSoon, LocaleEn, ChannelEmail, 1, "due in 1 day,"},
		{KindDueSoon, LocaleZhCN, ChannelSMS, 3, "还有3天（11月24日）到期"},
		{KindOverdue, LocaleEn, ChannelSMS, -1, "is 1 day overdue"},
		{KindOverdue, LocaleEn, ChannelSMS, -5, "is 5 days overdue"},
		{KindOverdue, LocaleZhCN, ChannelSMS, -5, "已逾期5天"},
	}
	for _, tt := range tests {
		d := Sample(tt.kind, tt.locale, tt.channel, sampleLink(t))
		d.DaysUntilDue = tt.days
		if got := render(t, s, d).Text; !strings.Contains(got, tt.want) {
			t.Errorf("%s %s days=%d: %q does not contain %q", tt.kind, tt.locale, tt.days, got, tt.want)
		}
	}
	d := Sample(KindDueSoon, LocaleEn, ChannelEmail, "")
	d.DaysUntilDue = 1
	if got := render(t, s, d).Subject; got != "Reminder: your installment is due in 1 day" {
		t.Errorf("subject = %q", got)
	}
}

func TestRenderAutodebitReason(t *testing.T) {
	t.Parallel()
	s := load(t, Options{})
	for reason, want := range map[string]string{
		"insufficient_funds": "failed (insufficient balance).",
		"card_expired":       "failed (the card has expired).",
		"bank_declined":      "failed (the bank declined the payment).",
		"":                   "failed. Please pay by Nov 24, 2026",
		"weird_new_code":     "failed. Please pay by Nov 24, 2026",
	} {
		d := Sample(KindAutodebitFailed, LocaleEn, ChannelSMS, sampleLink(t))
		d.Reason = reason
		if got := render(t, s, d).Text; !strings.Contains(got, want) {
			t.Errorf("reason %q: %q does not contain %q", reason, got, want)
		}
	}
}

func TestRenderServiceClosedOutstanding(t *testing.T) {
	t.Parallel()
	s := load(t, Options{})
	d := Sample(KindServiceClosed, LocaleEn, ChannelSMS, sampleLink(t))
	if got := render(t, s, d).Text; !strings.Contains(got, "remaining balance of ¥11,111.04") || !strings.Contains(got, d.Link) {
		t.Errorf("outstanding: %q", got)
	}
	d.Outstanding = 0
	if got := render(t, s, d).Text; !strings.Contains(got, "nothing outstanding") || strings.Contains(got, "http") {
		t.Errorf("nothing outstanding: %q", got)
	}
}

// A service closed while a bill is overdue does not call its past due
// date the next one: it says since when the bill is overdue.
func TestRenderServiceClosedWithAnOverdueBill(t *testing.T) {
	t.Parallel()
	s := load(t, Options{})
	for _, locale := range Locales() {
		for _, channel := range []string{ChannelSMS, ChannelEmail} {
			d := Sample(KindServiceClosed, locale, channel, sampleLink(t))
			d.DaysUntilDue = -6
			want, never := map[string]string{LocaleEn: "verdue since", LocaleZhCN: "逾期"}[locale],
				map[string]string{LocaleEn: "ext due date", LocaleZhCN: "下期还款日"}[locale]
			for _, p := range parts(render(t, s, d)) {
				if p == "" || p == render(t, s, d).Subject {
					continue
				}
				if !strings.Contains(p, want) || strings.Contains(p, never) {
					t.Errorf("%s/%s with a bill 6 days overdue: %q", locale, channel, p)
				}
			}
			d.DaysUntilDue = 3
			if got := render(t, s, d); !strings.Contains(got.Text, never) {
				t.Errorf("%s/%s with the next bill in 3 days: %q", locale, channel, got.Text)
			}
		}
	}
}

func TestRenderNoURLInLinklessKinds(t *testing.T) {
	t.Parallel()
	s := load(t, Options{})
	lnk := sampleLink(t)
	for _, kind := range []string{KindVerificationChanged, KindPaymentReceived, KindCardBound, KindPlanCancelled} {
		for _, locale := range Locales() {
			for _, channel := range []string{ChannelSMS, ChannelEmail} {
				d := Sample(kind, locale, channel, lnk)
				d.Link, d.EntryURL = lnk, lnk // even when a caller passes one
				for _, p := range parts(render(t, s, d)) {
					if err := link.CheckURLs(p, nil); err != nil { // nil allow list: any URL fails
						t.Errorf("%s/%s/%s carries a URL: %v", kind, locale, channel, err)
					}
				}
			}
		}
	}
}

func TestVerificationChangedNeverAsksForSecrets(t *testing.T) {
	t.Parallel()
	s := load(t, Options{})
	asks := []string{
		"请回复", "回复验证码", "提供验证码", "提供密码", "告知验证码", "输入验证码", "输入密码",
		"reply with", "send us your", "tell us your", "enter your", "confirm your",
	}
	for _, locale := range Locales() {
		for _, channel := range []string{ChannelSMS, ChannelEmail} {
			r := render(t, s, Sample(KindVerificationChanged, locale, channel, ""))
			all := strings.ToLower(strings.Join(parts(r), "\n"))
			for _, a := range asks {
				if strings.Contains(all, a) {
					t.Errorf("%s/%s contains %q:\n%s", locale, channel, a, all)
				}
			}
			if !strings.Contains(r.Text, "400-000-0000") {
				t.Errorf("%s/%s does not give the support phone: %s", locale, channel, r.Text)
			}
		}
	}
}

func TestVerificationChangedOverrideWithLinkFails(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "en/verification_changed.sms.txt", "Check your account at https://pay.example.com/security")
	s := load(t, Options{Dir: dir})
	_, err := s.Render(Sample(KindVerificationChanged, LocaleEn, ChannelSMS, ""))
	var fe *link.ForeignURLError
	if !errors.As(err, &fe) {
		t.Fatalf("Render = %v, want *link.ForeignURLError even for an allowed domain", err)
	}
	// It says why: the domain is allowed, a security notice carries no URL.
	if !fe.NoneAllowed || !strings.Contains(err.Error(), "in a message that may carry no URL") {
		t.Errorf("Render = %v, want it to say the message may carry no URL", err)
	}
}

func TestRenderEscapesHTML(t *testing.T) {
	t.Parallel()
	s := load(t, Options{})
	d := Sample(KindDueSoon, LocaleEn, ChannelEmail, sampleLink(t))
	d.CustomerName = `<script>alert("x")</script>`
	d.PlanTitle = `<b onclick="x">TV</b>`
	r := render(t, s, d)
	if strings.Contains(r.HTML, "<script>") || strings.Contains(r.HTML, "<b onclick") {
		t.Fatalf("HTML not escaped:\n%s", r.HTML)
	}
	if !strings.Contains(r.HTML, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") {
		t.Fatalf("escaped name missing:\n%s", r.HTML)
	}
	if !strings.Contains(r.Text, `Dear <script>alert("x")</script>,`) {
		t.Fatalf("plain text must carry the name as is:\n%s", r.Text)
	}
}

func TestRenderForeignDataURL(t *testing.T) {
	t.Parallel()
	s := load(t, Options{})
	d := Sample(KindRepaymentEntryMoved, LocaleZhCN, ChannelSMS, sampleLink(t))
	d.EntryURL = "https://pay.example.com.evil.io/repay"
	_, err := s.Render(d)
	var fe *link.ForeignURLError
	if !errors.As(err, &fe) || fe.URL != d.EntryURL {
		t.Fatalf("Render = %v, want ForeignURLError for %s", err, d.EntryURL)
	}

	d = Sample(KindDueSoon, LocaleEn, ChannelEmail, sampleLink(t))
	d.CustomerName = "visit evil.io/win"
	if _, err := s.Render(d); !errors.As(err, &fe) {
		t.Fatalf("URL in a name: Render = %v, want ForeignURLError", err)
	}
}

func TestRenderEmptyAllowListRejectsLinks(t *testing.T) {
	t.Parallel()
	s, err := Load(Options{})
	if err != nil {
		t.Fatal(err)
	}
	var fe *link.ForeignURLError
	if _, err := s.Render(Sample(KindDueSoon, LocaleEn, ChannelSMS, sampleLink(t))); !errors.As(err, &fe) {
		t.Fatalf("Render = %v, want ForeignURLError", err)
	}
	if _, err := s.Render(Sample(KindPlanCancelled, LocaleEn, ChannelSMS, "")); err != nil {
		t.Fatalf("linkless kind: %v", err)
	}
}

func TestRenderLocaleFallbackAndDefaults(t *testing.T) {
	t.Parallel()
	s := load(t, Options{})
	d := Sample(KindPlanCancelled, "fr-FR", ChannelSMS, "")
	if got := render(t, s, d).Text; !strings.Contains(got, "分期付款已取消") {
		t.Errorf("unknown locale did not fall back to zh-CN: %q", got)
	}
	d = Sample(KindDueToday, "en-US", ChannelSMS, "")
	d.Currency = ""
	if got := render(t, s, d).Text; !strings.Contains(got, "¥1,234.56, is due today") {
		t.Errorf("en-US or default currency: %q", got)
	}
	d.Currency = "USD"
	if got := render(t, s, d).Text; !strings.Contains(got, "$1,234.56") {
		t.Errorf("USD: %q", got)
	}
}

func TestRenderRejectsUnknown(t *testing.T) {
	t.Parallel()
	s := load(t, Options{})
	if _, err := s.Render(Sample("nope", LocaleEn, ChannelSMS, "")); err == nil {
		t.Error("unknown kind rendered")
	}
	if _, err := s.Render(Sample(KindDueSoon, LocaleEn, "fax", "")); err == nil {
		t.Error("unknown channel rendered")
	}
}

func TestResolveLocale(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"zh-CN": "zh-CN", "zh-cn": "zh-CN", "zh": "zh-CN", "zh_TW": "zh-CN",
		"en": "en", "EN": "en", "en-GB": "en", "": "zh-CN", "ja": "zh-CN",
	} {
		if got := ResolveLocale(in); got != want {
			t.Errorf("ResolveLocale(%q) = %q, want %q", in, got, want)
		}
	}
}
