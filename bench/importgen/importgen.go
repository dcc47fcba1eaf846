// Package importgen writes a lender's nightly book as NDJSON for
// `duebell import` and POST /api/v1/import: one customer line followed by
// its plan line, monthly installments starting some months back, the past
// ones paid.
package importgen

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Options shape the generated book.
type Options struct {
	Plans        int       // one customer per plan
	Installments int       // per plan
	Start        time.Time // first due date; default 90 days before Now
	Now          time.Time // default time.Now; nothing is paid after it
	Prefix       string    // ref prefix, so several books can share a schema
}

type customer struct {
	Type   string `json:"type"`
	Ref    string `json:"ref"`
	Name   string `json:"name"`
	Phone  string `json:"phone"`
	Email  string `json:"email"`
	Locale string `json:"locale"`
}

type installment struct {
	Seq     int    `json:"seq"`
	DueDate string `json:"due_date"`
	Amount  int64  `json:"amount"`
	Paid    int64  `json:"paid,omitempty"`
	Status  string `json:"status,omitempty"`
	PaidAt  string `json:"paid_at,omitempty"`
}

type plan struct {
	Type         string        `json:"type"`
	Ref          string        `json:"ref"`
	CustomerRef  string        `json:"customer_ref"`
	Merchant     string        `json:"merchant"`
	Title        string        `json:"title"`
	Total        int64         `json:"total"`
	Periods      int           `json:"periods"`
	RepayMethod  string        `json:"repay_method"`
	CardLast4    string        `json:"card_last4,omitempty"`
	Installments []installment `json:"installments"`
}

var surnames = []string{"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周"}

// Write writes o.Plans customer and plan lines to w.
func Write(w io.Writer, o Options) error {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.Start.IsZero() {
		o.Start = o.Now.AddDate(0, 0, -90)
	}
	o.Start = time.Date(o.Start.Year(), o.Start.Month(), o.Start.Day(), 0, 0, 0, 0, time.UTC)
	if o.Installments <= 0 {
		o.Installments = 12
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	enc := json.NewEncoder(bw)
	for i := 1; i <= o.Plans; i++ {
		cref := fmt.Sprintf("%sc%07d", o.Prefix, i)
		c := customer{Type: "customer", Ref: cref, Name: surnames[i%len(surnames)] + "先生",
			Phone: fmt.Sprintf("+86139%08d", i%100_000_000), Email: fmt.Sprintf("b%d@example.net", i), Locale: "zh-CN"}
		if i%5 == 0 {
			c.Locale, c.Name = "en", fmt.Sprintf("Borrower %d", i)
		}
		if err := enc.Encode(c); err != nil {
			return err
		}
		amount := int64(20000 + (i%50)*1000)
		p := plan{Type: "plan", Ref: fmt.Sprintf("%sp%07d", o.Prefix, i), CustomerRef: cref, Merchant: "优品手机",
			Title: "iPhone 17 分期", Total: amount * int64(o.Installments), Periods: o.Installments, RepayMethod: "manual"}
		if i%3 == 0 {
			p.RepayMethod, p.CardLast4 = "auto_debit", fmt.Sprintf("%04d", i%10000)
		}
		first := o.Start.AddDate(0, 0, i%28)
		for s := 1; s <= o.Installments; s++ {
			due := first.AddDate(0, s-1, 0)
			it := installment{Seq: s, DueDate: due.Format("2006-01-02"), Amount: amount}
			if due.Before(o.Now.AddDate(0, 0, -1)) && i%10 != 0 { // one borrower in ten is behind
				it.Paid, it.Status, it.PaidAt = amount, "paid", due.Add(10*time.Hour).Format(time.RFC3339)
			}
			p.Installments = append(p.Installments, it)
		}
		if err := enc.Encode(p); err != nil {
			return err
		}
	}
	return bw.Flush()
}
