package console_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// TestConsoleRefusesHostileFilters: the console's search and audit pages
// answer a 4xx page, not a 500, for NUL and invalid UTF-8 in a filter, a
// cursor out of range and dates outside 2000–2100; a resend form with a
// NUL in its reason, a field given twice or a force box that is neither
// ticked nor empty is refused, and one a browser sent from another site
// (Sec-Fetch-Site, a foreign Referer, Origin null) is forbidden, even with
// the right CSRF token: none queues anything.
func TestConsoleRefusesHostileFilters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.browser(t)
	w.login(operatorToken)
	for _, q := range []string{
		"email=%00", "plan_ref=%ED%A0%80", "customer_ref=%FF", "kind=a%00", "phone=%2B86%00",
		"cursor=%2B86138123456789", "cursor=99999999999999999999", "since=0000-01-01", "until=9999-12-31",
	} {
		code, body, _ := w.get("/console/notifications?" + q)
		if code < 400 || code > 499 || strings.Contains(body, "internal") {
			t.Errorf("search ?%s = %d, want a 4xx page", q, code)
		}
	}
	for _, q := range []string{"actor=%00", "actor=%FF", "since=0000-01-01"} {
		if code, _, _ := w.get("/console/audit?" + q); code < 400 || code > 499 {
			t.Errorf("audit ?%s = %d, want a 4xx page", q, code)
		}
	}
	// As in the API, an id is plain digits: +5 and 05 are no notice.
	for _, id := range []string{"+" + strconv.FormatInt(b.orig, 10), "0" + strconv.FormatInt(b.orig, 10)} {
		if code, _, _ := w.get("/console/notifications/" + id); code != http.StatusNotFound {
			t.Errorf("notice page %s = %d, want 404", id, code)
		}
	}
	w.get("/console/notifications/" + strconv.FormatInt(b.orig, 10))
	code, _, _ := w.post("/console/notifications/"+strconv.FormatInt(b.orig, 10)+"/resend",
		url.Values{"csrf": {w.csrf}, "reason": {"customer\x00asked"}, "channel": {"sms"}})
	if code != http.StatusBadRequest {
		t.Errorf("resend with a NUL in the reason = %d, want 400", code)
	}
	resend := "/console/notifications/" + strconv.FormatInt(b.orig, 10) + "/resend"
	for name, form := range map[string]url.Values{
		"a reason twice":            {"csrf": {w.csrf}, "reason": {"customer asked", "x"}, "channel": {"sms"}},
		"force neither 1 nor empty": {"csrf": {w.csrf}, "reason": {"customer asked"}, "channel": {"sms"}, "force": {"maybe"}},
	} {
		if code, _, _ := w.post(resend, form); code != http.StatusBadRequest {
			t.Errorf("resend with %s = %d, want 400", name, code)
		}
	}
	// A valid token does not carry a form a browser sent from another site.
	for name, hs := range map[string][][2]string{
		"Sec-Fetch-Site cross-site": {{"Sec-Fetch-Site", "cross-site"}},
		"a foreign Referer":         {{"Referer", "http://evil.example/pay"}},
		"Origin null":               {{"Origin", "null"}},
		"two Sec-Fetch-Site":        {{"Sec-Fetch-Site", "same-origin"}, {"Sec-Fetch-Site", "cross-site"}},
	} {
		form := url.Values{"csrf": {w.csrf}, "reason": {"customer asked"}, "channel": {"sms"}}
		req, _ := http.NewRequest("POST", w.b.srv.URL+resend, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for _, h := range hs {
			req.Header.Add(h[0], h[1])
		}
		res, err := w.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if code, _, _ := w.read(res); code != http.StatusForbidden {
			t.Errorf("resend with %s = %d, want 403", name, code)
		}
	}
	var n int
	if err := b.r.DB().GetContext(context.Background(), &n, `SELECT count(*) FROM notifications`); err != nil || n != 2 {
		t.Errorf("%d notices after refused requests (%v), want the 2 seeded", n, err)
	}
}
