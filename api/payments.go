package api

import (
	"net/http"
	"strings"

	"duebell/internal/input"
	"duebell/repo"
)

type paymentBody struct {
	// Amount in fen: > 0 a payment (at most what is still due), < 0 a
	// reversal such as a chargeback or bank return (needs a reason).
	Amount int64  `json:"amount"`
	PaidAt string `json:"paid_at"` // RFC 3339; default now
	Ref    string `json:"ref"`     // the lender's payment id; makes retries safe
	Reason string `json:"reason"`  // why a reversal is made; audited
}

type paymentResponse struct {
	PlanRef     string           `json:"plan_ref"`
	Installment repo.Installment `json:"installment"`
	Settled     bool             `json:"settled"`
	Reopened    bool             `json:"reopened"`
	Replayed    bool             `json:"replayed"`
	Queued      int              `json:"queued"`
}

// paymentFrom checks a payment body for installment seq of plan ref: a
// payment (amount > 0) or a reversal (amount < 0 with a reason).
func (s *server) paymentFrom(ref string, seq int, b paymentBody) (repo.PaymentInput, error) {
	now := s.cfg.Now()
	in := repo.PaymentInput{PlanRef: ref, Seq: seq, Amount: b.Amount, PaidAt: now, Ref: b.Ref, Now: now,
		Reason: b.Reason, ConfirmChannels: s.cfg.PaymentConfirmChannels}
	switch {
	case b.Amount == 0:
		return in, invalid("amount", "must be a non-zero integer amount in minor units (fen): > 0 a payment, < 0 a reversal")
	case b.Amount < 0 && strings.TrimSpace(b.Reason) == "":
		return in, invalid("reason", "a reversal (negative amount) needs a reason")
	}
	if err := checkText("reason", b.Reason, 500); err != nil {
		return in, err
	}
	mag := b.Amount
	if mag < 0 { // a reversal is bounded alike; clamped first, as -MinInt64 overflows
		mag = -max(mag, -input.MaxAmount-1)
	}
	if err := checkAmount("amount", mag); err != nil {
		return in, err
	}
	if b.Ref != "" {
		if err := checkRef(b.Ref); err != nil {
			return in, invalid("ref", "%s", err)
		}
	}
	paidAt, err := parseInstant("paid_at", b.PaidAt, now)
	if err != nil {
		return in, err
	}
	if paidAt != nil {
		in.PaidAt = *paidAt
	}
	return in, nil
}

// postPayment records a payment or a reversal: 201 when recorded, 200 when
// the ref was already recorded with the same amount (nothing changed). An
// overpayment, or a reversal of more than was paid, is 409.
func (s *server) postPayment(w http.ResponseWriter, r *http.Request) error {
	ref, err := pathRef(r, "ref")
	if err != nil {
		return err
	}
	seq64, ok := input.PositiveInt(r.PathValue("seq"), maxPeriods)
	if !ok {
		return invalid("seq", "want a positive integer up to %d", maxPeriods)
	}
	seq := int(seq64)
	var b paymentBody
	if err := s.decode(w, r, &b); err != nil {
		return err
	}
	in, err := s.paymentFrom(ref, seq, b)
	in.Actor = info(r).token
	if err != nil {
		return err
	}
	res, err := s.cfg.Repo.RecordPayment(r.Context(), in)
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if res.Replayed {
		status = http.StatusOK
	}
	writeJSON(w, status, paymentResponse{PlanRef: ref, Installment: res.Installment,
		Settled: res.Settled, Reopened: res.Reopened, Replayed: res.Replayed, Queued: res.Queued})
	return nil
}
