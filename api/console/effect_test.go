package console_test

import (
	"log/slog"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"duebell/api"
	"duebell/repo/repotest"
)

// The overview's "which reminder works" table shows the effect report of
// the last 90 days: the fixture's exact shares, in either language.
func TestOverviewShowsWhichReminderWorks(t *testing.T) {
	t.Parallel()
	r := repotest.New(t)
	repotest.EffectFixture(t, r)
	h, err := api.New(api.Config{
		Tokens: []api.Token{{Name: "support", Token: viewerToken, Role: api.RoleViewer}},
		Repo:   r, Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return repotest.EffectNow },
		ConsolePlainHTTP: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	b := bundle{r: r, srv: httptest.NewServer(h)}
	t.Cleanup(b.srv.Close)
	w := b.browser(t)
	w.login(viewerToken)

	cell := regexp.MustCompile(`<t[dh][^>]*>(.*?)</t[dh]>`)
	tag := regexp.MustCompile(`<[^>]+>`)
	rows := func(body string) []string {
		i := strings.Index(body, `id="effect-table"`)
		if i < 0 {
			t.Fatalf("no effect table:\n%s", body)
		}
		table := body[i : strings.Index(body[i:], "</table>")+i]
		var out []string
		for _, tr := range strings.Split(table, "<tr>")[1:] {
			var cells []string
			for _, m := range cell.FindAllStringSubmatch(tr, -1) {
				cells = append(cells, tag.ReplaceAllString(m[1], ""))
			}
			out = append(out, strings.Join(cells, " | "))
		}
		return out
	}
	code, body, _ := w.getAs("/console/", "en")
	if code != 200 {
		t.Fatalf("overview = %d", code)
	}
	want := []string{
		" | Reminded: paid within | No notice (baseline): paid within",
		"Stage | Channel | Template | Reminded | 1d | 3d | 7d | Installments | 1d | 3d | 7d",
		"overdue_1 | email | overdue.email.zh-CN | 5 | 40.0% | 80.0% | 80.0% | 25 | 8.0% | 20.0% | 40.0%",
		// 90 days take in seq 44's SMS of 20 February too, never paid.
		"overdue_1 | sms | overdue.sms.zh-CN | 11 | 18.2% | 45.5% | 54.5% | 25 | 8.0% | 20.0% | 40.0%",
		"overdue_7 | sms | overdue_firm.sms.zh-CN | 3 | 33.3% | 33.3% | — | 3 | — | — | —",
	}
	if got := rows(body); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("effect table:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(body, "reminders sent 2025-12-21 – 2026-03-20") {
		t.Errorf("effect period missing:\n%s", body)
	}
	_, body, _ = w.getAs("/console/", "zh-CN")
	if got := rows(body); !strings.HasPrefix(got[1], "阶段 | 渠道 | 模板 | 已提醒 | 1 天") ||
		!strings.Contains(body, "哪种提醒有效") || got[3] != strings.Replace(want[3], "sms", "短信", 1) {
		t.Errorf("Chinese effect table:\n%s", strings.Join(got, "\n"))
	}
}
