package api

import (
	"fmt"
	"net/http"
	"regexp"
	"time"

	"duebell/internal/input"
	"duebell/repo"
)

// maxPeriods bounds a plan (50 years of monthly installments).
const maxPeriods = 600

type planBody struct {
	CustomerRef  string            `json:"customer_ref"`
	Merchant     string            `json:"merchant"`
	Title        string            `json:"title"`
	Currency     string            `json:"currency"`
	Total        int64             `json:"total"`
	Periods      int               `json:"periods"`
	Status       string            `json:"status"`
	RepayMethod  string            `json:"repay_method"`
	CardLast4    string            `json:"card_last4"`
	Installments []installmentBody `json:"installments"`
	// AsOf is when the lender read the data in this push (RFC 3339,
	// optional): a push read before a payment duebell recorded since, or
	// before the last push written, is refused as stale.
	AsOf string `json:"as_of"`
}

type installmentBody struct {
	Seq     int    `json:"seq"`
	DueDate string `json:"due_date"`
	Amount  int64  `json:"amount"`
	Paid    *int64 `json:"paid"` // omitted: keep what is stored
	Status  string `json:"status"`
	PaidAt  string `json:"paid_at"` // optional, RFC 3339, for an installment already paid
}

var (
	currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)
	last4RE    = regexp.MustCompile(`^[0-9]{4}$`)
)

func (s *server) putPlan(w http.ResponseWriter, r *http.Request) error {
	ref, err := pathRef(r, "ref")
	if err != nil {
		return err
	}
	var b planBody
	if err := s.decode(w, r, &b); err != nil {
		return err
	}
	p, err := s.planFrom(ref, b)
	if err != nil {
		return err
	}
	out, err := s.cfg.Repo.UpsertPlan(r.Context(), p, s.cfg.Now())
	if err != nil {
		return err
	}
	writeJSON(w, createdOrOK(out.Created), out)
	return nil
}

// createdOrOK is a PUT's status: 201 when it created the record, 200 when
// it replaced one.
func createdOrOK(created bool) int {
	if created {
		return http.StatusCreated
	}
	return http.StatusOK
}

func (s *server) planFrom(ref string, b planBody) (repo.Plan, error) {
	p := repo.Plan{Ref: ref, CustomerRef: b.CustomerRef, Merchant: b.Merchant, Title: b.Title,
		Currency: or(b.Currency, "CNY"), Total: b.Total, Periods: b.Periods,
		Status: or(b.Status, repo.PlanActive), RepayMethod: or(b.RepayMethod, "manual"), CardLast4: b.CardLast4}
	if err := checkStrings(b); err != nil {
		return p, err
	}
	if err := checkRef(p.CustomerRef); err != nil {
		return p, invalid("customer_ref", "%s", err)
	}
	if err := s.checkMessageText("merchant", p.Merchant, 200); err != nil {
		return p, err
	}
	if err := s.checkMessageText("title", p.Title, 200); err != nil {
		return p, err
	}
	switch {
	case !currencyRE.MatchString(p.Currency):
		return p, invalid("currency", "want a 3-letter upper-case ISO 4217 code such as CNY")
	case input.Amount(p.Total) != nil:
		return p, checkAmount("total", p.Total)
	case p.Periods <= 0 || p.Periods > maxPeriods:
		return p, invalid("periods", "want 1 to %d", maxPeriods)
	case p.Status != repo.PlanActive && p.Status != repo.PlanCancelled && p.Status != repo.PlanClosed:
		return p, invalid("status", "want active, cancelled or closed")
	case p.RepayMethod != "auto_debit" && p.RepayMethod != "manual":
		return p, invalid("repay_method", "want auto_debit or manual")
	case p.CardLast4 != "" && !last4RE.MatchString(p.CardLast4):
		return p, invalid("card_last4", "want 4 digits or empty")
	case len(b.Installments) != p.Periods:
		return p, invalid("installments", "want exactly periods (%d) installments, got %d", p.Periods, len(b.Installments))
	}
	now := s.cfg.Now()
	var err error
	if p.AsOf, err = parseAsOf("as_of", b.AsOf, now); err != nil {
		return p, err
	}
	seen := make([]bool, p.Periods+1)
	for i, ib := range b.Installments {
		it, err := installmentFrom(fmt.Sprintf("installments[%d]", i), ib, p.Periods, seen, now)
		if err != nil {
			return p, err
		}
		p.Installments = append(p.Installments, it)
	}
	return p, nil
}

func installmentFrom(field string, b installmentBody, periods int, seen []bool, now time.Time) (repo.Installment, error) {
	it := repo.Installment{Seq: b.Seq, Amount: b.Amount, Status: or(b.Status, repo.InstallmentPending)}
	if b.Paid != nil {
		it.Paid = *b.Paid
	} else {
		it.KeepPaid = true
	}
	switch {
	case b.Seq < 1 || b.Seq > periods:
		return it, invalid(field+".seq", "want 1 to periods (%d)", periods)
	case seen[b.Seq]:
		return it, invalid(field+".seq", "%d appears twice", b.Seq)
	case input.Amount(b.Amount) != nil:
		return it, checkAmount(field+".amount", b.Amount)
	case input.Amount(it.Paid) != nil:
		return it, checkAmount(field+".paid", it.Paid)
	case it.Paid > b.Amount:
		return it, invalid(field+".paid", "must not exceed amount")
	case it.Status != repo.InstallmentPending && it.Status != repo.InstallmentPaid && it.Status != repo.InstallmentWaived:
		return it, invalid(field+".status", "want pending, paid or waived")
	}
	seen[b.Seq] = true
	d, err := parseDate(field+".due_date", b.DueDate)
	if err != nil {
		return it, err
	}
	it.DueDate = d
	if it.PaidAt, err = parseInstant(field+".paid_at", b.PaidAt, now); err != nil {
		return it, err
	}
	return it, nil
}

func (s *server) getPlan(w http.ResponseWriter, r *http.Request) error {
	ref, err := pathRef(r, "ref")
	if err != nil {
		return err
	}
	p, err := s.cfg.Repo.GetPlan(r.Context(), ref)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
