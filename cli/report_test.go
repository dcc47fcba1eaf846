package cli_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"duebell/cli"
	"duebell/repo/repotest"
)

func runReport(t *testing.T, config string, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	args = append([]string{"report", "effect", "--config", config, "--at", "2026-03-20T00:00:00+08:00"}, args...)
	if code := cli.Main(context.Background(), args, &out, &errOut); code != 0 {
		t.Fatalf("%v: exit %d\n%s%s", args, code, out.String(), errOut.String())
	}
	return out.String()
}

// The effect report on a fixture with known payments prints the expected
// shares: see repotest.EffectFixture for how each figure comes about.
func TestReportEffectTable(t *testing.T) {
	t.Parallel()
	b := cliSetup(t)
	repotest.EffectFixture(t, b.r)
	out := runReport(t, b.config, "--since", "2026-03-01")
	var got []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 11 && strings.HasPrefix(f[0], "overdue_") {
			got = append(got, strings.Join(f, " "))
		}
	}
	want := []string{
		"overdue_1 email overdue.email.zh-CN 5 40.0% 80.0% 80.0% 25 8.0% 20.0% 40.0%",
		"overdue_1 sms overdue.sms.zh-CN 10 20.0% 50.0% 60.0% 25 8.0% 20.0% 40.0%",
		"overdue_7 sms overdue_firm.sms.zh-CN 3 33.3% 33.3% — 3 — — —",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("report rows:\n%s\nwant:\n%s\nfull output:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), out)
	}
	if !strings.Contains(out, "Reminders sent 2026-03-01 00:00 – 2026-03-20 00:00, as of 2026-03-20 00:00 (Asia/Shanghai)") {
		t.Errorf("header:\n%s", out)
	}
	// --until is inclusive of its day: 1–14 March leaves overdue_7 out.
	if out := runReport(t, b.config, "--since", "2026-03-01", "--until", "2026-03-14"); strings.Contains(out, "overdue_7") ||
		!strings.Contains(out, "overdue.sms.zh-CN") {
		t.Errorf("--until 2026-03-14:\n%s", out)
	}
}

func TestReportEffectCSV(t *testing.T) {
	t.Parallel()
	b := cliSetup(t)
	repotest.EffectFixture(t, b.r)
	out := runReport(t, b.config, "--since", "2026-03-01", "--format", "csv")
	want := `stage,stage_offset,channel,template,sent,paid_1d,eligible_1d,share_1d,paid_3d,eligible_3d,share_3d,paid_7d,eligible_7d,share_7d,no_notice,base_paid_1d,base_eligible_1d,base_share_1d,base_paid_3d,base_eligible_3d,base_share_3d,base_paid_7d,base_eligible_7d,base_share_7d
overdue_1,1,email,overdue.email.zh-CN,5,2,5,0.4000,4,5,0.8000,4,5,0.8000,25,2,25,0.0800,5,25,0.2000,10,25,0.4000
overdue_1,1,sms,overdue.sms.zh-CN,10,2,10,0.2000,5,10,0.5000,6,10,0.6000,25,2,25,0.0800,5,25,0.2000,10,25,0.4000
overdue_7,7,sms,overdue_firm.sms.zh-CN,3,1,3,0.3333,1,3,0.3333,0,0,,3,0,3,,0,3,,0,0,
`
	if out != want {
		t.Fatalf("csv:\n%s\nwant:\n%s", out, want)
	}
}

func TestReportEffectUsage(t *testing.T) {
	t.Parallel()
	b := cliSetup(t)
	for _, args := range [][]string{
		{"report", "effect", "--config", b.config},
		{"report", "effect", "--config", b.config, "--since", "March"},
		{"report", "effect", "--config", b.config, "--since", "2026-03-01", "--format", "xml"},
		{"report", "effect", "--config", b.config, "--since", "2026-03-10", "--until", "2026-03-01"},
		{"report", "reach", "--config", b.config},
	} {
		var out, errOut bytes.Buffer
		if code := cli.Main(context.Background(), args, &out, &errOut); code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", args, code, errOut.String())
		}
	}
}
