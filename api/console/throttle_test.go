package console

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// TestThrottleForgetsIdleAddresses: an attack from many addresses cannot
// grow the throttle's memory past maxThrottled, and an address whose bucket
// has refilled starts afresh.
func TestThrottleForgetsIdleAddresses(t *testing.T) {
	t0 := time.Date(2026, 11, 10, 2, 0, 0, 0, time.UTC)
	th := newThrottle(6*time.Second, 2)
	for i := range maxThrottled + 500 {
		th.allow("10.0."+strconv.Itoa(i/250)+"."+strconv.Itoa(i%250), t0)
	}
	if n := len(th.addrs); n > maxThrottled {
		t.Fatalf("%d addresses remembered, want at most %d", n, maxThrottled)
	}
	for range 2 {
		if _, ok := th.allow("192.0.2.1", t0); !ok {
			t.Fatal("burst refused")
		}
	}
	if wait, ok := th.allow("192.0.2.1", t0); ok || wait <= 0 || wait > 6*time.Second {
		t.Fatalf("third attempt: ok=%v wait=%v, want refused for at most 6s", ok, wait)
	}
	if _, ok := th.allow("192.0.2.1", t0.Add(6*time.Second)); !ok {
		t.Fatal("refused after the bucket refilled one")
	}
}

func TestClientAddr(t *testing.T) {
	for addr, want := range map[string]string{
		"192.0.2.1:5000":              "192.0.2.1",
		"[::ffff:192.0.2.1]:5000":     "192.0.2.1",
		"[2001:db8:1:2:3:4:5:6]:5000": "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff::1]:1":    "2001:db8:1:2::/64",
	} {
		r := httptestRequest(addr)
		if got := clientAddr(r); got != want {
			t.Errorf("clientAddr(%s) = %s, want %s", addr, got, want)
		}
	}
}

func httptestRequest(remote string) *http.Request {
	r := httptest.NewRequest("POST", "/console/login", nil)
	r.RemoteAddr = remote
	return r
}
