package api

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"unicode/utf8"

	"duebell/internal/input"

	"duebell/mask"
	"duebell/notify/sms/twilio"
	"duebell/notify/sms/webhook"
	"duebell/repo"
)

// ReceiptConfig enables POST /hooks/sms/{provider}, where SMS providers post
// delivery receipts. The route takes no bearer token: Twilio's and the
// webhook gateway's receipts are signed, and Token or AllowIPs guard the
// others. A provider whose receipts cannot be authenticated is refused (403):
// no receipt route is ever open to anyone.
type ReceiptConfig struct {
	// Token (sms.receipt_token) must come as the last path segment,
	// /hooks/sms/aliyun/<token>, or as ?token=, on receipts from providers
	// that do not sign them (aliyun, tencent).
	Token string
	// AllowIPs (sms.receipt_allow_ips) admit unsigned receipts from these
	// client addresses without a token. The address is the TCP peer's, so
	// list the provider's push addresses only when it connects directly.
	AllowIPs []netip.Prefix
	// WebhookSecret verifies X-Duebell-Signature on the webhook gateway's
	// receipts (sms.webhook.secret).
	WebhookSecret string
	// TwilioAuthToken and TwilioCallbackURL verify X-Twilio-Signature:
	// the URL is the public one Twilio was given (sms.twilio.status_callback),
	// which a proxy in front of duebell may not pass on as it was.
	TwilioAuthToken   string
	TwilioCallbackURL string
	// OnReceipt, when set, is told each stored receipt's provider and
	// outcome: its status, or "unmatched" when no notice matched it. A
	// receipt the provider posts again is stored once, and told once.
	OnReceipt func(provider, outcome string)
}

// receiptProvider is how one provider's receipts are authenticated, read
// and answered.
type receiptProvider struct {
	signed bool // authenticated by its own signature, not by ReceiptConfig.Token
	verify func(rc *ReceiptConfig, r *http.Request, body []byte) bool
	// parse reads the reports of a body; its error means the body as a
	// whole is unreadable.
	parse func(body []byte) ([]report, error)
	reply func() map[string]any // the success answer the provider expects
	// shared: the push URL is the account's, so it carries the reports of
	// every application sending through it; a report whose out-id duebell
	// never sent is another's, acknowledged and not stored (see checkReceipt).
	shared bool
}

var receiptProviders = map[string]receiptProvider{
	"aliyun":  {shared: true, parse: parseAliyun, reply: func() map[string]any { return map[string]any{"code": 0, "msg": "成功"} }},
	"tencent": {shared: true, parse: parseTencent, reply: func() map[string]any { return map[string]any{"result": 0, "errmsg": "OK"} }},
	"twilio":  {signed: true, verify: verifyTwilio, parse: parseTwilio, reply: okReply},
	"webhook": {signed: true, verify: verifyWebhook, parse: parseWebhook, reply: okReply},
}

func okReply() map[string]any { return map[string]any{"status": "ok"} }

func (s *server) hookRoutes(mux *routeMux) {
	if s.cfg.Receipts != nil {
		mux.HandleFunc("POST /hooks/sms/{provider}", s.smsReceipts)
		mux.HandleFunc("POST /hooks/sms/{provider}/{token}", s.smsReceipts)
	}
}

// allowUnsigned authenticates a receipt from a provider that does not sign
// its receipts: by the secret token, else by the client's address.
func (rc *ReceiptConfig) allowUnsigned(r *http.Request) (bool, string) {
	if rc.Token == "" && len(rc.AllowIPs) == 0 {
		return false, "receipts from this provider are refused: set sms.receipt_token or sms.receipt_allow_ips"
	}
	token := r.PathValue("token")
	if token == "" {
		token = r.URL.Query().Get("token")
	}
	if rc.Token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(rc.Token)) == 1 {
		return true, ""
	}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		ip := ap.Addr().Unmap()
		for _, p := range rc.AllowIPs {
			if p.Contains(ip) {
				return true, ""
			}
		}
	}
	return false, "bad or missing token"
}

