package repo_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"duebell/repo"
	"duebell/repo/repotest"
)

// shareText prints shares as paid/eligible, "-" when no window has passed.
func shareText(ss []repo.EffectShare) string {
	var parts []string
	for _, s := range ss {
		parts = append(parts, fmt.Sprintf("%dd:%d/%d", s.Days, s.Paid, s.Eligible))
	}
	return strings.Join(parts, " ")
}

func TestEffectReportCountsPaymentsAfterNotices(t *testing.T) {
	t.Parallel()
	r := repotest.New(t)
	repotest.EffectFixture(t, r)
	rows, err := r.EffectReport(context.Background(), []string{"due_soon", "due_today", "overdue"},
		repotest.EffectSince, repotest.EffectNow.AddDate(0, 0, 1), repotest.EffectNow)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, row := range rows {
		got = append(got, fmt.Sprintf("%s %s %s sent=%d [%s] base=%d [%s]", row.Stage, row.Channel, row.Template,
			row.Sent, shareText(row.Shares), row.Baseline, shareText(row.Base)))
	}
	want := []string{
		"overdue_1 email overdue.email.zh-CN sent=5 [1d:2/5 3d:4/5 7d:4/5] base=25 [1d:2/25 3d:5/25 7d:10/25]",
		"overdue_1 sms overdue.sms.zh-CN sent=10 [1d:2/10 3d:5/10 7d:6/10] base=25 [1d:2/25 3d:5/25 7d:10/25]",
		"overdue_7 sms overdue_firm.sms.zh-CN sent=3 [1d:1/3 3d:1/3 7d:0/0] base=3 [1d:0/3 3d:0/3 7d:0/0]",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("effect report:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestEffectReportEmptyPeriod(t *testing.T) {
	t.Parallel()
	r := repotest.New(t)
	repotest.EffectFixture(t, r)
	rows, err := r.EffectReport(context.Background(), []string{"overdue"},
		repotest.EffectNow, repotest.EffectNow.AddDate(0, 1, 0), repotest.EffectNow)
	if err != nil || len(rows) != 0 {
		t.Fatalf("rows %v, err %v", rows, err)
	}
}
