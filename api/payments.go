package api

import (
	"net/http"
	"strconv"

	"duebell/repo"
)

type paymentBody struct {
	Amount int64  `json:"amount"`
	PaidAt string `json:"paid_at"` // RFC 3339; default now
	Ref    string `json:"ref"`     // the lender's payment id; makes retries safe
}

type paymentResponse struct {
	PlanRef     string           `json:"plan_ref"`
	Installment repo.Installment `json:"installment"`
	Settled     bool             `json:"settled"`
	Replayed    bool             `json:"replayed"`
	Queued      int              `json:"queued"`
}

// paymentFrom checks a payment body for installment seq of plan ref.
func (s *server) paymentFrom(ref string, seq int, b paymentBody) (repo.PaymentInput, error) {
	now := s.cfg.Now()
	in := repo.PaymentInput{PlanRef: ref, Seq: seq, Amount: b.Amount, PaidAt: now, Ref: b.Ref, Now: now,
		ConfirmChannels: s.cfg.PaymentConfirmChannels}
	if b.Amount <= 0 {
		return in, invalid("amount", "must be a positive integer amount in minor units (fen)")
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

// postPayment records a payment: 201 when recorded, 200 when the ref was
// already recorded with the same amount (nothing changed).
func (s *server) postPayment(w http.ResponseWriter, r *http.Request) error {
	ref, err := pathRef(r, "ref")
	if err != nil {
		return err
	}
	seq, err := strconv.Atoi(r.PathValue("seq"))
	if err != nil || seq < 1 {
		return invalid("seq", "want a positive integer")
	}
	var b paymentBody
	if err := s.decode(w, r, &b); err != nil {
		return err
	}
	in, err := s.paymentFrom(ref, seq, b)
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
		Settled: res.Settled, Replayed: res.Replayed, Queued: res.Queued})
	return nil
}
