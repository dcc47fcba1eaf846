// Package twilio sends SMS through Twilio's Programmable Messaging REST API
// and validates the X-Twilio-Signature of Twilio's webhooks (status callbacks).
//
// Documents followed:
//   - Message resource, create: POST /2010-04-01/Accounts/{AccountSid}/Messages.json,
//     form-encoded To, From or MessagingServiceSid, Body, StatusCallback; HTTP
//     Basic auth AccountSid:AuthToken; 201 with the Message (sid, status):
//     https://www.twilio.com/docs/messaging/api/message-resource
//   - REST API errors: JSON {code, message, more_info, status}, codes listed at
//     https://www.twilio.com/docs/api/errors (21211 invalid To, 21610 unsubscribed, …).
//   - Webhook security: https://www.twilio.com/docs/usage/webhooks/webhooks-security
//     (formerly /docs/usage/security#validating-requests): HMAC-SHA1 keyed with
//     the auth token over the full URL followed by each POST parameter's name and
//     value, sorted by name, Base64-encoded. Its worked example is reproduced in
//     signature_test.go.
package twilio
