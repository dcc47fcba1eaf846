package api

import (
	"crypto/subtle"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"

	"duebell/notify/sms/twilio"
	"duebell/notify/sms/webhook"
	"duebell/repo"
)

// ReceiptConfig enables POST /hooks/sms/{provider}, where SMS providers post
// delivery receipts. The route takes no bearer token: Twilio's and the
// webhook gateway's receipts are signed, and Token guards the others.
type ReceiptConfig struct {
	// Token, when set, must come as ?token= on receipts from providers that
	// do not sign them (aliyun, tencent).
	Token string
	// WebhookSecret verifies X-Duebell-Signature on the webhook gateway's
	// receipts (sms.webhook.secret).
	WebhookSecret string
	// TwilioAuthToken and TwilioCallbackURL verify X-Twilio-Signature:
	// the URL is the public one Twilio was given (sms.twilio.status_callback),
	// which a proxy in front of duebell may not pass on as it was.
	TwilioAuthToken   string
	TwilioCallbackURL string
}

// receiptProvider is how one provider's receipts are authenticated, read
// and answered.
type receiptProvider struct {
	signed bool // authenticated by its own signature, not by ReceiptConfig.Token
	verify func(rc *ReceiptConfig, r *http.Request, body []byte) bool
	parse  func(body []byte) ([]repo.Receipt, error)
	reply  any // the success answer the provider expects
}

var receiptProviders = map[string]receiptProvider{
	"aliyun":  {parse: parseAliyun, reply: map[string]any{"code": 0, "msg": "成功"}},
	"tencent": {parse: parseTencent, reply: map[string]any{"result": 0, "errmsg": "OK"}},
	"twilio":  {signed: true, verify: verifyTwilio, parse: parseTwilio, reply: map[string]string{"status": "ok"}},
	"webhook": {signed: true, verify: verifyWebhook, parse: parseWebhook, reply: map[string]string{"status": "ok"}},
}

func (s *server) hookRoutes(mux *http.ServeMux) {
	if s.cfg.Receipts != nil {
		mux.HandleFunc("POST /hooks/sms/{provider}", s.smsReceipts)
	}
}

// smsReceipts stores every receipt of the request and applies each to its
// notice. It answers 403 for a bad signature or token, 400 for a body it
// cannot read, and the provider's success answer otherwise — also for
// receipts that match no notice, which are stored unmatched: providers
// retry on errors, and a retry could not match them better.
func (s *server) smsReceipts(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("provider")
	p, ok := receiptProviders[name]
	if !ok {
		writeError(w, http.StatusNotFound, codeNotFound, "no receipts from provider "+name)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeError(w, http.StatusRequestEntityTooLarge, codeTooLarge, "receipt body is too large")
			return
		}
		s.fail(w, r, err)
		return
	}
	rc := s.cfg.Receipts
	if p.signed && !p.verify(rc, r, body) {
		writeError(w, http.StatusForbidden, codeForbidden, "bad or missing signature")
		return
	}
	if !p.signed && rc.Token != "" &&
		subtle.ConstantTimeCompare([]byte(r.URL.Query().Get("token")), []byte(rc.Token)) != 1 {
		writeError(w, http.StatusForbidden, codeForbidden, "bad or missing token")
		return
	}
	receipts, err := p.parse(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeBadJSON, name+" receipt: "+err.Error())
		return
	}
	var matched, applied int
	now := s.cfg.Now()
	for _, in := range receipts {
		in.Provider = name
		res, err := s.cfg.Repo.RecordReceipt(r.Context(), in, now)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if res.NotificationID != 0 {
			matched++
		}
		if res.Applied {
			applied++
		}
	}
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "sms receipts", slog.String("provider", name),
		slog.Int("receipts", len(receipts)), slog.Int("matched", matched), slog.Int("applied", applied))
	writeJSON(w, http.StatusOK, p.reply)
}

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
