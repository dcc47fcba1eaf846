package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"duebell/api"
	"duebell/link"
	"duebell/notify/sms/twilio"
	"duebell/notify/sms/webhook"
)

// openapiNow is the clock of the contract test: the document's example
// dates are around it.
var openapiNow = time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)

const openapiServer = "http://127.0.0.1:8080"

func init() {
	// NDJSON bodies are checked line by line against the array's items.
	openapi3filter.RegisterBodyDecoder("application/x-ndjson",
		func(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
			var lines []any
			sc := bufio.NewScanner(body)
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				if len(bytes.TrimSpace(sc.Bytes())) == 0 {
					continue
				}
				var v any
				if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
					return nil, err
				}
				lines = append(lines, v)
			}
			return lines, sc.Err()
		})
}

// contract loads the document the binary serves and checks it (including
// that every example fits its schema).
func contract(t *testing.T, h http.Handler) (*openapi3.T, routers.Router) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/openapi.json", nil))
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("GET /api/v1/openapi.json = %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(rec.Body.Bytes())
	if err != nil {
		t.Fatalf("load OpenAPI document: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background(), openapi3.EnableExamplesValidation()); err != nil {
		t.Fatalf("OpenAPI document: %v", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return doc, router
}

func contractSetup(t *testing.T) (bundle, *link.Signer) {
	signer, err := link.NewSigner("https://pay.example.com/repay", link.Key{ID: "k1", Secret: []byte("a-very-secret-signing-key")}, nil, 72*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	b := setup(t, func(c *api.Config) {
		c.Now = func() time.Time { return openapiNow }
		c.Links = signer
		c.AllowedDomains = []string{"example.com"}
		c.Receipts = &api.ReceiptConfig{Token: "RECEIPT_TOKEN", WebhookSecret: gatewaySecret, TwilioAuthToken: twilioAuth, TwilioCallbackURL: twilioCallback}
	})
	return b, signer
}

// Every route the API registers is in the document, and every operation
// in the document is served.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	t.Parallel()
	b, _ := contractSetup(t)
	doc, _ := contract(t, b.h)
	patterns := registeredPatterns(t)
	if len(patterns) < 15 {
		t.Fatalf("found only %d route patterns in api/*.go: %v", len(patterns), patterns)
	}
	for _, p := range patterns {
		method, path, _ := strings.Cut(p, " ")
		item := doc.Paths.Find(path)
		if item == nil || item.GetOperation(method) == nil {
			t.Errorf("route %q is served but not in the OpenAPI document", p)
		}
	}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			p := method + " " + path
			if !slices.Contains(patterns, p) {
				t.Errorf("the document has %q, which the API does not serve", p)
			}
		}
	}
}

// registeredPatterns reads the route patterns the api package registers
// (mux.Handle / mux.HandleFunc with a literal) under /api/v1, /hooks and
// the health checks; the console is HTML and not part of the contract.
func registeredPatterns(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "Handle" && sel.Sel.Name != "HandleFunc") {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			p, _ := strconv.Unquote(lit.Value)
			_, path, _ := strings.Cut(p, " ")
			if strings.HasPrefix(path, "/api/v1/") || strings.HasPrefix(path, "/hooks/") || path == "/healthz" || path == "/readyz" {
				out = append(out, p)
			}
			return true
		})
	}
	return out
}

// contractCall is one request built from the document.
type contractCall struct {
	name   string
	method string
	path   string
	op     *openapi3.Operation
	req    *http.Request
	want   int
}

// Every example in the document is sent to the live handlers: each request
// fits the document, gets the status the example states, and every answer
// fits the document. Without a token, or with a role the route does not
// take, the error answers fit too.
func TestOpenAPIExamplesAgainstLiveHandlers(t *testing.T) {
	t.Parallel()
	b, signer := contractSetup(t)
	doc, router := contract(t, b.h)
	sentSMS(t, b.r, "seed", "webhook", "gw-msg-1") // notification 1, for the notice routes

	calls := contractCalls(t, doc, signer)
	if len(calls) < 20 {
		t.Fatalf("only %d calls built from the document", len(calls))
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true, MultiError: true}
	for _, c := range calls {
		route, params, err := router.FindRoute(c.req)
		if err != nil {
			t.Errorf("%s: no route in the document: %v", c.name, err)
			continue
		}
		body, _ := io.ReadAll(c.req.Body)
		c.req.Body = io.NopCloser(bytes.NewReader(body))
		in := &openapi3filter.RequestValidationInput{Request: c.req, PathParams: params, Route: route, Options: opts}
		if c.want < 400 {
			if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
				t.Errorf("%s: the example does not fit the document: %v", c.name, err)
			}
		}
		live := httptest.NewRequest(c.req.Method, c.req.URL.RequestURI(), bytes.NewReader(body))
		live.Header = c.req.Header.Clone()
		rec := newRecorder(b, live)
		if rec.Code != c.want {
			t.Errorf("%s = %d %s, want %d", c.name, rec.Code, rec.Body, c.want)
		}
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: rec.Code, Header: rec.Header(),
			Options: opts}
		out.SetBodyBytes(rec.Body.Bytes())
		if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
			t.Errorf("%s: answer %d does not fit the document: %v\n%s", c.name, rec.Code, err, rec.Body)
		}
	}
}

