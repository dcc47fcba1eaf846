package api_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"duebell/api"
	"duebell/notify/sms/webhook"
)

// TestUnsignedReceiptsAreAuthenticated: Aliyun receipts need the secret
// token (in the path or the query) or an allow-listed address; without
// either configured the route refuses everyone, so a forged "undelivered"
// cannot flip a sent SMS or trigger a fallback email.
func TestUnsignedReceiptsAreAuthenticated(t *testing.T) {
	t.Parallel()
	// Each request's report is another (its code), so each one accepted is stored.
	forged := func(id int64, n int) string {
		return fmt.Sprintf(`[{"out_id":"%d","success":false,"err_code":"MK:%04d","biz_id":"biz-1"}]`, id, n)
	}
	from := func(b bundle, path, addr, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.RemoteAddr = addr
		return newRecorder(b, req)
	}

	open := setup(t, func(c *api.Config) { c.Receipts = &api.ReceiptConfig{WebhookSecret: gatewaySecret} })
	id := sentSMS(t, open.r, "c1", "aliyun", "biz-1")
	for i, path := range []string{"/hooks/sms/aliyun", "/hooks/sms/aliyun/anything-at-all-0123", "/hooks/sms/tencent?token="} {
		rec := from(open, path, "203.0.113.9:4000", forged(id, i))
		if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "sms.receipt_token") {
			t.Errorf("%s with no token configured: %d %s, want 403 naming sms.receipt_token", path, rec.Code, rec.Body)
		}
	}
	if n := open.count(t, "sms_receipts"); n != 0 || open.noticeByID(t, id).Status != "sent" {
		t.Fatalf("an anonymous receipt changed something: %d receipts, notice %s", n, open.noticeByID(t, id).Status)
	}

	b := setup(t, func(c *api.Config) {
		c.Receipts = &api.ReceiptConfig{Token: receiptToken, AllowIPs: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}}
	})
	id = sentSMS(t, b.r, "c1", "aliyun", "biz-1")
	for i, tc := range []struct {
		path, addr string
		status     int
	}{
		{"/hooks/sms/aliyun", "203.0.113.9:4000", 403},
		{"/hooks/sms/aliyun/wrong-token-0123456789", "203.0.113.9:4000", 403},
		{"/hooks/sms/aliyun?token=" + receiptToken[:10], "203.0.113.9:4000", 403},
		{"/hooks/sms/aliyun/" + receiptToken, "203.0.113.9:4000", 200},
		{"/hooks/sms/aliyun?token=" + receiptToken, "203.0.113.9:4000", 200},
		{"/hooks/sms/aliyun", "198.51.100.77:4000", 200},
		{"/hooks/sms/aliyun", "[::ffff:198.51.100.77]:4000", 200},
	} {
		rec := from(b, tc.path, tc.addr, forged(id, i))
		if rec.Code != tc.status {
			t.Errorf("%s from %s: %d %s, want %d", tc.path, tc.addr, rec.Code, rec.Body, tc.status)
		}
	}
	if n := b.count(t, "sms_receipts"); n != 4 {
		t.Errorf("%d receipts stored, want the 4 authenticated ones", n)
	}
	if strings.Contains(b.logs.String(), receiptToken) {
		t.Error("the receipt token reached the log")
	}
}

