package templates

import (
	"time"

	"duebell/kinds"
)

// Sample returns realistic data for previewing and checking a template:
// name is a kind or one of its escalation levels (see KindOf; an unknown
// name is taken as a kind), locale and channel as given, link as Link. What
// a kind shows beyond the common fields follows from its facts in the
// registry (package kinds): no Link unless it carries one, the payment for a
// payment confirmation, the balance for a kind that reports it, and its
// event payload's keys (link as the payload url). A few kinds set the day
// and state their wording is about.
func Sample(name, locale, channel, link string) Data {
	kind, tmpl := name, ""
	if k, ok := KindOf(name); ok && k != name {
		kind, tmpl = k, name
	}
	facts, _ := kinds.Of(kind)
	cst := time.FixedZone("CST", 8*3600)
	zh := ResolveLocale(locale) == LocaleZhCN
	pick := func(zhText, enText string) string {
		if zh {
			return zhText
		}
		return enText
	}
	d := Data{
		Kind: kind, Template: tmpl, Locale: locale, Channel: channel,
		CustomerName: pick("张伟", "Alex Chen"),
		PlanRef:      "P202611240001",
		PlanTitle:    "iPhone 16 Pro 256GB",
		// A merchant name of realistic length: the SMS segment check
		// (templates check) is only as good as this sample.
		Merchant: pick("优品数码商城", "Example Store"),
		Currency: "CNY",
		Seq:      3, Periods: 12,
		Amount:       123456,
		DueDate:      time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC),
		DaysUntilDue: 3,
		RepayMethod:  RepayAutoDebit,
		CardLast4:    "1234",
		SupportPhone: "400-000-0000",
		Now:          time.Date(2026, 11, 21, 10, 0, 0, 0, cst),
	}
	if facts.Link {
		d.Link = link
	}
	if facts.ConfirmsPayment {
		d.PaidAmount, d.PaidAt = 123456, time.Date(2026, 11, 23, 14, 5, 0, 0, cst)
	}
	if facts.Outstanding {
		d.Outstanding = 1111104
	}
	if facts.Takes("reason") {
		d.Reason = "insufficient_funds"
	}
	if facts.Takes("app_name") {
		d.AppName = pick("示例商城App", "the Example Store app")
	}
	if facts.Takes("url") {
		d.EntryURL = link
	}
	switch kind { // the day and state the wording is about
	case KindDueToday:
		d.DaysUntilDue, d.Now = 0, time.Date(2026, 11, 24, 10, 0, 0, 0, cst)
	case KindOverdue:
		switch tmpl {
		case TemplateOverdueFirm:
			d.DaysUntilDue, d.Now = -7, time.Date(2026, 12, 1, 10, 0, 0, 0, cst)
		case TemplateOverdueSerious:
			d.DaysUntilDue, d.Now = -30, time.Date(2026, 12, 24, 10, 0, 0, 0, cst)
		default:
			d.DaysUntilDue, d.Now = -5, time.Date(2026, 11, 29, 10, 0, 0, 0, cst)
		}
	case KindCardUnbound:
		d.RepayMethod = RepayManual
	case KindCardBound:
		d.CardLast4 = "5678"
	case KindAutodebitFailed:
		d.DaysUntilDue, d.Now = 0, time.Date(2026, 11, 24, 10, 0, 0, 0, cst)
	}
	if IsDigest(tmpl) {
		sampleBills(&d, pick)
	}
	return d
}

// sampleBills makes d a digest of three bills of different merchants, due
// on d's due date.
func sampleBills(d *Data, pick func(zh, en string) string) {
	for _, b := range []Bill{
		{Name: d.Merchant, PlanTitle: d.PlanTitle, PlanRef: d.PlanRef, Seq: d.Seq, Periods: d.Periods, Amount: d.Amount,
			AutoDebit: d.AutoDebit()},
		{Name: pick("悦家家居", "Home & Co"), PlanTitle: pick("布艺沙发三人位", "Three-seat sofa"), PlanRef: "P202611240002",
			Seq: 5, Periods: 6, Amount: 89900},
		{Name: pick("乐学教育", "Learnwell"), PlanTitle: pick("英语课程年卡", "English course, one year"), PlanRef: "P202611240003",
			Seq: 11, Periods: 12, Amount: 25000},
	} {
		b.DueDate, b.DaysUntilDue = d.DueDate, d.DaysUntilDue
		d.Bills = append(d.Bills, b)
		d.Total += b.Amount
	}
	d.Amount, d.Merchant = d.Total, "" // no one merchant: none signs it (see notify's digest fill)
}
