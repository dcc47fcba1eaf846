package api_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestRequestLogLevels: a successful request is logged at DEBUG (a bulk
// push must not flood INFO), a refused token at WARN, so an operator
// running at INFO sees only what needs acting on.
func TestRequestLogLevels(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.seed(t)
	b.do(t, "GET", "/api/v1/customers/c1", viewerToken, "")
	b.do(t, "GET", "/api/v1/customers/c1", "wrong-token-0123456789", "")
	levels := map[int]string{}
	for line := range strings.SplitSeq(strings.TrimSpace(b.logs.String()), "\n") {
		var rec struct {
			Level  string `json:"level"`
			Msg    string `json:"msg"`
			Route  string `json:"route"`
			Status int    `json:"status"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec.Msg == "http request" && rec.Route == "GET /api/v1/customers/{ref}" {
			levels[rec.Status] = rec.Level
		}
	}
	if levels[200] != "DEBUG" || levels[401] != "WARN" {
		t.Errorf("request log levels = %v, want 200 at DEBUG and 401 at WARN", levels)
	}
}
