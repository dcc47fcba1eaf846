package repo

import (
	"fmt"
	"testing"
)

// TestReceiptRounds: receipts of one batch wait for an earlier one only
// when they could be copies of it or speak of the same notice. Reports of
// other messages sharing a foreign out-id (another application's constant
// on a shared Aliyun account) went one a round, quadratic in the batch:
// 1,000 took 11 s and the provider's retry of the timed-out batch as long.
func TestReceiptRounds(t *testing.T) {
	var ins []Receipt
	for i := range 1000 {
		ins = append(ins, Receipt{Provider: "aliyun", ProviderMsgID: fmt.Sprintf("other-%d^0", i), OutID: "0", Status: "delivered"})
	}
	ins = append(ins,
		// Copies by message id, and by out-id where there is no message id.
		Receipt{Provider: "aliyun", ProviderMsgID: "biz-1", Status: "delivered"},
		Receipt{Provider: "aliyun", ProviderMsgID: "biz-1", Status: "delivered"},
		Receipt{Provider: "webhook", OutID: "ext-7", Status: "undelivered"},
		Receipt{Provider: "webhook", OutID: "ext-7", Status: "undelivered"},
		// Two messages of one notice of ours.
		Receipt{Provider: "aliyun", ProviderMsgID: "biz-2", OutID: "42", Status: "undelivered"},
		Receipt{Provider: "aliyun", ProviderMsgID: "biz-3", OutID: "42", Status: "delivered"},
	)
	todo := make([]int, len(ins))
	for i := range todo {
		todo[i] = i
	}
	round, rest := receiptRound(ins, todo, map[int]receiptMatch{})
	if len(round) != len(ins)-3 || fmt.Sprint(rest) != "[1001 1003 1005]" {
		t.Errorf("first round of %d receipts, left %d (%v…); want all but the second copy of each and the second report of notice 42",
			len(round), len(rest), rest[:min(len(rest), 8)])
	}
}
