package templates

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"time"

	"duebell/kinds"
)

// MaxSMSSegments is the most parts an SMS may be billed as with the sample
// data before Check reports it: a lender pays per part, and every default
// template, per-user link included, fits in two.
const MaxSMSSegments = 2

// CheckResult is the outcome of rendering one template×locale×channel.
type CheckResult struct {
	// Template is the kind's own name or an escalation level of Kind.
	Template, Kind, Locale, Channel string
	Segments                        int    // SMS only: parts of the longest variant
	Encoding                        string // SMS only: "GSM-7" or "UCS-2" of that variant
	Err                             error
}

// Check renders every template (each kind's and each escalation level)
// ×locale×channel with realistic sample data,
// sampleLink as Link and EntryURL, and the variants each template branches on
// (manual or auto-debit, every known failure reason, nothing outstanding,
// missing optional fields). It reports the first error per combination and,
// for SMS, the segment count of the longest variant, an error when that is
// over MaxSMSSegments. sampleLink's host must be on the allowed domains.
// supportPhone, when set, is the phone the messages give (support.phone):
// it is in every email's footer and in security SMS; smsSignature, when
// set, the lender's SMS signature (sms.signature) that signs every SMS.
func (s *Set) Check(sampleLink, supportPhone, smsSignature string) []CheckResult {
	var out []CheckResult
	for _, name := range names() {
		kind, _ := KindOf(name)
		for _, locale := range locales {
			for _, channel := range []string{ChannelSMS, ChannelEmail} {
				res := CheckResult{Template: name, Kind: kind, Locale: locale, Channel: channel}
				sample := Sample(name, locale, channel, sampleLink)
				sample.SupportPhone = cmp.Or(supportPhone, sample.SupportPhone)
				if channel == ChannelSMS {
					sample.SMSSignature = smsSignature
				}
				for i, d := range variants(sample) {
					r, err := s.Render(d)
					if err != nil {
						res.Err = fmt.Errorf("sample %d: %w", i, err)
						break
					}
					if channel != ChannelSMS {
						continue
					}
					if n, enc := SMSSegments(r.Text); n > res.Segments {
						res.Segments, res.Encoding = n, enc
					}
				}
				if res.Err == nil && res.Segments > MaxSMSSegments {
					res.Err = fmt.Errorf("%d SMS segments (%s) with the sample data, over %d: shorten the template, or the link (links.short_base_url)",
						res.Segments, res.Encoding, MaxSMSSegments)
				}
				out = append(out, res)
			}
		}
	}
	return out
}

// variants returns d and copies of it that take the templates' other
// branches, from the kind's facts in the registry (package kinds).
func variants(d Data) []Data {
	out := []Data{d}
	add := func(f func(*Data)) {
		v := d
		f(&v)
		out = append(out, v)
	}
	add(func(v *Data) { v.CustomerName, v.Merchant, v.SupportPhone = "", "", "" })
	if len(d.Bills) > 0 { // a digest: bills due on different days, no link
		add(func(v *Data) {
			v.Bills = slices.Clone(v.Bills)
			for i := range v.Bills {
				v.Bills[i].DueDate = v.Bills[i].DueDate.AddDate(0, 0, i)
				v.Bills[i].DaysUntilDue += i
			}
		})
		add(func(v *Data) { v.Link = "" })
		for _, debit := range []bool{true, false} { // every bill by automatic debit, or none
			add(func(v *Data) {
				v.Bills = slices.Clone(v.Bills)
				for i := range v.Bills {
					v.Bills[i].AutoDebit = debit
				}
			})
		}
		for _, l := range levels {
			if Digest(l.kind) == d.Template {
				add(func(v *Data) { v.Level = l.name })
			}
		}
		return out
	}
	k, _ := kinds.Of(d.Kind)
	if k.Reminder {
		add(func(v *Data) { v.RepayMethod, v.CardLast4 = RepayManual, "" })
		add(func(v *Data) { v.CardLast4 = "" })
		add(func(v *Data) { v.Link = "" })
		switch k.DueSide { // the day nearest the due date: "tomorrow", "1 day"
		case -1:
			add(func(v *Data) { v.DaysUntilDue = 1 })
		case 1:
			add(func(v *Data) { v.DaysUntilDue = -1 })
		}
	}
	if k.Takes("reason") {
		for _, class := range slices.Sorted(maps.Keys(reasons[LocaleEn])) {
			add(func(v *Data) { v.Reason = class })
		}
		add(func(v *Data) { v.Reason, v.CardLast4 = "", "" })
		add(func(v *Data) { v.Reason, v.DaysUntilDue = "something_new", -2 })
	}
	if k.Outstanding {
		add(func(v *Data) { v.Outstanding = 0 })
	}
	if k.Takes("card_last4") && !k.Event.Requires("card_last4") {
		add(func(v *Data) { v.CardLast4 = "" })
	}
	if k.Takes("app_name") {
		add(func(v *Data) { v.AppName = "" })
	}
	if k.Takes("url") {
		add(func(v *Data) { v.EntryURL = "" })
	}
	if k.ConfirmsPayment {
		add(func(v *Data) { v.PaidAt = time.Time{} })
	}
	return out
}
