package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"duebell/repo"
)

// importRecord is one parsed import line and the keys that order it
// against the other lines of its chunk.
type importRecord struct {
	kind, ref string
	rank      int      // the order Apply writes kinds in
	writes    []string // what the line stores
	reads     []string // what the line needs stored first
	customer  *repo.ImportCustomer
	plan      *repo.ImportPlan
	payment   *repo.ImportPayment
	event     *repo.ImportEvent
}

// Import line shapes: the single-record endpoints' bodies plus "type" and
// the refs their URLs carry.
type (
	importCustomerLine struct {
		Type string `json:"type"`
		Ref  string `json:"ref"`
		customerBody
	}
	importPlanLine struct {
		Type string `json:"type"`
		Ref  string `json:"ref"`
		planBody
	}
	importPaymentLine struct {
		Type    string `json:"type"`
		PlanRef string `json:"plan_ref"`
		Seq     int    `json:"seq"`
		paymentBody
	}
	importEventLine struct {
		Type string `json:"type"`
		eventBody
	}
)

func (l importCustomerLine) lineType() string { return l.Type }
func (l importPlanLine) lineType() string     { return l.Type }
func (l importPaymentLine) lineType() string  { return l.Type }
func (l importEventLine) lineType() string    { return l.Type }

// decodeTyped decodes line as a T whose "type" must be kind (and appear once).
func decodeTyped[T interface{ lineType() string }](s *server, line []byte, kind string) (T, error) {
	var b T
	if fastDecode(line, &b) {
		if b.lineType() != kind {
			return b, invalid("type", "must appear once")
		}
		return b, nil
	}
	if err := decodeLine(line, &b); err != nil {
		return b, s.lineDecodeError(err)
	}
	if b.lineType() != kind {
		return b, invalid("type", "must appear once")
	}
	return b, nil
}

// parseImportLine decodes and checks line n with the same functions as the
// single-record endpoints. The record's kind and ref are set as far as they
// could be read, also on error.
func (s *server) parseImportLine(n int, line []byte) (importRecord, error) {
	rec := importRecord{kind: lineType(line)}
	if rec.kind == "" {
		var probe struct {
			Type string `json:"type"`
			Ref  string `json:"ref"`
		}
		if err := json.Unmarshal(line, &probe); err != nil {
			return importRecord{}, s.lineDecodeError(err)
		}
		rec = importRecord{kind: probe.Type, ref: probe.Ref}
	}
	rec, err := s.parseTyped(rec, n, line)
	if err != nil && rec.ref == "" {
		var probe struct {
			Ref string `json:"ref"`
		}
		_ = json.Unmarshal(line, &probe)
		rec.ref = probe.Ref
	}
	return rec, err
}

// lineType reads "type" when the line starts with it, as exporters write
// it, sparing a decode; "" when it does not.
func lineType(line []byte) string {
	for _, k := range []string{"customer", "plan", "payment", "event"} {
		if bytes.HasPrefix(line, []byte(`{"type":"`+k+`",`)) {
			return k
		}
	}
	return ""
}

