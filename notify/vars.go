package notify

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"duebell/kinds"
	"duebell/templates"
)

// Template variables duebell fills in Message.Vars, for SMS providers whose
// templates are filed provider-side (Aliyun TemplateParam, Tencent
// TemplateParamSet). Values are formatted for the customer's locale: money
// as "1,234.56" (no currency sign; the filed template carries it), dates as
// "2026年11月24日" or "Nov 24, 2026".
const (
	VarName         = "name"          // the customer's name
	VarMerchant     = "merchant"      // the merchant's name
	VarPlan         = "plan"          // the plan's title
	VarPlanRef      = "plan_ref"      // the lender's plan reference
	VarSupportPhone = "support_phone" // support.phone
	VarSeq          = "seq"           // the installment's number, "3"
	VarPeriods      = "periods"       // the plan's number of installments, "12"
	VarAmount       = "amount"        // still due on the installment, "1,234.56"
	VarDueDate      = "due_date"      // the installment's due date
	VarDays         = "days"          // days until due, or days overdue: never negative
	VarCard         = "card"          // the card's last four digits
	VarLink         = "link"          // the repayment link (sms.link_mode decides which)
	VarLinkToken    = "link_token"    // the signed link's token, for a template that holds the link's fixed part
	VarPaidAmount   = "paid_amount"   // a payment confirmation: the amount paid
	VarPaidAt       = "paid_at"       // a payment confirmation: when, "2026年11月23日 14:05"
	VarAppName      = "app_name"      // an event's payload app_name: where to repay now
	VarEntryURL     = "entry_url"     // an event's payload url: the new entry
	VarOutstanding  = "outstanding"   // a kind that reports it: the balance still owed
)

// commonVars mean something for every kind; the registry lists each kind's
// others (kinds.Kind.Vars).
var commonVars = []string{VarName, VarMerchant, VarPlan, VarPlanRef, VarSupportPhone}

// VarsFor lists the variables a provider template of kind may use; nil for
// an unknown kind.
func VarsFor(kind string) []string {
	k, ok := kinds.Of(kind)
	if !ok {
		return nil
	}
	return append(slices.Clone(commonVars), k.Vars...)
}

// buildVars formats d as template variables: every variable of d's kind,
// empty when d has no value for it. Only those are formatted: this runs for
// every notice sent.
func buildVars(d templates.Data) map[string]string {
	k, ok := kinds.Of(d.Kind)
	if !ok {
		return map[string]string{}
	}
	out := make(map[string]string, len(commonVars)+len(k.Vars))
	for _, vs := range [][]string{commonVars, k.Vars} {
		for _, v := range vs {
			out[v] = varValue(v, d)
		}
	}
	return out
}

// varValue is variable v of d, formatted.
func varValue(v string, d templates.Data) string {
	switch v {
	case VarName:
		return d.CustomerName
	case VarMerchant:
		return d.Merchant
	case VarPlan:
		return d.PlanTitle
	case VarPlanRef:
		return d.PlanRef
	case VarSupportPhone:
		return d.SupportPhone
	case VarCard:
		return d.CardLast4
	case VarLink:
		return d.Link
	case VarLinkToken:
		return d.LinkToken
	case VarAppName:
		return d.AppName
	case VarEntryURL:
		return d.EntryURL
	case VarAmount:
		return templates.FormatAmount(d.Amount, d.Currency)
	case VarPaidAmount:
		return templates.FormatAmount(d.PaidAmount, d.Currency)
	case VarOutstanding:
		return templates.FormatAmount(d.Outstanding, d.Currency)
	case VarDueDate:
		return formatDate(templates.ResolveLocale(d.Locale), d.DueDate)
	case VarPaidAt:
		return formatDateTime(templates.ResolveLocale(d.Locale), d.PaidAt)
	case VarDays:
		return strconv.Itoa(max(d.DaysUntilDue, -d.DaysUntilDue))
	case VarSeq:
		if d.Seq > 0 {
			return strconv.Itoa(d.Seq)
		}
	case VarPeriods:
		if d.Periods > 0 {
			return strconv.Itoa(d.Periods)
		}
	}
	return ""
}

func formatDate(locale string, t time.Time) string {
	switch {
	case t.IsZero():
		return ""
	case locale == templates.LocaleZhCN:
		return fmt.Sprintf("%d年%d月%d日", t.Year(), int(t.Month()), t.Day())
	}
	return t.Format("Jan 2, 2006")
}

func formatDateTime(locale string, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return formatDate(locale, t) + " " + t.Format("15:04")
}
