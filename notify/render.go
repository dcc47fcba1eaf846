package notify

import (
	"cmp"
	"encoding/json"
	"log/slog"
	"strings"
	"time"

	"duebell/kinds"
	"duebell/link"
	"duebell/repo"
	"duebell/scheduler"
	"duebell/templates"

	"github.com/rivo/uniseg"
)

// Linker makes signed repayment links: the URL and the token it carries.
type Linker interface {
	Link(c link.Claims, now time.Time) (url, token string)
}

// facts are the registry's facts of kind (zero for an unknown kind).
func facts(kind string) kinds.Kind {
	k, _ := kinds.Of(kind)
	return k
}

func (d *Dispatcher) window(kind string) scheduler.Window {
	if w, ok := d.cfg.KindWindows[kind]; ok {
		return d.collectionWindow(kind, w)
	}
	return d.collectionWindow(kind, d.cfg.Window)
}

// opening is when c may go out: now when inside its send window on a day its
// stage's quiet_on allows, else the next such window opening in the
// customer's zone, and why it waits (see scheduler.NextAllowed).
func (d *Dispatcher) opening(c *repo.Claim, now time.Time, loc *time.Location) (time.Time, string) {
	return scheduler.NextAllowed(d.window(c.Kind), d.cfg.Calendar, d.cfg.StageQuiet[c.Stage], now, loc)
}

// templateName is the template c renders: its stage's, when the policy
// names one, else its kind's own.
func (d *Dispatcher) templateName(c *repo.Claim) string {
	if t := d.cfg.StageTemplates[c.Stage]; t != "" && facts(c.Kind).Reminder {
		return t
	}
	return c.Kind
}

// render builds the message from current data: the amount still due and the
// days until the due date are computed now, so a late notice tells the truth.
func (d *Dispatcher) render(c *repo.Claim, dg *digest, now time.Time, loc *time.Location) (Message, string, error) {
	local := now.In(loc)
	data := templates.Data{
		Kind: c.Kind, Template: d.templateName(c), Locale: c.Locale, Channel: c.Channel,
		CustomerName: c.Customer.Name,
		PlanRef:      c.Plan.Ref, PlanTitle: planTitle(c.Plan), Merchant: c.Plan.Merchant, Currency: c.Plan.Currency,
		Seq: c.Installment.Seq, Periods: c.Plan.Periods,
		Amount:      c.Installment.Amount - c.Installment.Paid,
		RepayMethod: c.Plan.RepayMethod, CardLast4: c.Plan.CardLast4,
		SupportPhone: d.cfg.SupportPhone,
		Now:          local,
	}
	today := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, time.UTC)
	if c.Installment.ID != 0 {
		data.DueDate = c.Installment.DueDate.Time
		data.DaysUntilDue = int(c.Installment.DueDate.Sub(today).Hours() / 24)
	}
	if dg != nil {
		dg.fill(&data, today)
	}
	if facts(c.Kind).ConfirmsPayment {
		data.Amount = c.Installment.Amount
		// The payment that settled the bill, not all paid on it: "we
		// received your payment of ¥40" after ¥60 paid earlier.
		data.PaidAmount = cmp.Or(c.PaymentAmount, c.Installment.Paid)
		if c.Installment.PaidAt != nil {
			data.PaidAt = c.Installment.PaidAt.In(loc)
		}
	}
	if c.EventID != nil {
		eventData(&data, c)
	}
	var lnk string
	nothingDue := facts(c.Kind).Outstanding && c.Outstanding <= 0
	if facts(c.Kind).Link {
		signed, tok := d.cfg.Links.Link(link.Claims{NotificationID: c.ID, PlanRef: c.Plan.Ref, Seq: c.Installment.Seq}, now)
		ch := d.channelLink(c.Channel, signed)
		if c.Plan.ID != 0 && !nothingDue {
			lnk, data.Link = ch, ch
		}
		// An Aliyun or Tencent template holds the link's fixed part before
		// link_token, whatever is owed: a borrower who owes nothing (no
		// link in duebell's own text) still gets a token, whose page says
		// so, rather than the bare fixed part.
		if ch == signed {
			data.LinkToken = tok
		}
	}
	if c.Channel == ChannelSMS {
		data.SMSSignature = d.cfg.SMSSignature
	}
	r, err := d.cfg.Templates.Render(data)
	if err != nil {
		return Message{}, "", err
	}
	if c.Channel == ChannelSMS {
		if r, err = d.fitSMS(c, &data, r); err != nil {
			return Message{}, "", err
		}
	}
	msg := Message{
		NotificationID: c.ID, Queued: c.CreatedAt, ToName: c.Customer.Name,
		Subject: r.Subject, Text: r.Text, HTML: r.HTML,
		Kind: c.Kind, Locale: c.Locale, Template: data.Template,
	}
	if c.Channel == ChannelSMS {
		msg.To, msg.Vars = c.Customer.Phone, buildVars(data)
	} else {
		msg.To = c.Customer.Email
	}
	return msg, lnk, nil
}

