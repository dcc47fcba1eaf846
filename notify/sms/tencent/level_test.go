package tencent

import (
	"context"
	"testing"
)

// A notice of an escalation level goes out with the template filed for that
// level when one is mapped, and with its kind's otherwise.
func TestSendUsesTheLevelsTemplate(t *testing.T) {
	t.Parallel()
	fake, srv := newFake(t, statusReply("Ok", "S3"))
	cfg := testConfig(srv.URL)
	cfg.Templates["overdue/zh-CN"] = Template{ID: "500001", SignName: "分期宝"}
	cfg.Templates["overdue_firm/zh-CN"] = Template{ID: "500007", SignName: "分期宝"}
	c := newTestClient(t, cfg)
	for _, tmpl := range []string{"overdue", "overdue_firm", "overdue_serious"} {
		msg := testMessage()
		msg.Kind, msg.Template, msg.Vars = "overdue", tmpl, nil
		if _, err := c.Send(context.Background(), msg); err != nil {
			t.Fatalf("Send %s: %v", tmpl, err)
		}
	}
	var got []string
	for _, call := range fake.Calls() {
		got = append(got, call.Body.TemplateId)
	}
	if want := []string{"500001", "500007", "500001"}; len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("template ids %v, want %v", got, want)
	}
}
