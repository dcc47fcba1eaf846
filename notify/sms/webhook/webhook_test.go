package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"duebell/notify"
	"duebell/notify/sms/smshttp"
	"duebell/notify/sms/webhook"
)

const secret = "gateway-shared-secret"

// gateway is a test SMS gateway that checks requests the way a real one
// should: method, content type, signature over the raw body, then fields.
type gateway struct {
	t      *testing.T
	status int
	reply  string

	mu   sync.Mutex
	got  []map[string]string
	sigs []string
}

func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read", http.StatusBadRequest)
		return
	}
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
		g.t.Errorf("request %s with Content-Type %q", r.Method, r.Header.Get("Content-Type"))
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	sig := r.Header.Get("X-Duebell-Signature")
	if !webhook.Verify([]byte(secret), raw, sig) {
		g.t.Errorf("bad signature %q for %s", sig, raw)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var fields map[string]string
	if err := json.Unmarshal(raw, &fields); err != nil {
		g.t.Errorf("body %s: %v", raw, err)
		http.Error(w, "bad json", http.StatusBadRequest)
		return
	}
	g.mu.Lock()
	g.got = append(g.got, fields)
	g.sigs = append(g.sigs, sig)
	g.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(cmpOr(g.status, http.StatusOK))
	_, _ = io.WriteString(w, g.reply)
}

func cmpOr(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

func setup(t *testing.T, status int, reply string) (*gateway, *webhook.Client) {
	t.Helper()
	g := &gateway{t: t, status: status, reply: reply}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	c, err := webhook.NewClient(webhook.Config{URL: srv.URL + "/sms/send", Secret: secret, HTTPClient: srv.Client()})
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return g, c
}

func sms(id int64) notify.Message {
	return notify.Message{
		NotificationID: id,
		To:             "+8613812345678",
		Text:           "【乐分期】您的第2期账单¥1234.56将于07月01日到期，还款：https://pay.shop.example/r",
	}
}

func TestSendAccepted(t *testing.T) {
	t.Parallel()
	g, c := setup(t, http.StatusOK, `{"id":"gw-778899","status":"queued"}`)

	res, err := c.Send(context.Background(), sms(12345))
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if c.Provider() != "webhook" {
		t.Errorf("Provider = %q", c.Provider())
	}
	if res.ProviderMsgID != "gw-778899" {
		t.Errorf("ProviderMsgID = %q", res.ProviderMsgID)
	}
	want := map[string]string{"to": "+8613812345678", "body": sms(1).Text, "out_id": "12345"}
	if len(g.got) != 1 || len(g.got[0]) != len(want) {
		t.Fatalf("gateway got %v", g.got)
	}
	for k, v := range want {
		if g.got[0][k] != v {
			t.Errorf("%s = %q, want %q", k, g.got[0][k], v)
		}
	}
}

func TestSendAcceptedWithoutID(t *testing.T) {
	t.Parallel()
	for _, reply := range []string{"", "OK", `{"status":"queued"}`} {
		_, c := setup(t, http.StatusAccepted, reply)
		res, err := c.Send(context.Background(), sms(1))
		if err != nil || res.ProviderMsgID != "" {
			t.Errorf("reply %q: %+v, %v", reply, res, err)
		}
	}
	_, c := setup(t, http.StatusOK, `{"id": 42}`)
	if res, err := c.Send(context.Background(), sms(1)); err != nil || res.ProviderMsgID != "42" {
		t.Errorf("numeric id: %+v, %v", res, err)
	}
}

func TestSendRetriedCarriesSameOutID(t *testing.T) {
	t.Parallel()
	g, c := setup(t, http.StatusOK, `{}`)
	for range 2 {
		if _, err := c.Send(context.Background(), sms(77)); err != nil {
			t.Fatal(err)
		}
	}
	if g.got[0]["out_id"] != "77" || g.got[1]["out_id"] != "77" || g.sigs[0] != g.sigs[1] {
		t.Errorf("retry differs: %v %v", g.got, g.sigs)
	}
}

func TestSendErrorClasses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status int
		reply  string
		class  notify.Class
	}{
		{http.StatusBadRequest, `{"error":"invalid mobile +8613812345678"}`, notify.ClassPermanent},
		{http.StatusUnprocessableEntity, `{"error":"template not approved"}`, notify.ClassPermanent},
		{http.StatusUnauthorized, `{"error":"bad signature"}`, notify.ClassAccount},
		{http.StatusPaymentRequired, `{"error":"balance exhausted"}`, notify.ClassAccount},
		{http.StatusForbidden, ``, notify.ClassAccount},
		{http.StatusTooManyRequests, `{"error":"quota for +8613812345678 used up today","class":"daily_limit"}`, notify.ClassDailyLimit},
		{http.StatusUnprocessableEntity, `{"error":"recipient replied TD","class":"unsubscribed"}`, notify.ClassUnsubscribed},
		{http.StatusBadRequest, `{"class":"made_up"}`, notify.ClassPermanent},
		{http.StatusTooManyRequests, `{"error":"slow down"}`, notify.ClassTransient},
		{http.StatusRequestTimeout, ``, notify.ClassTransient},
		{http.StatusServiceUnavailable, `upstream carrier down`, notify.ClassTransient},
		{http.StatusInternalServerError, strings.Repeat("x", 5000), notify.ClassTransient},
	} {
		_, c := setup(t, tc.status, tc.reply)
		_, err := c.Send(context.Background(), sms(1))
		if err == nil {
			t.Errorf("%d: Send succeeded", tc.status)
			continue
		}
		if notify.ErrorClass(err) != tc.class || notify.IsPermanent(err) != tc.class.Permanent() {
			t.Errorf("%d %s: class = %s, want %s (%v)", tc.status, tc.reply, notify.ErrorClass(err), tc.class, err)
		}
		if code := notify.ErrorCode(err); code != strconv.Itoa(tc.status) {
			t.Errorf("%d: code %q", tc.status, code)
		}
		if notify.IsOutage(err) != (tc.status >= 500) { // only a gateway not serving counts towards its circuit
			t.Errorf("%d: IsOutage = %v", tc.status, notify.IsOutage(err))
		}
		if strings.Contains(err.Error(), "13812345678") {
			t.Errorf("%d: error leaks the phone number: %v", tc.status, err)
		}
		if len(err.Error()) > 300 {
			t.Errorf("%d: error is %d bytes long", tc.status, len(err.Error()))
		}
	}
}

func TestSendTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() {
		close(release)
		srv.Close()
	})
	c, err := webhook.NewClient(webhook.Config{URL: srv.URL, Secret: secret, Timeout: 50 * time.Millisecond, HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Send(context.Background(), sms(1))
	if err == nil || notify.IsPermanent(err) || !notify.IsUnanswered(err) {
		t.Fatalf("err = %v, want transient, unanswered (the gateway had the request)", err)
	}
	if strings.Contains(err.Error(), srv.URL) {
		t.Errorf("error repeats the URL: %v", err)
	}
}

func TestSendConnectionRefused(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c, err := webhook.NewClient(webhook.Config{URL: url, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Send(context.Background(), sms(1))
	if err == nil || notify.IsPermanent(err) || notify.IsUnanswered(err) || !notify.IsOutage(err) {
		t.Fatalf("err = %v, want transient, an outage, not unanswered", err)
	}
}

func TestNewClientValidates(t *testing.T) {
	t.Parallel()
	for _, cfg := range []webhook.Config{
		{URL: "", Secret: secret},
		{URL: "gateway.local/send", Secret: secret},
		{URL: "ftp://gateway.local/send", Secret: secret},
		{URL: "https://gateway.local/send"},
		{URL: "https://gateway.local/send", Secret: secret, Timeout: -time.Second},
	} {
		if _, err := webhook.NewClient(cfg); err == nil {
			t.Errorf("NewClient accepted %+v", cfg)
		}
	}
}

// A gateway that answers with a redirect has not taken the message: the
// client does not follow it (followed, the POST became a GET without the
// message whose 200 read as accepted) and the 3xx is transient.
func TestSendRedirectIsNotFollowed(t *testing.T) {
	t.Parallel()
	var followed atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/sms/send", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	})
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) {
		followed.Add(1)
		fmt.Fprint(w, `{"id":"gw-1"}`)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	hc := smshttp.NewHTTPClient() // the client a provider gets when its config names none
	t.Cleanup(hc.CloseIdleConnections)
	c, err := webhook.NewClient(webhook.Config{URL: srv.URL + "/sms/send", Secret: secret, HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Send(context.Background(), sms(1))
	if err == nil || notify.ErrorClass(err) != notify.ClassTransient || followed.Load() != 0 {
		t.Errorf("Send = %v (class %s), redirect followed %d times; want a transient error and no follow",
			err, notify.ErrorClass(err), followed.Load())
	}
}