var roleTokens = map[string]string{"ingest": ingestToken, "viewer": viewerToken, "operator": operatorToken}

// contractCalls builds, in an order where each example finds what it
// needs (writes before reads), one call per example and per bodiless
// operation, plus the unauthenticated and wrong-role calls.
func contractCalls(t *testing.T, doc *openapi3.T, signer *link.Signer) []contractCall {
	t.Helper()
	type opAt struct {
		path, method string
		op           *openapi3.Operation
		item         *openapi3.PathItem
	}
	var ops []opAt
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			ops = append(ops, opAt{path, method, op, item})
		}
	}
	order := map[string]int{"PUT": 0, "POST": 1, "GET": 2}
	slices.SortFunc(ops, func(a, b opAt) int {
		if d := order[a.method] - order[b.method]; d != 0 {
			return d
		}
		return strings.Compare(a.path, b.path)
	})
	var calls []contractCall
	for _, o := range ops {
		roles, _ := o.op.Extensions["x-roles"].([]any)
		params := map[string]string{}
		for _, p := range append(slices.Clone(o.item.Parameters), o.op.Parameters...) {
			if p.Value.In == "path" && p.Value.Example != nil {
				params[p.Value.Name] = fmt.Sprint(p.Value.Example)
			}
		}
		query := url.Values{}
		for _, p := range o.op.Parameters {
			if p.Value.In == "query" && p.Value.Example != nil {
				query.Set(p.Value.Name, fmt.Sprint(p.Value.Example))
			}
		}
		if o.path == "/api/v1/links/verify" {
			query.Set("t", signer.Token(link.Claims{NotificationID: 1, PlanRef: "p-seed", Seq: 1}, openapiNow))
		}
		mk := func(name string, ex *openapi3.Example, mt string, token string, want int) contractCall {
			p, q := maps(params), maps2(query)
			var body []byte
			var sign string
			if ex != nil {
				for k, v := range extMap(ex.Extensions["x-path"]) {
					p[k] = v
				}
				for k, v := range extMap(ex.Extensions["x-query"]) {
					q.Set(k, v)
				}
				sign, _ = ex.Extensions["x-sign"].(string)
				body = encodeExample(t, mt, ex.Value)
			}
			path := o.path
			for k, v := range p {
				path = strings.ReplaceAll(path, "{"+k+"}", url.PathEscape(v))
			}
			u := openapiServer + path
			if len(q) > 0 {
				u += "?" + q.Encode()
			}
			req := httptest.NewRequest(o.method, u, bytes.NewReader(body))
			if mt != "" {
				req.Header.Set("Content-Type", mt)
			}
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			switch sign {
			case "webhook":
				req.Header.Set(webhook.SignatureHeader, webhook.Sign([]byte(gatewaySecret), body))
			case "twilio":
				form, _ := url.ParseQuery(string(body))
				req.Header.Set("X-Twilio-Signature", twilio.Signature(twilioAuth, twilioCallback, form))
			}
			return contractCall{name: o.method + " " + o.path + " " + name, method: o.method, path: o.path, op: o.op, req: req, want: want}
		}
		token := ""
		if len(roles) > 0 {
			token = roleTokens[roles[0].(string)]
		}
		if o.op.RequestBody != nil {
			for mt, media := range o.op.RequestBody.Value.Content {
				if len(media.Examples) == 0 {
					t.Errorf("%s %s: %s body has no example", o.method, o.path, mt)
				}
				for name, ex := range media.Examples {
					want, _ := ex.Value.Extensions["x-status"].(float64)
					calls = append(calls, mk("example "+name, ex.Value, mt, token, int(want)))
				}
			}
		} else {
			calls = append(calls, mk("parameter examples", nil, "", token, http.StatusOK))
		}
		if len(roles) == 0 {
			continue
		}
		mt := ""
		if o.op.RequestBody != nil {
			mt = "application/json"
		}
		calls = append(calls, mk("without a token", nil, mt, "", http.StatusUnauthorized))
		for role, tok := range roleTokens {
			if !slices.Contains(roles, any(role)) {
				calls = append(calls, mk("as "+role, nil, mt, tok, http.StatusForbidden))
				break
			}
		}
	}
	return calls
}

func maps(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func maps2(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = slices.Clone(v)
	}
	return out
}

func extMap(v any) map[string]string {
	m, _ := v.(map[string]any)
	out := map[string]string{}
	for k, x := range m {
		out[k] = fmt.Sprint(x)
	}
	return out
}

// encodeExample writes an example value as the media type carries it.
func encodeExample(t *testing.T, mt string, v any) []byte {
	t.Helper()
	switch mt {
	case "application/x-ndjson":
		var buf bytes.Buffer
		for _, line := range v.([]any) {
			b, _ := json.Marshal(line)
			buf.Write(append(b, '\n'))
		}
		return buf.Bytes()
	case "application/x-www-form-urlencoded":
		form := url.Values{}
		for k, x := range v.(map[string]any) {
			form.Set(k, fmt.Sprint(x))
		}
		return []byte(form.Encode())
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
