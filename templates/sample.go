package templates

import "time"

// Sample returns realistic data for previewing and checking a template:
// name is a kind or one of its escalation levels (see KindOf; an unknown
// name is taken as a kind), locale and channel as given, link as Link (and as EntryURL for
// repayment_entry_moved); kinds that carry no link get Link "".
func Sample(name, locale, channel, link string) Data {
	kind, tmpl := name, ""
	if k, ok := KindOf(name); ok && k != name {
		kind, tmpl = k, name
	}
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
		Link:         link,
		SupportPhone: "400-000-0000",
		Now:          time.Date(2026, 11, 21, 10, 0, 0, 0, cst),
	}
	switch kind {
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
	case KindPaymentReceived:
		d.Link, d.PaidAmount, d.PaidAt = "", 123456, time.Date(2026, 11, 23, 14, 5, 0, 0, cst)
	case KindCardUnbound:
		d.RepayMethod = RepayManual
	case KindCardBound:
		d.Link, d.CardLast4 = "", "5678"
	case KindAutodebitFailed:
		d.DaysUntilDue, d.Reason, d.Now = 0, "insufficient_funds", time.Date(2026, 11, 24, 10, 0, 0, 0, cst)
	case KindRepaymentEntryMoved:
		d.AppName, d.EntryURL = pick("示例商城App", "the Example Store app"), link
	case KindPlanCancelled:
		d.Link = ""
	case KindServiceClosed:
		d.Outstanding = 1111104
	case KindVerificationChanged:
		d.Link = ""
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
		{Name: d.Merchant, PlanTitle: d.PlanTitle, PlanRef: d.PlanRef, Seq: d.Seq, Periods: d.Periods, Amount: d.Amount},
		{Name: pick("悦家家居", "Home & Co"), PlanTitle: pick("布艺沙发三人位", "Three-seat sofa"), PlanRef: "P202611240002",
			Seq: 5, Periods: 6, Amount: 89900},
		{Name: pick("乐学教育", "Learnwell"), PlanTitle: pick("英语课程年卡", "English course, one year"), PlanRef: "P202611240003",
			Seq: 11, Periods: 12, Amount: 25000},
	} {
		b.DueDate, b.DaysUntilDue = d.DueDate, d.DaysUntilDue
		d.Bills = append(d.Bills, b)
		d.Total += b.Amount
	}
	d.Amount = d.Total
}
