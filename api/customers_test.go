package api_test

import (
	"net/http"
	"testing"

	"duebell/api"
)

func TestPutGetCustomer(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c := b.mustDo(t, http.StatusCreated, "PUT", "/api/v1/customers/c1", ingestToken, customerJSON)
	want := map[string]any{"ref": "c1", "name": "李雷", "phone": "+8613812345678", "email": "li.lei@example.com",
		"locale": "zh-CN", "timezone": "Asia/Shanghai", "sms_opt_out": false, "email_opt_out": false}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("PUT customer %s = %v, want %v", k, c[k], v)
		}
	}
	if c["created_at"] != "2025-03-10T02:00:00Z" {
		t.Errorf("created_at = %v, want the fake clock", c["created_at"])
	}

	// A second PUT replaces the customer; an omitted opt-out keeps its value.
	b.mustDo(t, http.StatusOK, "PUT", "/api/v1/customers/c1", ingestToken, `{"phone":"13812345678","sms_opt_out":true}`)
	c = b.mustDo(t, http.StatusOK, "PUT", "/api/v1/customers/c1", ingestToken,
		`{"phone":"8613912345678","locale":"en","timezone":"Europe/London"}`)
	want = map[string]any{"phone": "+8613912345678", "email": "", "name": "", "locale": "en",
		"timezone": "Europe/London", "sms_opt_out": true}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("second PUT %s = %v, want %v", k, c[k], v)
		}
	}
	if n := b.count(t, "customers"); n != 1 {
		t.Errorf("customers = %d, want 1", n)
	}

	got := b.mustDo(t, http.StatusOK, "GET", "/api/v1/customers/c1", viewerToken, "")
	if got["phone"] != "+8613912345678" || got["sms_opt_out"] != true {
		t.Errorf("GET customer = %v", got)
	}
	res := b.do(t, "GET", "/api/v1/customers/nobody", viewerToken, "")
	if code, _ := res.errorOf(); res.status != http.StatusNotFound || code != "not_found" {
		t.Errorf("GET unknown = %d %s", res.status, res.raw)
	}
}

func TestPutCustomerDefaults(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *api.Config) { c.DefaultLocale, c.DefaultTimezone = "en", "Asia/Hong_Kong" })
	c := b.mustDo(t, http.StatusCreated, "PUT", "/api/v1/customers/c9", ingestToken, `{"email":" Bob@Example.COM "}`)
	if c["email"] != "bob@example.com" || c["phone"] != "" || c["locale"] != "en" || c["timezone"] != "Asia/Hong_Kong" {
		t.Errorf("customer = %v", c)
	}
}