// planTitle is what a message calls plan p: its title, or the lender's
// reference when the plan has none (an order number the borrower knows),
// not `of ""`.
func planTitle(p repo.Plan) string { return cmp.Or(p.Title, p.Ref) }

// eventData fills what a channel-event notice shows from its event's
// payload. An event whose kind takes payload card_last4 names the card it is
// about when the payload has it.
func eventData(data *templates.Data, c *repo.Claim) {
	var p struct {
		AppName   string `json:"app_name"`
		URL       string `json:"url"`
		Reason    string `json:"reason"`
		CardLast4 string `json:"card_last4"`
	}
	_ = json.Unmarshal(c.EventPayload, &p) // validated on the way in; a bad one renders without it
	data.AppName, data.EntryURL, data.Reason = p.AppName, p.URL, p.Reason
	if p.CardLast4 != "" && facts(c.Kind).Takes("card_last4") {
		data.CardLast4 = p.CardLast4
	}
	data.Outstanding = c.Outstanding
}

// minShortened is the fewest characters fitSMS cuts a plan title or a
// merchant's name to, "..." included: enough to tell one plan from another.
const minShortened = 16

// minBillName is the fewest characters fitSMS cuts a digest's bill name (a
// shop's name) to: a digest lists several, and 16 each still made three
// parts of one with three long shop names.
const minBillName = 8

// fitSMS keeps an SMS within templates.MaxSMSSegments, which the templates
// fit with realistic text (templates check), when the lender's own text
// does not: a 200-character plan title, a long merchant's name, a digest's
// long shop names. It cuts the longest of them (the plan title, the
// merchant, each bill's name) to half, between characters as a reader sees
// them (an emoji of several code points stays whole), with "...", and
// renders again, until the SMS fits or all are minShortened; the variables
// an Aliyun or Tencent template takes are cut alike. What still does not fit
// (an emoji, which makes the whole SMS UCS-2, a long name) goes as it is,
// with a WARN: the provider bills each part.
func (d *Dispatcher) fitSMS(c *repo.Claim, data *templates.Data, r templates.Rendered) (templates.Rendered, error) {
	n, enc := templates.SMSSegments(r.Text)
	if n <= templates.MaxSMSSegments {
		return r, nil
	}
	type name struct {
		s   *string
		min int // the fewest characters it is cut to
	}
	names := []name{{&data.PlanTitle, minShortened}, {&data.Merchant, minShortened}}
	for i := range data.Bills {
		names = append(names, name{&data.Bills[i].Name, minBillName})
	}
	for cut := false; n > templates.MaxSMSSegments; cut = true {
		var f *name
		chars := 0
		for i, g := range names {
			if k := uniseg.GraphemeClusterCount(*g.s); k > g.min && k > chars {
				f, chars = &names[i], k
			}
		}
		if f == nil {
			d.log(c, slog.LevelWarn, "SMS longer than the templates allow: sent as it is",
				slog.Int("segments", n), slog.String("encoding", enc), slog.Bool("shortened", cut))
			break
		}
		*f.s = strings.TrimSpace(firstChars(*f.s, max(f.min, chars/2)-3)) + "..."
		shorter, err := d.cfg.Templates.Render(*data)
		if err != nil {
			return r, err
		}
		r = shorter
		n, enc = templates.SMSSegments(r.Text)
	}
	return r, nil
}

// firstChars is s's first k user-perceived characters (grapheme clusters).
func firstChars(s string, k int) string {
	end, state, rest := 0, -1, s
	for ; k > 0 && rest != ""; k-- {
		var c string
		c, rest, _, state = uniseg.FirstGraphemeClusterInString(rest, state)
		end += len(c)
	}
	return s[:end]
}
