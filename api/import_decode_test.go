package api

import (
	"bufio"
	"bytes"
	"reflect"
	"testing"
	"time"

	"duebell/bench/importgen"
)

var fastDecodeSeeds = []string{
	`{"type":"customer","ref":"c1","name":"李雷","phone":"+8613812345678","email":"li@example.com","locale":"en","timezone":"Asia/Shanghai","sms_opt_out":true,"email_opt_out":false}`,
	`{"type":"customer","ref":"c1","email":"li@example.com"}`,
	` { "type" : "customer" , "ref" : "c1" } `,
	`{"type":"customer","ref":"c1","Name":"case folded by encoding/json"}`,
	`{"type":"customer","ref":"c1","name":"\u674e escaped"}`,
	`{"type":"customer","ref":"c1","name":null}`,
	`{"type":"customer","type":"plan","ref":"c1"}`,
	`{"type":"customer","ref":"c1","colour":"red"}`,
	`{"type":"customer","ref":"c1","sms_opt_out":"yes"}`,
	`{"type":"customer","ref":"c1","sms_opt_out":truex}`,
	"{\"type\":\"customer\",\"ref\":\"c1\",\"name\":\"\xff\"}",
	`{"type":"customer","ref":"c1"} {}`,
	`{"type":"customer","ref":"c1"`,
	`{"type":"plan","ref":"p1","customer_ref":"c1","merchant":"优品","title":"iPhone","currency":"CNY","total":20000,"periods":2,"status":"active","repay_method":"auto_debit","card_last4":"1234","installments":[{"seq":1,"due_date":"2025-04-15","amount":10000,"paid":10000,"status":"paid","paid_at":"2025-03-10T01:00:00Z"},{"seq":2,"due_date":"2025-05-15","amount":10000}]}`,
	`{"type":"plan","ref":"p1","customer_ref":"c1","total":0,"periods":1,"installments":[]}`,
	`{"type":"plan","ref":"p1","installments":null}`,
	`{"type":"plan","ref":"p1","total":1.0}`,
	`{"type":"plan","ref":"p1","total":1e3}`,
	`{"type":"plan","ref":"p1","total":-0}`,
	`{"type":"plan","ref":"p1","total":01}`,
	`{"type":"plan","ref":"p1","total":-9223372036854775808}`,
	`{"type":"plan","ref":"p1","total":9223372036854775808}`,
	`{"type":"plan","ref":"p1","periods":"2"}`,
	`{"type":"plan","ref":"p1","installments":[{"seq":1,"seq":2}]}`,
	`{"type":"plan","ref":"p1","installments":[{"seq":1,"paid":null}]}`,
	`{"type":"plan","ref":"p1","installments":[{"seq":1},]}`,
	`{"type":"plan","ref":"p1","installments":[{}]}`,
	`{"type":"plan","ref":"p1","customer_ref":"c1","periods":1,"installments":[{"seq":1,"due_date":"2025-04-15","amount":10000}],"as_of":"2025-03-10T01:59:00Z"}`,
	`{"type":"plan","ref":"p1","as_of":null}`,
	`{"type":"plan","ref":"p1","as_of":1741572000}`,
	`{"type":"plan","ref":"p1","as_of":"a","as_of":"b"}`,
}

// FuzzFastDecodeMatchesEncodingJSON holds the import's fast line decoder
// to encoding/json: a line it takes decodes to exactly what decodeLine
// (encoding/json, unknown fields refused) makes of it, so every check after
// the decode sees the same record either way.
func FuzzFastDecodeMatchesEncodingJSON(f *testing.F) {
	for _, s := range fastDecodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		sameDecode[importCustomerLine](t, line)
		sameDecode[importPlanLine](t, line)
	})
}

func sameDecode[T any](t *testing.T, line []byte) bool {
	t.Helper()
	var fast, std T
	if !fastDecode(line, &fast) {
		return false
	}
	if err := decodeLine(line, &std); err != nil {
		t.Fatalf("fast decoder took %q, encoding/json refuses it: %v", line, err)
	}
	if !reflect.DeepEqual(fast, std) {
		t.Fatalf("%q:\nfast decoder %+v\nencoding/json %+v", line, fast, std)
	}
	return true
}

// The lines an exporter writes (the benchmark's generated book) take the
// fast path, and decode as encoding/json decodes them.
func TestFastDecodeTakesGeneratedBook(t *testing.T) {
	var buf bytes.Buffer
	if err := importgen.Write(&buf, importgen.Options{Plans: 50, Installments: 12, Now: time.Date(2025, 3, 10, 2, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&buf)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		line := sc.Bytes()
		if !sameDecode[importCustomerLine](t, line) && !sameDecode[importPlanLine](t, line) {
			t.Errorf("line %d took the slow path: %s", n+1, line)
		}
		n++
	}
	if n != 100 {
		t.Errorf("%d lines, want 100", n)
	}
}
