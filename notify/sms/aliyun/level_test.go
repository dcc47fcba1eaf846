package aliyun

import (
	"context"
	"testing"
)

// A notice of an escalation level goes out with the template filed for that
// level when one is mapped, and with its kind's otherwise.
func TestSendUsesTheLevelsTemplate(t *testing.T) {
	t.Parallel()
	fake, srv := newFake(t, ok("B3"))
	cfg := testConfig(srv.URL)
	cfg.Templates["overdue/zh-CN"] = Template{Code: "SMS_OVERDUE", SignName: "分期宝"}
	cfg.Templates["overdue_firm/zh-CN"] = Template{Code: "SMS_OVERDUE_FIRM", SignName: "分期宝"}
	c := newTestClient(t, cfg)
	for _, tmpl := range []string{"overdue", "overdue_firm", "overdue_serious"} {
		msg := testMessage()
		msg.Kind, msg.Template = "overdue", tmpl
		if _, err := c.Send(context.Background(), msg); err != nil {
			t.Fatalf("Send %s: %v", tmpl, err)
		}
	}
	var got []string
	for _, call := range fake.Calls() {
		got = append(got, call.Query.Get("TemplateCode"))
	}
	want := []string{"SMS_OVERDUE", "SMS_OVERDUE_FIRM", "SMS_OVERDUE"}
	if len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("template codes %v, want %v", got, want)
	}
}
