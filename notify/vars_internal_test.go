package notify

import (
	"testing"
	"time"

	"duebell/templates"
)

func TestFormatAmountGroupsThousands(t *testing.T) {
	t.Parallel()
	for fen, want := range map[int64]string{0: "0.00", 5: "0.05", 123456: "1,234.56", 100000000: "1,000,000.00", -250: "-2.50"} {
		if got := formatAmount(fen); got != want {
			t.Errorf("formatAmount(%d) = %q, want %q", fen, got, want)
		}
	}
}

func TestBuildVarsPerKind(t *testing.T) {
	t.Parallel()
	paid := time.Date(2026, 11, 23, 14, 5, 0, 0, time.UTC)
	v := buildVars(templates.Data{Kind: "payment_received", Locale: "zh-CN", Amount: 50000, PaidAmount: 123456,
		PaidAt: paid, Seq: 2, Periods: 12, Link: "https://pay.example.com/x"})
	if v["paid_amount"] != "1,234.56" || v["paid_at"] != "2026年11月23日 14:05" || v["seq"] != "2" {
		t.Errorf("payment_received vars %v", v)
	}
	if _, ok := v["link"]; ok {
		t.Errorf("payment_received carries a link var: %v", v)
	}
	v = buildVars(templates.Data{Kind: "overdue", Locale: "en", DaysUntilDue: -5, Amount: 1})
	if v["days"] != "5" || v["amount"] != "0.01" {
		t.Errorf("overdue vars %v", v)
	}
}