// smsReceipts stores every receipt of the request and applies each to its
// notice, the whole batch in a few transactions (repo RecordReceipts). It
// answers 403 for a bad signature or token, 400 for a body it cannot read,
// that carries no receipt (JSON null; an empty array from a provider that
// posts one receipt at a time) or whose every report is malformed, 503 with
// Retry-After while the database is unavailable, and the provider's success
// answer otherwise — also for receipts that match no notice, which are
// stored unmatched (providers retry on errors, and a retry could not match
// them better), for an empty batch from a provider that posts batches, and
// for a batch with some malformed reports: the good ones are stored and
// applied, the bad ones listed under "rejected" and logged, and the provider
// does not send the good ones again (Aliyun retries a failed batch three
// times, then drops all of it).
func (s *server) smsReceipts(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("provider")
	p, ok := receiptProviders[name]
	if !ok {
		writeError(w, http.StatusNotFound, codeNotFound, "no receipts from provider "+name)
		return
	}
	s.readDeadline(w)
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeError(w, http.StatusRequestEntityTooLarge, codeTooLarge, "receipt body is too large")
			return
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			ae := s.bodyTimeout()
			writeError(w, ae.Status, ae.Code, ae.Message)
			return
		}
		// The provider's connection broke mid-body: not ours to retry.
		writeError(w, http.StatusBadRequest, codeBadJSON, "the receipt body could not be read")
		return
	}
	rc := s.cfg.Receipts
	if p.signed && !p.verify(rc, r, body) {
		writeError(w, http.StatusForbidden, codeForbidden, "bad or missing signature")
		return
	}
	if !p.signed {
		if ok, msg := rc.allowUnsigned(r); !ok {
			writeError(w, http.StatusForbidden, codeForbidden, msg)
			return
		}
	}
	reports, err := p.parse(body)
	if err != nil {
		s.log.LogAttrs(r.Context(), slog.LevelWarn, "sms receipts refused", slog.String("provider", name),
			slog.String("error", err.Error()))
		writeError(w, http.StatusBadRequest, codeBadJSON, name+" receipt: "+err.Error())
		return
	}
	var receipts []repo.Receipt
	var bad []rejected
	var others int // another application's reports on a shared account
	for _, rp := range reports {
		if rp.err == nil {
			rp.err = checkReceipt(rp.receipt)
		}
		if p.shared && errors.Is(rp.err, errForeignOutID) {
			others++
			continue
		}
		if rp.err != nil {
			bad = append(bad, rejected{Index: rp.index, Error: rp.err.Error()})
			continue
		}
		receipts = append(receipts, rp.receipt)
	}
	if len(bad) > 0 {
		msg := "sms receipts rejected" // the others are stored
		if len(receipts) == 0 {
			msg = "sms receipts refused" // answered 400, as a body that is no batch
		}
		s.log.LogAttrs(r.Context(), slog.LevelWarn, msg, slog.String("provider", name),
			slog.Int("rejected", len(bad)), slog.Int("accepted", len(receipts)), slog.Int("first_index", bad[0].Index),
			slog.String("first_error", bad[0].Error))
	}
	if len(receipts) == 0 && len(bad) > 0 {
		msg := name + " receipt: report " + strconv.Itoa(bad[0].Index) + ": " + bad[0].Error
		if len(reports) > 1 {
			msg = name + " receipts: every report is malformed; report " + strconv.Itoa(bad[0].Index) + ": " + bad[0].Error
		}
		writeError(w, http.StatusBadRequest, codeBadJSON, msg)
		return
	}
	for i := range receipts {
		rc := &receipts[i]
		rc.Provider = name
		// A gateway's words may echo the number (“user 13812345678
		// unreachable”): the notice's status reason and support's views
		// quote them, masked as a log line is. The raw report is kept as sent.
		rc.Code, rc.Description = mask.Text(rc.Code), mask.Text(rc.Description)
	}
	results, err := s.cfg.Repo.RecordReceipts(r.Context(), receipts, s.cfg.Now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var matched, applied, duplicates int
	for i, res := range results {
		if res.NotificationID != 0 {
			matched++
		}
		if res.Duplicate {
			duplicates++
		} else if rc.OnReceipt != nil {
			outcome := receipts[i].Status
			if res.NotificationID == 0 {
				outcome = "unmatched"
			}
			rc.OnReceipt(name, outcome)
		}
		if res.Applied {
			applied++
		}
	}
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "sms receipts", slog.String("provider", name),
		slog.Int("receipts", len(receipts)), slog.Int("matched", matched), slog.Int("applied", applied),
		slog.Int("duplicates", duplicates), slog.Int("others", others))
	reply := p.reply()
	if len(bad) > 0 {
		reply["rejected"] = bad
	}
	if others > 0 {
		reply["ignored"] = others
	}
	writeJSON(w, http.StatusOK, reply)
}

