package repo

import (
	"strings"
	"unicode/utf8"

	"duebell/phone"
)

// CustomerQuery is what support typed into the customer search, read the way
// FindCustomers reads it in either store.
type CustomerQuery struct {
	Text  string // trimmed; matches a customer ref or plan ref exactly
	Phone string // E.164, when Text is a phone number in any usual form; else ""
	Email string // lower-cased, when Text is an email address; else ""
	// Name is a LIKE pattern (backslash escapes) matching any part of a
	// name, when Text is neither a phone nor an email; else "".
	Name string
}

// ParseCustomerQuery reads q as a name (or part of it), a phone number in
// any form (138 1234 5678, +86 138…, 0086…), an email address, a customer
// ref or a plan ref. ok is false when q is blank, or longer than anything
// stored can be (maxCustomerQuery): nothing is searched.
func ParseCustomerQuery(q string) (cq CustomerQuery, ok bool) {
	q = strings.TrimSpace(q)
	if q == "" || utf8.RuneCountInString(q) > maxCustomerQuery {
		return CustomerQuery{}, false
	}
	cq.Text = q
	if strings.Contains(q, "@") {
		cq.Email = strings.ToLower(q)
	} else if looksLikePhone(q) {
		if norm, err := phone.Normalize(q, "CN"); err == nil {
			cq.Phone = norm
		}
	}
	if cq.Phone == "" && cq.Email == "" {
		cq.Name = "%" + likeEscaper.Replace(q) + "%"
	}
	return cq, true
}

// maxCustomerQuery is the longest search that can match: an email is at
// most 254 characters, a name 200, a ref 128. A longer one finds nothing
// without asking the store (SQLite refuses a LIKE pattern past 50,000 bytes).
const maxCustomerQuery = 254

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// looksLikePhone: digits with the separators people type, at least 7 digits.
func looksLikePhone(s string) bool {
	digits := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case strings.ContainsRune("+-() .", r):
		default:
			return false
		}
	}
	return digits >= 7
}

// EffectBaselineReasons are the suppress reasons that leave an installment
// without a notice for reasons unrelated to its payment: the customer's
// choice or a missing address. (A notice suppressed because the bill was
// paid, or the plan ended, says nothing about reminders.) A notice's reason
// counts by its first ';'-separated part.
func EffectBaselineReasons() []string { return []string{"opted_out", "no_phone", "no_email"} }

// EffectShares pairs per-window counts, in EffectWindows order, with
// EffectWindows; a group without counts (a stage without a baseline) gets
// zero counts.
func EffectShares(elig, paid []int64) []EffectShare {
	out := make([]EffectShare, len(EffectWindows))
	for i, d := range EffectWindows {
		out[i].Days = d
		if i < len(elig) && i < len(paid) {
			out[i].Eligible, out[i].Paid = elig[i], paid[i]
		}
	}
	return out
}
