package templates

import (
	"math"
	"testing"
	"time"
)

func TestMoney(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fen  int64
		cur  []string
		want string
	}{
		{123456, nil, "¥1,234.56"},
		{123456, []string{""}, "¥1,234.56"},
		{123456, []string{"CNY"}, "¥1,234.56"},
		{123456, []string{"USD"}, "$1,234.56"},
		{123456, []string{"EUR"}, "1,234.56 EUR"},
		{0, nil, "¥0.00"},
		{5, nil, "¥0.05"},
		{100, nil, "¥1.00"},
		{99999, nil, "¥999.99"},
		{100000, nil, "¥1,000.00"},
		{123456789012, nil, "¥1,234,567,890.12"},
		{-123456, nil, "-¥1,234.56"},
		{-5, []string{"USD"}, "-$0.05"},
		{-123456, []string{"HKD"}, "-1,234.56 HKD"},
		{math.MinInt64, nil, "-¥92,233,720,368,547,758.08"},
		// Minor units as ISO 4217 has them: whole yen, won and dong;
		// thousandths of a dinar; two decimals elsewhere, where CLDR's
		// display digits say none (IDR) or three where it says none (IQD).
		{5000, []string{"JPY"}, "5,000 JPY"},
		{-1234567, []string{"KRW"}, "-1,234,567 KRW"},
		{250000, []string{"VND"}, "250,000 VND"},
		{1234, []string{"BHD"}, "1.234 BHD"},
		{5, []string{"KWD"}, "0.005 KWD"},
		{123456, []string{"ZZZ"}, "1,234.56 ZZZ"},
		{123456, []string{"IDR"}, "1,234.56 IDR"},
		{123456, []string{"IQD"}, "123.456 IQD"},
		{123456, []string{"UYW"}, "12.3456 UYW"},
		{math.MinInt64, []string{"JPY"}, "-9,223,372,036,854,775,808 JPY"},
	}
	for _, tt := range tests {
		if got := money(tt.fen, tt.cur...); got != tt.want {
			t.Errorf("money(%d, %v) = %q, want %q", tt.fen, tt.cur, got, tt.want)
		}
	}
}

func TestDate(t *testing.T) {
	t.Parallel()
	d := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	jan := time.Date(2027, 1, 5, 0, 0, 0, 0, time.UTC)
	at := time.Date(2026, 11, 23, 14, 5, 0, 0, time.FixedZone("CST", 8*3600))
	tests := []struct {
		f    func(string, time.Time) string
		loc  string
		t    time.Time
		want string
	}{
		{formatDate, LocaleZhCN, d, "2026年11月24日"},
		{formatDate, LocaleZhCN, jan, "2027年1月5日"},
		{formatDate, LocaleEn, d, "Nov 24, 2026"},
		{formatDate, LocaleEn, jan, "Jan 5, 2027"},
		{formatDate, LocaleEn, time.Time{}, ""},
		{formatDateTime, LocaleZhCN, at, "2026年11月23日 14:05"},
		{formatDateTime, LocaleEn, at, "Nov 23, 2026 14:05"},
	}
	for _, tt := range tests {
		if got := tt.f(tt.loc, tt.t); got != tt.want {
			t.Errorf("%s %v: %q, want %q", tt.loc, tt.t, got, tt.want)
		}
	}
}

func TestSmallFuncs(t *testing.T) {
	t.Parallel()
	if card("1234") != "****1234" || card("") != "" {
		t.Error("card")
	}
	if abs(-3) != 3 || abs(2) != 2 {
		t.Error("days")
	}
	if plural(1, "day", "days") != "day" || plural(-1, "day", "days") != "day" ||
		plural(0, "day", "days") != "days" || plural(3, "day", "days") != "days" {
		t.Error("plural")
	}
	if reasonPhrase(LocaleZhCN, "insufficient_funds") != "银行卡余额不足" || reasonPhrase(LocaleEn, "x") != "" {
		t.Error("reason")
	}
	for locale, m := range reasons {
		for class := range m {
			for _, other := range Locales() {
				if reasons[other][class] == "" {
					t.Errorf("reason %q has %s but no %s phrase", class, locale, other)
				}
			}
		}
	}
}