func (s *server) parseTyped(rec importRecord, n int, line []byte) (importRecord, error) {
	switch rec.kind {
	case "customer":
		b, err := decodeTyped[importCustomerLine](s, line, rec.kind)
		if err != nil {
			return rec, err
		}
		if err := fieldRef("ref", b.Ref); err != nil {
			return rec, err
		}
		c, err := s.customerFrom(b.Ref, b.customerBody)
		if err != nil {
			return rec, err
		}
		rec.rank, rec.writes = 0, []string{"c:" + c.Ref}
		rec.customer = &repo.ImportCustomer{Line: n, Customer: c, KeepSMSOptOut: b.SMSOptOut == nil, KeepEmailOptOut: b.EmailOptOut == nil}
	case "plan":
		b, err := decodeTyped[importPlanLine](s, line, rec.kind)
		if err != nil {
			return rec, err
		}
		if err := fieldRef("ref", b.Ref); err != nil {
			return rec, err
		}
		p, err := s.planFrom(b.Ref, b.planBody)
		if err != nil {
			return rec, err
		}
		rec.rank, rec.writes, rec.reads = 1, []string{"p:" + p.Ref}, []string{"c:" + p.CustomerRef}
		rec.plan = &repo.ImportPlan{Line: n, Plan: p}
	case "payment":
		b, err := decodeTyped[importPaymentLine](s, line, rec.kind)
		if err != nil {
			return rec, err
		}
		if err := fieldRef("plan_ref", b.PlanRef); err != nil {
			return rec, err
		}
		if b.Seq < 1 {
			return rec, invalid("seq", "want a positive integer")
		}
		if b.Ref == "" {
			return rec, invalid("ref", "is required in an import: the payment id makes a re-run change nothing")
		}
		in, err := s.paymentFrom(b.PlanRef, b.Seq, b.paymentBody)
		if err != nil {
			return rec, err
		}
		if in.Amount < 0 {
			return rec, invalid("amount", "a reversal is not imported: make it with POST /api/v1/plans/{ref}/installments/{seq}/payments, where it is audited")
		}
		rec.rank = 2
		rec.writes = []string{"i:" + b.PlanRef + ":" + strconv.Itoa(b.Seq)}
		rec.reads = []string{"p:" + b.PlanRef}
		rec.payment = &repo.ImportPayment{Line: n, Payment: in}
	case "event":
		b, err := decodeTyped[importEventLine](s, line, rec.kind)
		if err != nil {
			return rec, err
		}
		in, err := s.eventFrom(b.eventBody)
		if err != nil {
			return rec, err
		}
		rec.rank, rec.writes = 3, []string{"e:" + in.Ref}
		if in.CustomerRef != "" {
			rec.reads = append(rec.reads, "c:"+in.CustomerRef)
		}
		if in.PlanRef != "" {
			rec.reads = append(rec.reads, "p:"+in.PlanRef)
		}
		rec.event = &repo.ImportEvent{Line: n, Event: in}
	case "":
		return rec, invalid("type", "is required: customer, plan, payment or event")
	default:
		return rec, invalid("type", "want customer, plan, payment or event")
	}
	return rec, nil
}

// decodeLine is decode for one line: exactly one JSON object, no unknown fields.
func decodeLine(line []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errTrailing
	}
	return checkKeys(line, true)
}

var errTrailing = errors.New("trailing data")

// lineDecodeError is decodeError with the wording of a line.
func (s *server) lineDecodeError(err error) *apiError {
	if errors.Is(err, errTrailing) {
		return &apiError{http.StatusBadRequest, codeBadJSON, "a line must hold a single JSON object"}
	}
	ae := s.decodeError(err)
	ae.Message = strings.ReplaceAll(ae.Message, "request body", "line")
	return ae
}

// chunker collects records into a batch that Apply may reorder by kind
// (customers, plans, payments, events) without changing what the file
// means: a record that shares a key with a later-applied kind already in
// the batch, or stores a key the batch already stores, starts a new batch.
type chunker struct {
	batch repo.ImportBatch
	keys  map[string]int // key → highest rank that touches it
}

func newChunker() *chunker { return &chunker{keys: map[string]int{}} }

func (c *chunker) fits(rec importRecord) bool {
	for _, k := range rec.writes {
		if r, ok := c.keys[k]; ok && r >= rec.rank {
			return false
		}
	}
	for _, k := range rec.reads {
		if r, ok := c.keys[k]; ok && r > rec.rank {
			return false
		}
	}
	return true
}

func (c *chunker) add(rec importRecord) {
	for _, ks := range [][]string{rec.writes, rec.reads} {
		for _, k := range ks {
			if r, ok := c.keys[k]; !ok || rec.rank > r {
				c.keys[k] = rec.rank
			}
		}
	}
	switch {
	case rec.customer != nil:
		c.batch.Customers = append(c.batch.Customers, *rec.customer)
	case rec.plan != nil:
		c.batch.Plans = append(c.batch.Plans, *rec.plan)
	case rec.payment != nil:
		c.batch.Payments = append(c.batch.Payments, *rec.payment)
	case rec.event != nil:
		c.batch.Events = append(c.batch.Events, *rec.event)
	}
}

// importChunk is a batch and the keys its lines touch: chunks that share
// no key may be applied at the same time, on two connections.
type importChunk struct {
	batch repo.ImportBatch
	keys  map[string]int
}

// overlaps reports whether c and d touch a key in common.
func (c importChunk) overlaps(d importChunk) bool {
	a, b := c.keys, d.keys
	if len(a) > len(b) {
		a, b = b, a
	}
	for k := range a {
		if _, ok := b[k]; ok {
			return true
		}
	}
	return false
}

// reset returns the chunk and starts an empty one.
func (c *chunker) reset() importChunk {
	ch := importChunk{batch: c.batch, keys: c.keys}
	c.batch = repo.ImportBatch{}
	c.keys = make(map[string]int, len(ch.keys))
	return ch
}
