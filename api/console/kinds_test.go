package console_test

import (
	"fmt"
	"html"
	"strings"
	"testing"

	"duebell/kinds"
)

// The search and bulk-resend filters list every kind of the registry, each
// with its label in the viewer's language (the code in English).
func TestKindFiltersListEveryRegistryKind(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.browser(t)
	w.login(operatorToken)
	for _, lang := range []string{"zh-CN", "en"} {
		for _, page := range []string{"/console/notifications", "/console/resends"} {
			code, body, _ := w.getAs(page, lang)
			if code != 200 {
				t.Fatalf("%s (%s) = %d", page, lang, code)
			}
			for _, k := range kinds.All() {
				label := k.LabelIn(lang)
				if lang == "zh-CN" && label == k.Name {
					t.Errorf("%s has no zh-CN label in the registry", k.Name)
				}
				want := fmt.Sprintf(`<option value="%s">%s</option>`, k.Name, html.EscapeString(label))
				if !strings.Contains(body, want) {
					t.Errorf("%s (%s) lacks %s", page, lang, want)
				}
			}
		}
	}
}
