package api_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"duebell/api"
	"duebell/link"
	"duebell/repo"
	"duebell/repo/repotest"
)

// FuzzRequest sends fuzzed requests to every route of the API, the console
// and the receipt hooks, against real PostgreSQL: route picks the pattern
// (as api.Routes lists them), seg1 fills its first path wildcard and
// seg2 the others, query is the
// raw query string, body the raw body. No answer may be a 5xx, and an
// answer of 4xx must leave every table as it was (no partial write). The
// seed corpus (testdata/fuzz/FuzzRequest, plus the f.Add seeds: a valid
// request for each route, the probes that used to answer 500) runs in every
// plain `go test`; see README "Security" for a 30,000-request run.
func FuzzRequest(f *testing.F) {
	fz := newFuzzTarget(f)
	for i, p := range fz.routes {
		_, path, _ := strings.Cut(p, " ")
		var segs []string
		for _, m := range wildcardRE.FindAllStringSubmatch(path, -1) {
			segs = append(segs, walkPath[m[1]])
		}
		segs = append(segs, "", "")
		body := walkBodies[p]
		f.Add(uint8(i), segs[0], segs[1], "", []byte(body))
		f.Add(uint8(i), segs[0], segs[1], "email=%00&cursor=%2B86138123456789&since=0000-01-01T00:00:00Z&actor=%FF", []byte(body))
	}
	f.Fuzz(func(t *testing.T, route uint8, seg1, seg2, query string, body []byte) {
		pattern := fz.routes[int(route)%len(fz.routes)]
		method, path, _ := strings.Cut(pattern, " ")
		path = strings.ReplaceAll(path, "{$}", "")
		n := 0
		target := wildcardRE.ReplaceAllStringFunc(path, func(string) string {
			n++
			if n == 1 {
				return url.PathEscape(seg1)
			}
			return url.PathEscape(seg2)
		})
		u, err := url.Parse("http://duebell.test" + target)
		if err != nil {
			return
		}
		u.RawQuery = query
		req := httptest.NewRequest(method, "http://duebell.test/", strings.NewReader(string(body)))
		req.URL, req.RequestURI = u, u.RequestURI()
		req.RemoteAddr = "192.0.2.1:4000"
		req.Header.Set("Authorization", "Bearer "+tokenFor(pattern))
		if strings.HasPrefix(path, "/console/") {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for _, c := range fz.cookies {
				req.AddCookie(c)
			}
		}
		before := fz.digest(t)
		rec := httptest.NewRecorder()
		fz.h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s?%s body %q = %d %s", method, target, query, body, rec.Code, rec.Body)
		}
		if rec.Code >= 400 {
			if after := fz.digest(t); after != before {
				t.Fatalf("%s %s?%s body %q = %d and changed tables:\n%s\n%s", method, target, query, body, rec.Code, before, after)
			}
		}
	})
}

type fuzzTarget struct {
	r       *repo.Repo
	h       http.Handler
	routes  []string
	cookies []*http.Cookie
	tables  []string
}

// newFuzzTarget serves every route (links and receipts on, the console
// logged in) over a schema with customers, a plan and a sent SMS.
func newFuzzTarget(f *testing.F) *fuzzTarget {
	signer, err := link.NewSigner("https://pay.example.com/repay", link.Key{ID: "k1", Secret: []byte("a-very-secret-signing-key")}, nil, time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	fz := &fuzzTarget{r: repotest.New(f)}
	fz.h, err = api.New(api.Config{
		Tokens: []api.Token{{Name: "lender", Token: ingestToken, Role: api.RoleIngest},
			{Name: "support", Token: viewerToken, Role: api.RoleViewer}, {Name: "ops", Token: operatorToken, Role: api.RoleOperator}},
		Repo: fz.r, Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return t0 },
		PaymentConfirmChannels: []string{"sms"}, MaxBodyBytes: maxBody, Links: signer, ConsolePlainHTTP: true,
		AllowedDomains: []string{"example.com"},
		Receipts: &api.ReceiptConfig{Token: receiptToken, WebhookSecret: gatewaySecret,
			TwilioAuthToken: twilioAuth, TwilioCallbackURL: twilioCallback},
	})
	if err != nil {
		f.Fatal(err)
	}
	fz.routes = api.Routes(fz.h)
	sentSMS(f, fz.r, "c3", "aliyun", "biz-1") // notice 1, for the resend and receipt routes
	for _, s := range []struct{ method, path, token, body string }{
		{"PUT", "/api/v1/customers/c1", ingestToken, customerJSON},
		{"PUT", "/api/v1/customers/c2", ingestToken, `{"email":"han@example.com"}`},
		{"PUT", "/api/v1/plans/p1", ingestToken, planJSON("c1", 3)},
	} {
		req := httptest.NewRequest(s.method, s.path, strings.NewReader(s.body))
		req.Header.Set("Authorization", "Bearer "+s.token)
		rec := httptest.NewRecorder()
		fz.h.ServeHTTP(rec, req)
		if rec.Code >= 300 {
			f.Fatalf("seed %s = %d %s", s.path, rec.Code, rec.Body)
		}
	}
	w := newWalker(f, bundle{r: fz.r, h: fz.h})
	fz.cookies = w.cookies
	if err := fz.r.DB().SelectContext(context.Background(), &fz.tables, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1`); err != nil {
		f.Fatal(err)
	}
	return fz
}

// digest is one hash per table of all its rows.
func (fz *fuzzTarget) digest(t *testing.T) string {
	t.Helper()
	var parts []string
	for _, table := range fz.tables {
		parts = append(parts, fmt.Sprintf(`SELECT '%s ' || md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM %s t`, table, table))
	}
	var rows []string
	if err := fz.r.DB().SelectContext(context.Background(), &rows, strings.Join(parts, " UNION ALL ")); err != nil {
		t.Fatalf("digest: %v", err)
	}
	return strings.Join(rows, "\n")
}
