package notify

import (
	"testing"
	"time"

	"duebell/kinds"
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

// Every variable the registry lists for a kind is one buildVars fills: with
// every field of the data set, none comes out empty.
func TestEveryRegistryVarIsFilled(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 23, 14, 5, 0, 0, time.UTC)
	for _, k := range kinds.All() {
		d := templates.Data{Kind: k.Name, Locale: "en", CustomerName: "Alex", Merchant: "Shop", PlanTitle: "Phone",
			PlanRef: "P1", SupportPhone: "400", Seq: 2, Periods: 12, Amount: 100, DueDate: at, DaysUntilDue: 3,
			CardLast4: "1234", Link: "https://pay.example.com/x", PaidAmount: 100, PaidAt: at,
			AppName: "App", EntryURL: "https://pay.example.com/e", Outstanding: 100}
		v := buildVars(d)
		for _, name := range VarsFor(k.Name) {
			if v[name] == "" {
				t.Errorf("%s: variable %q is listed in the registry but buildVars does not fill it", k.Name, name)
			}
		}
		if len(v) != len(VarsFor(k.Name)) {
			t.Errorf("%s: vars %v, want exactly %v", k.Name, v, VarsFor(k.Name))
		}
	}
}
