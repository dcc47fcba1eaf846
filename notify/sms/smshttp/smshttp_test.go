package smshttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"duebell/notify"
)

// body is a response body that counts what was read and whether it was
// closed.
type body struct {
	r      io.Reader
	read   int
	closed bool
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.read += n
	return n, err
}

func (b *body) Close() error { b.closed = true; return nil }

func TestReadBody(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		size     int
		wantLen  int
		wantRead int
	}{
		{"empty", 0, 0, 0},
		{"small", 10, 10, 10},
		{"at cap", MaxBody, MaxBody, MaxBody},
		{"over cap, drained", MaxBody + 100, MaxBody, MaxBody + 100},
		{"far over cap, drain bounded", 5 * MaxBody, MaxBody, 2 * MaxBody},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := &body{r: strings.NewReader(strings.Repeat("x", tc.size))}
			got, err := ReadBody(&http.Response{Body: b})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.wantLen || b.read != tc.wantRead || !b.closed {
				t.Errorf("len %d read %d closed %v, want len %d read %d closed", len(got), b.read, b.closed, tc.wantLen, tc.wantRead)
			}
		})
	}
}

func TestReadBodyError(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	b := &body{r: io.MultiReader(strings.NewReader("part"), iotestErr{boom})}
	got, err := ReadBody(&http.Response{Body: b})
	if !errors.Is(err, boom) || string(got) != "part" || !b.closed {
		t.Errorf("ReadBody = %q, %v (closed %v)", got, err, b.closed)
	}
}

type iotestErr struct{ err error }

func (e iotestErr) Read([]byte) (int, error) { return 0, e.err }

const secretURL = "https://sms.example.com/send?PhoneNumbers=13812345678&token=s3cret"

func TestTransportError(t *testing.T) {
	t.Parallel()
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	cases := []struct {
		name, code string
		err        error
	}{
		{"timeout", "timeout", &url.Error{Op: "Post", URL: secretURL, Err: context.DeadlineExceeded}},
		{"wrapped timeout", "timeout", &url.Error{Op: "Post", URL: secretURL, Err: fmt.Errorf("read: %w", context.DeadlineExceeded)}},
		{"refused", "network", &url.Error{Op: "Post", URL: secretURL, Err: refused}},
		{"canceled", "network", &url.Error{Op: "Post", URL: secretURL, Err: context.Canceled}},
		{"bare", "network", refused},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := TransportError("prov SendSms", tc.err)
			if notify.IsPermanent(err) || notify.ErrorCode(err) != tc.code {
				t.Errorf("err = %v, want transient %s", err, tc.code)
			}
			msg := err.Error()
			if strings.Contains(msg, "13812345678") || strings.Contains(msg, "s3cret") || strings.Contains(msg, "sms.example.com") {
				t.Errorf("error repeats the URL: %v", msg)
			}
			if !strings.Contains(msg, "prov SendSms: ") {
				t.Errorf("error lacks its prefix: %v", msg)
			}
			if ue := (*url.Error)(nil); errors.As(err, &ue) {
				t.Errorf("error still wraps the *url.Error")
			}
		})
	}
}

func TestClassifyStatus(t *testing.T) {
	t.Parallel()
	cases := []struct {
		status    int
		permanent bool
	}{
		{200, false}, // a 2xx that could not be read: retry
		{302, false},
		{400, true},
		{401, true},
		{403, true},
		{404, true},
		{408, false},
		{422, true},
		{429, false},
		{500, false},
		{502, false},
		{503, false},
	}
	for _, tc := range cases {
		if got := PermanentStatus(tc.status); got != tc.permanent {
			t.Errorf("PermanentStatus(%d) = %v, want %v", tc.status, got, tc.permanent)
		}
		cause := errors.New("cause")
		err := ClassifyStatus(tc.status, "c", cause)
		if notify.IsPermanent(err) != tc.permanent || notify.ErrorCode(err) != "c" || !errors.Is(err, cause) {
			t.Errorf("ClassifyStatus(%d) = %v, want permanent %v", tc.status, err, tc.permanent)
		}
		err = UnexpectedStatus("prov SendSms", tc.status)
		want := fmt.Sprintf("http_%d", tc.status)
		if notify.IsPermanent(err) != tc.permanent || notify.ErrorCode(err) != want ||
			!strings.Contains(err.Error(), fmt.Sprintf("prov SendSms: unexpected response, HTTP %d", tc.status)) {
			t.Errorf("UnexpectedStatus(%d) = %v (code %q), want permanent %v code %s", tc.status, err, notify.ErrorCode(err), tc.permanent, want)
		}
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 5000)
	cases := []struct{ in, want string }{
		{"", ""},
		{"OK", "OK"},
		{"rejected +8613812345678 and 13812345678", "rejected +*********5678 and *******5678"},
		{"The 'To' number +14155550123 is not valid.", "The 'To' number +*******0123 is not valid."},
		{"call +86 138-1234-5678 now", "call +** ***-****-5678 now"},
		{"amount 1200.00, code 123456", "amount 1200.00, code 123456"},
		{"multi\n  line\t\ttext ", "multi line text"},
		{long, long[:MaxQuote] + "…"},
		{strings.Repeat("号", 100), strings.Repeat("号", MaxQuote/3) + "…"}, // cut at a rune boundary
	}
	for _, tc := range cases {
		if got := Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%.40q) = %.80q, want %.80q", tc.in, got, tc.want)
		}
	}
	// A number past the cut is masked before it is cut.
	in := strings.Repeat("a", MaxQuote-6) + " 13812345678"
	if got := Redact(in); strings.Contains(got, "138123") || len(got) > MaxQuote+len("…") {
		t.Errorf("Redact cut a number before masking it: %q", got)
	}
}

