package api

import (
	"strconv"
	"unicode/utf8"
)

// A nightly book is customer and plan lines in the plain shape exporters
// write: keys spelled as documented, each once, strings without escapes,
// integers as integers. fastDecode reads such a line in one pass without
// reflection and gives exactly what encoding/json gives for it; any other
// line (an escape, a null, another spelling of a key, an unknown key, bad
// JSON…) makes it answer false, and decodeLine decodes the line as before,
// with the same errors.
func fastDecode(line []byte, dst any) bool {
	s := &lineScan{b: line}
	switch d := dst.(type) {
	case *importCustomerLine:
		var v importCustomerLine
		s.customer(&v)
		if s.end() {
			*d = v
			return true
		}
	case *importPlanLine:
		var v importPlanLine
		s.plan(&v)
		if s.end() {
			*d = v
			return true
		}
	}
	return false
}

// lineScan reads JSON from b at i; bad is set at the first thing it does
// not take, and every later read is a no-op.
type lineScan struct {
	b   []byte
	i   int
	bad bool
}

func (s *lineScan) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// next consumes c, the next byte after white space, if it is there.
func (s *lineScan) next(c byte) bool {
	if s.bad {
		return false
	}
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// end reports a clean read up to the end of the line.
func (s *lineScan) end() bool {
	s.ws()
	return !s.bad && s.i == len(s.b)
}

// str reads a string with no escape, no control character and valid
// UTF-8 (encoding/json would replace invalid bytes: left to it).
func (s *lineScan) str() string {
	if !s.next('"') {
		s.bad = true
		return ""
	}
	start := s.i
	for j := start; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			v := s.b[start:j]
			if !utf8.Valid(v) {
				s.bad = true
				return ""
			}
			s.i = j + 1
			return string(v)
		case c == '\\' || c < 0x20:
			s.bad = true
			return ""
		}
	}
	s.bad = true
	return ""
}

// int reads an integer: -?(0|[1-9][0-9]*) that fits 64 bits, followed by
// no fraction or exponent.
func (s *lineScan) int() int64 {
	if s.bad {
		return 0
	}
	s.ws()
	start, j := s.i, s.i
	if j < len(s.b) && s.b[j] == '-' {
		j++
	}
	digits := j
	for j < len(s.b) && s.b[j] >= '0' && s.b[j] <= '9' {
		j++
	}
	if j == digits || (s.b[digits] == '0' && j > digits+1) ||
		(j < len(s.b) && (s.b[j] == '.' || s.b[j] == 'e' || s.b[j] == 'E')) {
		s.bad = true
		return 0
	}
	v, err := strconv.ParseInt(string(s.b[start:j]), 10, 64)
	if err != nil {
		s.bad = true
		return 0
	}
	s.i = j
	return v
}

// intOf is int for a Go int (encoding/json refuses what overflows it).
func (s *lineScan) intOf() int {
	v := s.int()
	if int64(int(v)) != v {
		s.bad = true
	}
	return int(v)
}

// bool reads true or false.
func (s *lineScan) bool() *bool {
	if s.bad {
		return nil
	}
	s.ws()
	for _, lit := range []string{"true", "false"} {
		if len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
			s.i += len(lit)
			v := lit == "true"
			return &v
		}
	}
	s.bad = true
	return nil
}

// object reads an object whose keys are each in keys, once; field reads
// the value of key number k.
func (s *lineScan) object(keys []string, field func(k int)) {
	if !s.next('{') {
		s.bad = true
		return
	}
	if s.next('}') {
		return
	}
	var seen uint64
	for !s.bad {
		key := s.str()
		k := -1
		for i, name := range keys {
			if key == name {
				k = i
				break
			}
		}
		if k < 0 || seen&(1<<k) != 0 || !s.next(':') {
			s.bad = true
			return
		}
		seen |= 1 << k
		field(k)
		if s.next(',') {
			continue
		}
		if !s.next('}') {
			s.bad = true
		}
		return
	}
}

var customerLineKeys = []string{"type", "ref", "name", "phone", "email", "locale", "timezone", "sms_opt_out", "email_opt_out"}

func (s *lineScan) customer(v *importCustomerLine) {
	s.object(customerLineKeys, func(k int) {
		switch k {
		case 0:
			v.Type = s.str()
		case 1:
			v.Ref = s.str()
		case 2:
			v.Name = s.str()
		case 3:
			v.Phone = s.str()
		case 4:
			v.Email = s.str()
		case 5:
			v.Locale = s.str()
		case 6:
			v.Timezone = s.str()
		case 7:
			v.SMSOptOut = s.bool()
		case 8:
			v.EmailOptOut = s.bool()
		}
	})
}

var planLineKeys = []string{"type", "ref", "customer_ref", "merchant", "title", "currency", "total", "periods",
	"status", "repay_method", "card_last4", "installments", "as_of"}

func (s *lineScan) plan(v *importPlanLine) {
	s.object(planLineKeys, func(k int) {
		switch k {
		case 0:
			v.Type = s.str()
		case 1:
			v.Ref = s.str()
		case 2:
			v.CustomerRef = s.str()
		case 3:
			v.Merchant = s.str()
		case 4:
			v.Title = s.str()
		case 5:
			v.Currency = s.str()
		case 6:
			v.Total = s.int()
		case 7:
			v.Periods = s.intOf()
		case 8:
			v.Status = s.str()
		case 9:
			v.RepayMethod = s.str()
		case 10:
			v.CardLast4 = s.str()
		case 11:
			v.Installments = s.installments()
		case 12:
			v.AsOf = s.str()
		}
	})
}

var installmentKeys = []string{"seq", "due_date", "amount", "paid", "status", "paid_at"}

// installments reads an array of installments; [] is an empty slice, as
// encoding/json makes it.
func (s *lineScan) installments() []installmentBody {
	if !s.next('[') {
		s.bad = true
		return nil
	}
	out := make([]installmentBody, 0, 12)
	if s.next(']') {
		return out
	}
	for !s.bad {
		var it installmentBody
		s.object(installmentKeys, func(k int) {
			switch k {
			case 0:
				it.Seq = s.intOf()
			case 1:
				it.DueDate = s.str()
			case 2:
				it.Amount = s.int()
			case 3:
				p := s.int()
				it.Paid = &p
			case 4:
				it.Status = s.str()
			case 5:
				it.PaidAt = s.str()
			}
		})
		out = append(out, it)
		if s.next(',') {
			continue
		}
		if !s.next(']') {
			s.bad = true
		}
		break
	}
	return out
}