// TestReceiptBatchKeepsTheGoodReports: one malformed report (no success,
// a NUL in a field, a wrong type, no id) does not lose the others: they are
// stored and applied, the bad ones listed, and the answer is the provider's
// success so it does not send the good ones again.
func TestReceiptBatchKeepsTheGoodReports(t *testing.T) {
	t.Parallel()
	b := receiptsSetup(t)
	good := sentSMS(t, b.r, "c1", "aliyun", "biz-good")
	batch := fmt.Sprintf(`[
	  {"biz_id":"biz-x","out_id":"","err_code":"DELIVERED"},
	  {"biz_id":"biz-good","out_id":"%d","success":true,"err_code":"DELIVERED","report_time":"2026-11-21 10:00:07"},
	  {"biz_id":"biz-y","success":false,"err_msg":"bad\u0000byte"},
	  {"biz_id":"biz-z","success":"yes"},
	  {"biz_id":"biz-other","success":false,"err_code":"MK:0001"},
	  {"success":true,"err_code":"DELIVRD","phone_number":"13800000000"}]`, good)
	rec := post(b, "/hooks/sms/aliyun/"+receiptToken, "application/json", batch, nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d %s", rec.Code, rec.Body)
	}
	var reply struct {
		Code     int    `json:"code"`
		Msg      string `json:"msg"`
		Rejected []struct {
			Index int    `json:"index"`
			Error string `json:"error"`
		} `json:"rejected"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &reply); err != nil || reply.Code != 0 || reply.Msg != "成功" {
		t.Fatalf("reply %s: %v", rec.Body, err)
	}
	var idx []int
	for _, r := range reply.Rejected {
		idx = append(idx, r.Index)
	}
	if fmt.Sprint(idx) != "[0 2 3 5]" || !strings.Contains(reply.Rejected[1].Error, "NUL") {
		t.Errorf("rejected %+v, want reports 0, 2 (NUL), 3 and 5 (neither biz_id nor out_id: it can match nothing)", reply.Rejected)
	}
	if n := b.noticeByID(t, good); n.Status != "delivered" {
		t.Errorf("the good report was not applied: %s", n.Status)
	}
	if n := b.count(t, "sms_receipts"); n != 2 {
		t.Errorf("%d receipts stored, want the 2 good ones", n)
	}
	if !strings.Contains(b.logs.String(), "sms receipts rejected") {
		t.Error("the rejected reports were not logged")
	}
	// A batch of malformed reports only is refused (400), and logged as a
	// refused body is.
	if rec := post(b, "/hooks/sms/aliyun/"+receiptToken, "application/json", `[{"biz_id":"biz-z","success":"yes"}]`, nil); rec.Code != http.StatusBadRequest ||
		strings.Count(b.logs.String(), "sms receipts refused") != 1 {
		t.Errorf("a batch of one malformed report: %d, logged:\n%s", rec.Code, b.logs.String())
	}
}

// TestReceiptWithLongCodeKeepsTheBatch: a report whose code (or id) is too
// long for the index that stores a receipt once is rejected alone, as a
// malformed one is; it failed its whole batch with a 500 on PostgreSQL
// ("index row size exceeds btree maximum"), so the provider posted the
// good reports again and again, then dropped them.
func TestReceiptWithLongCodeKeepsTheBatch(t *testing.T) {
	t.Parallel()
	b := receiptsSetup(t)
	good := sentSMS(t, b.r, "c1", "aliyun", "biz-good")
	// Hex of a hash chain: text PostgreSQL cannot compress below the limit.
	var long strings.Builder
	for sum := sha256.Sum256([]byte("code")); long.Len() < 4000; sum = sha256.Sum256(sum[:]) {
		long.WriteString(hex.EncodeToString(sum[:]))
	}
	batch := fmt.Sprintf(`[
	  {"biz_id":"biz-good","out_id":"%d","success":true,"err_code":"DELIVERED","report_time":"2026-11-21 10:00:07"},
	  {"biz_id":"biz-other","success":false,"err_code":%q,"report_time":"2026-11-21 10:00:08"},
	  {"biz_id":%q,"success":false,"err_code":"MK:0001","report_time":"2026-11-21 10:00:09"}]`, good, long.String(), long.String())
	rec := post(b, "/hooks/sms/aliyun/"+receiptToken, "application/json", batch, nil)
	if rejected := rejectedOf(t, rec); len(rejected) != 2 ||
		rejected[0].Index != 1 || !strings.Contains(rejected[0].Error, "code is longer than") ||
		rejected[1].Index != 2 || !strings.Contains(rejected[1].Error, "message id is longer than") {
		t.Fatalf("reply %s, want reports 1 and 2 rejected for their length", rec.Body)
	}
	if n := b.noticeByID(t, good); n.Status != "delivered" {
		t.Errorf("the good report was not applied: %s", n.Status)
	}
	if n := b.count(t, "sms_receipts"); n != 1 {
		t.Errorf("%d receipts stored, want the good one", n)
	}
}

// TestSignedReceiptWithNULIsRefused: a correctly signed webhook receipt
// whose text PostgreSQL cannot store is a 400 (the gateway stops), not a
// 500 it would retry forever, and stores nothing.
func TestSignedReceiptWithNULIsRefused(t *testing.T) {
	t.Parallel()
	b := receiptsSetup(t)
	for _, body := range []string{
		`{"id":"gw-1","status":"delivered","code":"\u0000"}`,
		`{"id":"gw-\u0000","status":"delivered"}`,
		"{\"id\":\"gw-1\",\"status\":\"delivered\",\"description\":\"\xff\"}",
	} {
		rec := post(b, "/hooks/sms/webhook", "application/json", body,
			map[string]string{webhook.SignatureHeader: webhook.Sign([]byte(gatewaySecret), []byte(body))})
		if rec.Code != http.StatusBadRequest {
			t.Errorf("%q: %d %s, want 400", body, rec.Code, rec.Body)
		}
	}
	if n := b.count(t, "sms_receipts"); n != 0 {
		t.Errorf("%d receipts stored", n)
	}
	if strings.Contains(b.logs.String(), `"level":"ERROR"`) {
		t.Errorf("refused receipts logged an error:\n%s", b.logs.String())
	}
}

// TestRejectedReceiptsSayWhatIsWrong: a report of the wrong shape was
// rejected with encoding/json's own text, which named a Go struct type
// with its tags ("cannot unmarshal number into Go value of type struct {
// ReportTime string \"json:…"), in the provider's answer and in the log.
// It now names the field and what it wants, as the API's errors do.
func TestRejectedReceiptsSayWhatIsWrong(t *testing.T) {
	t.Parallel()
	b := receiptsSetup(t)
	good := sentSMS(t, b.r, "c1", "aliyun", "biz-good")
	batch := fmt.Sprintf(`[5, {"biz_id":"biz-z","success":"yes"}, {"biz_id":7,"success":true},
	  {"biz_id":"biz-good","out_id":"%d","success":true,"err_code":"DELIVERED"}]`, good)
	rec := post(b, "/hooks/sms/aliyun/"+receiptToken, "application/json", batch, nil)
	rejected := rejectedOf(t, rec)
	if len(rejected) != 3 {
		t.Fatalf("%s, want 3 reports rejected", rec.Body)
	}
	want := []string{"report: want a JSON object", "success: want true or false", "biz_id: want a string"}
	for i, r := range rejected {
		if r.Error != want[i] {
			t.Errorf("report %d rejected with %q, want %q", r.Index, r.Error, want[i])
		}
	}
	if logs := b.logs.String(); strings.Contains(logs, "Go value") || strings.Contains(logs, "struct") {
		t.Errorf("the log shows Go types:\n%s", logs)
	}
}

// An out_id that cannot be a notice id duebell sent ("042", one past any
// int64, letters) is another application's on a shared account (Aliyun's
// push URL is the account's): acknowledged as "ignored", not stored, and a
// batch of nothing else is answered with success, or Aliyun posts it three
// times more. From duebell's own gateway it is a malformed report, rejected
// alone, as README says. "0" (another sender's report that set no out-id)
// is stored unmatched.
func TestReceiptWithForeignOutID(t *testing.T) {
	t.Parallel()
	b := receiptsSetup(t)
	good := sentSMS(t, b.r, "c1", "aliyun", "biz-good")
	batch := fmt.Sprintf(`[
	  {"biz_id":"biz-good","out_id":"%d","success":true,"err_code":"DELIVERED","report_time":"2026-11-21 10:00:07"},
	  {"out_id":"0%d","success":true,"err_code":"DELIVERED","report_time":"2026-11-21 10:00:08"},
	  {"out_id":"99999999999999999999","success":true,"err_code":"DELIVERED","report_time":"2026-11-21 10:00:08"},
	  {"out_id":"order-778","success":true,"err_code":"DELIVERED","report_time":"2026-11-21 10:00:08"},
	  {"biz_id":"someone-elses","out_id":"0","success":true,"err_code":"DELIVERED","report_time":"2026-11-21 10:00:08"}]`, good, good)
	rec := post(b, "/hooks/sms/aliyun/"+receiptToken, "application/json", batch, nil)
	var reply struct {
		Code     int             `json:"code"`
		Ignored  int             `json:"ignored"`
		Rejected json.RawMessage `json:"rejected"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &reply); err != nil || rec.Code != http.StatusOK || reply.Ignored != 3 || reply.Rejected != nil {
		t.Fatalf("%d %s, want success with reports 1 to 3 ignored", rec.Code, rec.Body)
	}
	if n := b.count(t, "sms_receipts"); n != 2 {
		t.Errorf("%d receipts stored, want the good one and the other sender's with out_id 0", n)
	}
	others := `[{"out_id":"order-778","success":true,"err_code":"DELIVERED","report_time":"2026-11-21 10:00:08"}]`
	if rec := post(b, "/hooks/sms/aliyun/"+receiptToken, "application/json", others, nil); rec.Code != http.StatusOK {
		t.Errorf("a batch of another application's reports: %d %s, want success", rec.Code, rec.Body)
	}
	mixed := `[{"out_id":"042","status":"delivered"},{"out_id":"order-778","status":"delivered"},{"id":"gw-1","status":"delivered"}]`
	rec = post(b, "/hooks/sms/webhook", "application/json", mixed,
		map[string]string{webhook.SignatureHeader: webhook.Sign([]byte(gatewaySecret), []byte(mixed))})
	rejected := rejectedOf(t, rec)
	if len(rejected) != 2 || rejected[0].Index != 0 || rejected[1].Index != 1 ||
		!strings.Contains(rejected[1].Error, "out_id: want the notice id duebell sent") {
		t.Errorf("gateway: rejected %+v, want reports 0 and 1 for their out_id", rejected)
	}
	if n := b.count(t, "sms_receipts"); n != 3 {
		t.Errorf("%d receipts stored, want the gateway's good one more", n)
	}
}

// rejection is a report a receipts answer lists as rejected.
type rejection struct {
	Index int    `json:"index"`
	Error string `json:"error"`
}

// rejectedOf is what the provider's success answer rec lists as rejected.
func rejectedOf(t *testing.T, rec *httptest.ResponseRecorder) []rejection {
	t.Helper()
	var reply struct {
		Rejected []rejection `json:"rejected"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &reply); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("%d %s (%v), want 200 with the reports it rejected", rec.Code, rec.Body, err)
	}
	return reply.Rejected
}