func TestParseEndpoint(t *testing.T) {
	t.Parallel()
	good := map[string]string{
		"https://dysmsapi.aliyuncs.com":        "https://dysmsapi.aliyuncs.com/",
		"https://sms.tencentcloudapi.com/":     "https://sms.tencentcloudapi.com/",
		"http://127.0.0.1:8080/base/?x=1#frag": "http://127.0.0.1:8080/base/",
	}
	for in, want := range good {
		u, err := ParseEndpoint(in)
		if err != nil || u.String() != want {
			t.Errorf("ParseEndpoint(%q) = %v, %v; want %s", in, u, err, want)
		}
	}
	for _, in := range []string{"", "dysmsapi.aliyuncs.com", "ftp://x.example/", "https://", "://", "https://[::1"} {
		if u, err := ParseEndpoint(in); err == nil {
			t.Errorf("ParseEndpoint(%q) = %v, want an error", in, u)
		}
	}
}

func TestDo(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/hang":
			<-r.Context().Done()
		case "/short":
			w.Header().Set("Content-Length", "100")
			_, _ = io.WriteString(w, "cut")
		default:
			w.WriteHeader(http.StatusAccepted)
			_, _ = io.WriteString(w, "hello")
		}
	}))
	t.Cleanup(srv.Close)
	get := func(path string, timeout time.Duration) (int, []byte, error) {
		req, err := http.NewRequest(http.MethodGet, srv.URL+path+"?to=13812345678", nil)
		if err != nil {
			t.Fatal(err)
		}
		return Do(srv.Client(), req, timeout, "prov")
	}

	status, b, err := get("/ok", 5*time.Second)
	if err != nil || status != http.StatusAccepted || string(b) != "hello" {
		t.Errorf("Do = %d %q %v", status, b, err)
	}
	_, _, err = get("/hang", 50*time.Millisecond)
	if notify.IsPermanent(err) || notify.ErrorCode(err) != "timeout" || strings.Contains(err.Error(), "13812345678") {
		t.Errorf("hang: err = %v, want transient timeout without the URL", err)
	}
	if !notify.IsUnanswered(err) { // the provider had the request: it may have taken the message
		t.Errorf("hang: err = %v, want unanswered", err)
	}
	// A caller's deadline holds without a timeout of Do's own.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/hang", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Do(srv.Client(), req, 0, "prov"); notify.ErrorCode(err) != "timeout" {
		t.Errorf("caller deadline: err = %v, want timeout", err)
	}
	_, _, err = get("/short", 5*time.Second)
	if notify.IsPermanent(err) || notify.ErrorCode(err) != "network" || !strings.Contains(err.Error(), "prov: read response: ") ||
		!notify.IsUnanswered(err) {
		t.Errorf("short body: err = %v, want transient network, unanswered", err)
	}
	// A provider that could not be reached never had the request.
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	req, err = http.NewRequest(http.MethodPost, down.URL, strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Do(http.DefaultClient, req, time.Second, "prov"); err == nil || notify.IsUnanswered(err) {
		t.Errorf("refused connection: err = %v, want transient, not unanswered", err)
	}
}

func TestNewHTTPClientReusesConnectionsForEveryWorker(t *testing.T) {
	const workers = 16
	var mu sync.Mutex
	conns := map[string]bool{}
	arrived := make(chan struct{}, workers)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		conns[r.RemoteAddr] = true
		mu.Unlock()
		arrived <- struct{}{}
		<-release // every worker's request is in flight at once
		fmt.Fprint(w, "{}")
	}))
	defer srv.Close()
	c := NewHTTPClient()
	// Two bursts of one request per worker: the default transport keeps 2
	// of the first burst's connections idle and dials 14 anew for the second.
	for range 2 {
		release = make(chan struct{})
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				resp, err := c.Get(srv.URL)
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = ReadBody(resp)
			})
		}
		for range workers {
			<-arrived
		}
		close(release)
		wg.Wait()
	}
	if len(conns) > workers+2 {
		t.Errorf("%d connections for two bursts of %d workers, want the first burst's reused", len(conns), workers)
	}
}