// maxReceiptKey is the longest message id, out-id, provider status or code
// a receipt may carry, in bytes. Together they are the key of the index that
// stores a receipt once (migration 047), whose entries PostgreSQL limits to
// about 2,700 bytes: a longer one failed its whole batch (500, posted again
// and again). Providers' ids and codes are tens of bytes.
const maxReceiptKey = 256

// checkReceipt refuses a report whose text PostgreSQL cannot store (a NUL,
// invalid UTF-8) or index (an id or code over maxReceiptKey), so that it is
// reported instead of failing its batch.
func checkReceipt(rc repo.Receipt) error {
	if err := input.Text(rc.Raw); err != nil {
		return fmt.Errorf("report %w", err)
	}
	// Decoded: an unpaired surrogate escape ("\ud800") reads as U+FFFD,
	// refused here as in every other body.
	if err := input.WalkDecoded(rc); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{{"message id", rc.ProviderMsgID}, {"out_id", rc.OutID},
		{"provider status", rc.ProviderStatus}, {"code", rc.Code}} {
		if len(f.v) > maxReceiptKey {
			return fmt.Errorf("%s is longer than %d bytes", f.name, maxReceiptKey)
		}
	}
	// An out_id is the notice id as duebell sent it ("42", never "042" or a
	// number past any id: stored unmatched, a wrong echo went unseen), or
	// "0", which reports of another sender on a shared account carry.
	if id, err := strconv.ParseInt(rc.OutID, 10, 64); rc.OutID != "" && (err != nil || id < 0 || strconv.FormatInt(id, 10) != rc.OutID) {
		return errForeignOutID
	}
	if n := utf8.RuneCountInString(rc.Description); n > maxReceiptDescription {
		return fmt.Errorf("description is longer than %d characters", maxReceiptDescription)
	}
	return nil
}

// errForeignOutID: an out-id duebell cannot have sent. From a gateway of
// duebell's own it is a malformed report; on a shared account (Aliyun,
// Tencent) it is another application's, as "order-778" is.
var errForeignOutID = errors.New("out_id: want the notice id duebell sent, a whole number without leading zeros")

// maxReceiptDescription bounds a report's description (a provider's
// explanation of its status: a sentence, not a document).
const maxReceiptDescription = 1000

func verifyTwilio(rc *ReceiptConfig, r *http.Request, body []byte) bool {
	if rc.TwilioAuthToken == "" || rc.TwilioCallbackURL == "" {
		return false
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return false
	}
	return twilio.ValidateSignature(rc.TwilioAuthToken, rc.TwilioCallbackURL, form, r.Header.Get("X-Twilio-Signature"))
}

func verifyWebhook(rc *ReceiptConfig, r *http.Request, body []byte) bool {
	return rc.WebhookSecret != "" && webhook.Verify([]byte(rc.WebhookSecret), body, r.Header.Get(webhook.SignatureHeader))
}
