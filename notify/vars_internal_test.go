package notify

import (
	"testing"
	"time"

	"duebell/kinds"
	"duebell/templates"
)

// Provider template variables carry amounts in the plan's currency's
// decimals, without a symbol (the provider's template has it).
func TestAmountVarsFollowTheCurrency(t *testing.T) {
	t.Parallel()
	for cur, want := range map[string]string{"": "1,234.56", "CNY": "1,234.56", "JPY": "123,456", "BHD": "123.456"} {
		v := buildVars(templates.Data{Kind: "due_soon", Locale: "zh-CN", Currency: cur, Amount: 123456})
		if v["amount"] != want {
			t.Errorf("amount of 123456 %q = %q, want %q", cur, v["amount"], want)
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
			CardLast4: "1234", Link: "https://pay.example.com/x?t=tok", LinkToken: "tok", PaidAmount: 100, PaidAt: at,
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
