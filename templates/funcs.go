package templates

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// funcs returns the template funcs bound to a template file's locale.
//
//	money   minor units [currency] → "¥1,234.56" (CNY, the default), "$1,234.56" (USD), "1,234.56 EUR", "5,000 JPY"
//	date    time → "2026年11月24日" / "Nov 24, 2026" ("" for the zero time)
//	datetime time → "2026年11月24日 14:05" / "Nov 24, 2026 14:05"
//	card    "1234" → "****1234" ("" for "")
//	days    n → |n|
//	plural  n one many → one when |n| == 1, else many
//	reason  class → a phrase for a known auto-debit failure class, else ""
func funcs(locale string) map[string]any {
	return map[string]any{
		"money":    money,
		"date":     func(t time.Time) string { return formatDate(locale, t) },
		"datetime": func(t time.Time) string { return formatDateTime(locale, t) },
		// shortdate is month and day only ("11月24日", "Nov 24"): a due
		// date within weeks of the message needs no year, and SMS pay by
		// the segment.
		"shortdate": func(t time.Time) string { return formatShortDate(locale, t) },
		"card":      card,
		"days":      abs,
		"plural":    plural,
		"reason":    func(class string) string { return reasonPhrase(locale, class) },
	}
}

// Money formats an amount in minor units of currency (fen for CNY, cents
// for USD, whole yen for JPY: ISO 4217's decimals) as messages show it:
// ¥1,234.56 for CNY (or no currency), $1,234.56 for USD, "1,234.56 EUR" or
// "5,000 JPY" for others. The console shows amounts the same way.
func Money(minor int64, currency string) string { return money(minor, currency) }

func money(minor int64, currency ...string) string {
	cur := "CNY"
	if len(currency) > 0 && currency[0] != "" {
		cur = currency[0]
	}
	n := FormatAmount(minor, cur)
	sign := ""
	if minor < 0 {
		sign, n = "-", n[1:]
	}
	switch cur {
	case "CNY":
		return sign + "¥" + n
	case "USD":
		return sign + "$" + n
	default:
		return sign + n + " " + cur
	}
}

// FormatAmount writes an amount in minor units of cur with thousands
// separators and cur's decimals: 123456 CNY is "1,234.56", 5000 JPY
// "5,000", 1234 BHD "1.234" (minorDigits).
func FormatAmount(minor int64, cur string) string {
	sign, u := "", uint64(minor)
	if minor < 0 {
		sign, u = "-", uint64(-(minor+1))+1 // no overflow at MinInt64
	}
	decimals := minorDigits(cur)
	unit := uint64(1)
	for range decimals {
		unit *= 10
	}
	n := sign + groupThousands(strconv.FormatUint(u/unit, 10))
	if decimals > 0 {
		frac := strconv.FormatUint(u%unit, 10)
		n += "." + strings.Repeat("0", decimals-len(frac)) + frac
	}
	return n
}

// minorDigits is how many decimals cur's minor units have, as ISO 4217's
// list A.1 gives them: 2 but for the codes in isoMinorDigits (0 for JPY,
// KRW and VND, 3 for BHD, 4 for CLF).
func minorDigits(cur string) int {
	if d, ok := isoMinorDigits[cur]; ok {
		return d
	}
	return 2
}

// isoMinorDigits are the ISO 4217 currencies (list A.1, amendment 179)
// whose minor unit is not 2. CLDR's display digits, which
// golang.org/x/text/currency serves, differ (IDR 0, IQD 0): amounts are
// stored in ISO's minor units, as lenders and payment gateways count them.
var isoMinorDigits = map[string]int{
	"BHD": 3, "BIF": 0, "CLF": 4, "CLP": 0, "DJF": 0, "GNF": 0, "IQD": 3, "ISK": 0, "JOD": 3,
	"JPY": 0, "KMF": 0, "KRW": 0, "KWD": 3, "LYD": 3, "OMR": 3, "PYG": 0, "RWF": 0, "TND": 3,
	"UGX": 0, "UYI": 0, "UYW": 4, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
}

func groupThousands(digits string) string {
	out := make([]byte, 0, len(digits)+len(digits)/3)
	for i := range len(digits) {
		if i > 0 && (len(digits)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, digits[i])
	}
	return string(out)
}

func formatDate(locale string, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	if locale == LocaleZhCN {
		return fmt.Sprintf("%d年%d月%d日", t.Year(), int(t.Month()), t.Day())
	}
	return t.Format("Jan 2, 2006")
}

func formatShortDate(locale string, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	if locale == LocaleZhCN {
		return fmt.Sprintf("%d月%d日", int(t.Month()), t.Day())
	}
	return t.Format("Jan 2")
}

func formatDateTime(locale string, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return formatDate(locale, t) + " " + t.Format("15:04")
}

func card(last4 string) string {
	if last4 == "" {
		return ""
	}
	return "****" + last4
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func plural(n int, one, many string) string {
	if abs(n) == 1 {
		return one
	}
	return many
}

// reasons are the auto-debit failure classes with a customer-facing phrase.
var reasons = map[string]map[string]string{
	LocaleZhCN: {
		"insufficient_funds": "银行卡余额不足",
		"card_expired":       "银行卡已过期",
		"bank_declined":      "银行拒绝了本次扣款",
		"card_frozen":        "银行卡已冻结或挂失",
		"limit_exceeded":     "超出银行卡支付限额",
	},
	LocaleEn: {
		"insufficient_funds": "insufficient balance",
		"card_expired":       "the card has expired",
		"bank_declined":      "the bank declined the payment",
		"card_frozen":        "the card is frozen or reported lost",
		"limit_exceeded":     "the card's payment limit was exceeded",
	},
}

func reasonPhrase(locale, class string) string { return reasons[locale][class] }
