package console

import (
	"errors"
	"net/http"
	"net/url"
	"sort"
	"time"

	"duebell/mask"
	"duebell/repo"
	"duebell/templates"
)

// customersData is the customer search page.
type customersData struct {
	Q    string
	Hits []customerHit
}

type customerHit struct {
	repo.CustomerHit
	MaskedPhone, MaskedEmail string
}

// customers finds customers by name, phone (any form), email, customer
// ref or plan ref. One hit goes straight to the customer's page.
func (c *Console) customers(w http.ResponseWriter, r *http.Request, s session) {
	q := r.URL.Query().Get("q")
	d := customersData{Q: q}
	v := view{Title: "Customers", Session: &s, Data: &d}
	if q == "" {
		c.render(w, r, http.StatusOK, "customers", v)
		return
	}
	hits, err := c.cfg.Store.FindCustomers(r.Context(), q)
	if err != nil {
		c.internal(w, r, s, err)
		return
	}
	if len(hits) == 1 {
		http.Redirect(w, r, "/console/customers/"+url.PathEscape(hits[0].Ref), http.StatusSeeOther)
		return
	}
	for _, h := range hits {
		d.Hits = append(d.Hits, customerHit{CustomerHit: h, MaskedPhone: mask.Phone(h.Phone), MaskedEmail: mask.Email(h.Email)})
	}
	c.render(w, r, http.StatusOK, "customers", v)
}

// customerData is one customer's page.
type customerData struct {
	V                        repo.CustomerView
	MaskedPhone, MaskedEmail string
	Timeline                 []timelineItem
	Collection               collectionBudget
}

// timelineItem is one line of a customer's timeline: a notice, a channel
// event, a payment, a delivery receipt or an audited action.
type timelineItem struct {
	At       time.Time
	Type     string // notice, event, payment, receipt, audit
	NoticeID int64
	Kind     string // notice or event kind
	Status   string // a state, shown as a badge
	Text     string
	Detail   string
}

// customer shows everything about one borrower: contacts (masked),
// opt-outs, plans and installments, and one timeline of notices, events,
// payments, receipts and resends.
func (c *Console) customer(w http.ResponseWriter, r *http.Request, s session) {
	ref := r.PathValue("ref")
	cv, err := c.cfg.Store.GetCustomerView(r.Context(), ref)
	if errors.Is(err, repo.ErrNotFound) {
		c.fail(w, r, s, http.StatusNotFound, trf(c.prefsOf(r).lang, "There is no customer %q.", ref))
		return
	}
	if err != nil {
		c.internal(w, r, s, err)
		return
	}
	lang := c.prefsOf(r).lang
	d := customerData{V: cv, MaskedPhone: mask.Phone(cv.Customer.Phone), MaskedEmail: mask.Email(cv.Customer.Email),
		Timeline: timeline(cv, lang)}
	if d.Collection, err = c.collectionBudget(r.Context(), cv.Customer); err != nil {
		c.internal(w, r, s, err)
		return
	}
	title := cv.Customer.Name
	if title == "" {
		title = cv.Customer.Ref
	}
	c.render(w, r, http.StatusOK, "customer", view{Title: title, Session: &s, Data: &d})
}

// timeline merges a customer's records, newest first.
func timeline(cv repo.CustomerView, lang string) []timelineItem {
	var out []timelineItem
	for _, n := range cv.Notices {
		text := n.Channel
		if n.PlanRef != "" {
			text = n.PlanRef
			if n.Seq > 0 {
				text += " · " + trf(lang, "period %d", n.Seq)
			}
		}
		detail := n.StatusReason
		if n.ResendOf != nil {
			detail = trf(lang, "resend of #%d by %s", *n.ResendOf, n.RequestedBy)
		}
		out = append(out, timelineItem{At: n.CreatedAt, Type: "notice", NoticeID: n.ID, Kind: n.Kind, Status: n.Status,
			Text: label(lang, statusLabels, n.Channel) + " · " + text, Detail: detail})
	}
	for _, e := range cv.Events {
		text := e.Ref
		if e.PlanRef != "" {
			text += " · " + e.PlanRef
		}
		st := "pending"
		if e.ProcessedAt != nil {
			st = "processed"
		}
		out = append(out, timelineItem{At: e.OccurredAt, Type: "event", Kind: e.Kind, Status: st, Text: text,
			Detail: string(e.Payload)})
	}
	for _, p := range cv.Payments {
		out = append(out, timelineItem{At: p.PaidAt, Type: "payment", Status: "paid",
			Text: p.PlanRef + " · " + trf(lang, "period %d", p.Seq), Detail: p.Ref, Kind: templates.Money(p.Amount, p.Currency)})
	}
	for _, rc := range cv.Receipts {
		detail := rc.ProviderStatus
		if rc.Code != "" {
			detail += " " + rc.Code
		}
		if rc.Description != "" {
			detail += " " + rc.Description
		}
		out = append(out, timelineItem{At: rc.ReceivedAt, Type: "receipt", NoticeID: rc.NotificationID, Status: rc.Status,
			Text: rc.Provider, Detail: detail})
	}
	for _, o := range cv.OptOutChanges {
		st, text := "opted_in", tr(lang, "Opted in again")
		if o.OptOut {
			st, text = "opted_out", tr(lang, "Opted out")
		}
		out = append(out, timelineItem{At: o.ChangedAt, Type: "optout", Kind: o.Channel, Status: st, Text: text,
			Detail: trf(lang, "written by database user %s", o.DBUser)})
	}
	for _, a := range cv.Audit {
		out = append(out, timelineItem{At: a.At, Type: "audit", Text: a.Actor + " · " + a.Action + " · " + a.Target,
			Detail: string(a.Detail)})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.After(out[j].At) })
	return out
}

// customerURL links a customer's page.
func customerURL(ref string) string { return "/console/customers/" + url.PathEscape(ref) }
