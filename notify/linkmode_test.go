package notify_test

import (
	"net/url"
	"strings"
	"testing"

	"duebell/link"
	"duebell/notify"
	"duebell/repo"
)

func TestSMSCarriesTemplateVariables(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		locale, dueDate string
	}{{"zh-CN", "2026年11月24日"}, {"en", "Nov 24, 2026"}} {
		t.Run(tc.locale, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(c *notify.Config) { c.SupportPhone = "400-000-0000" })
			b.seedDueSoon(t, func(c *repo.Customer) { c.Locale = tc.locale })
			b.dispatch(t, sh(11, 21, 10, 0))
			msgs := b.sms.messages()
			if len(msgs) != 1 {
				t.Fatalf("%d SMS", len(msgs))
			}
			n := b.notice(t, "sms")
			// link_token is what a template filed with the link's fixed
			// part appends: the signed link's own token, for this notice.
			u, err := url.Parse(n.Link)
			if err != nil {
				t.Fatal(err)
			}
			tok := u.Query().Get(link.QueryParam)
			if c, err := b.cfg.Links.(*link.Signer).Verify(tok, sh(11, 21, 10, 0)); err != nil || c.NotificationID != n.ID {
				t.Errorf("link_token %q: claims %+v, %v; want notice %d's", tok, c, err, n.ID)
			}
			want := map[string]string{
				"name": "张三", "merchant": "优品手机", "plan": "iPhone 17 12期", "plan_ref": "p1",
				"support_phone": "400-000-0000", "seq": "1", "periods": "1", "amount": "500.00",
				"due_date": tc.dueDate, "days": "3", "card": "", "link": n.Link, "link_token": tok,
			}
			got := msgs[0].Vars
			if len(got) != len(want) {
				t.Errorf("vars %v, want exactly %v", got, want)
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("var %s = %q, want %q", k, got[k], v)
				}
			}
			if msgs[0].Kind != "due_soon" || msgs[0].Locale != tc.locale || n.Link == "" {
				t.Errorf("kind %q locale %q link %q", msgs[0].Kind, msgs[0].Locale, n.Link)
			}
			if em := b.email.messages(); len(em) != 1 || em[0].Vars != nil {
				t.Errorf("email carries template variables: %+v", em)
			}
		})
	}
}

func TestVarsForKnowsEveryKind(t *testing.T) {
	t.Parallel()
	if v := notify.VarsFor("due_soon"); !contains(v, "amount") || !contains(v, "link") {
		t.Errorf("due_soon vars %v", v)
	}
	if v := notify.VarsFor("verification_changed"); contains(v, "link") || !contains(v, "support_phone") {
		t.Errorf("a security notice may not carry a link: %v", v)
	}
	if v := notify.VarsFor("payment_received"); !contains(v, "paid_amount") || contains(v, "link") {
		t.Errorf("payment_received vars %v", v)
	}
	if notify.VarsFor("no_such_kind") != nil {
		t.Error("vars for an unknown kind")
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestFixedLinkModePutsTheLandingPageInSMSOnly(t *testing.T) {
	t.Parallel()
	const landing = "https://pay.example.com/app"
	b := setup(t, func(c *notify.Config) { c.SMSLinkMode, c.SMSLandingURL = notify.LinkModeFixed, landing })
	b.seedDueSoon(t)
	if c := b.dispatch(t, sh(11, 21, 10, 0)); c["sent"] != 2 {
		t.Fatalf("counts %v", c)
	}
	sms := b.sms.messages()[0]
	if !strings.Contains(sms.Text, landing) || strings.Contains(sms.Text, "?t=") || sms.Vars["link"] != landing ||
		sms.Vars["link_token"] != "" {
		t.Errorf("SMS %q vars %v, want the landing page and no signed link", sms.Text, sms.Vars)
	}
	if n := b.notice(t, "sms"); n.Link != landing {
		t.Errorf("SMS row link %q", n.Link)
	}
	em := b.email.messages()[0]
	if n := b.notice(t, "email"); !strings.Contains(n.Link, "?t=") || !strings.Contains(em.Text, n.Link) {
		t.Errorf("email link %q, want the signed per-user link", n.Link)
	}
}

func TestFixedLinkModeNeedsALandingPage(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *notify.Config) { c.SMSLinkMode = notify.LinkModeFixed })
	if _, err := notify.New(b.cfg); err == nil {
		t.Fatal("fixed link mode without a landing URL was accepted")
	}
}
