package main

import (
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// The table marks each target met, missed or not run from the figures a
// run reported, in the direction the target points (a bound reached is met).
func TestTableJudgesEachTarget(t *testing.T) {
	got := table(map[string]float64{
		"Dispatch/sms notices/s":       12_000,
		"Dispatch/email notices/s":     3_848,
		"DispatchOnce/email notices/s": 5_000,
		"DispatchOnce/sms max-rss-MB":  151,
		"FirstSend first-send-ms":      34,
		"DueScan speed-vs-lean":        0.18,
		"Import load-s":                30.5,
		"Dispatch/sms max-rss-MB":      74, // no target
	})
	for _, want := range []string{
		"| Dispatch/sms | SMS/s, in process | 12000 | ≥ 10000 | met |",
		"| Dispatch/email | emails/s, in process | 3848 | ≥ 5000 | missed |",
		"| DispatchOnce/email | emails/s, dispatch --once | 5000 | ≥ 5000 | met |",
		"| DispatchOnce/sms | dispatcher RSS, MB | 151 | ≤ 150 | missed |",
		"| FirstSend | first send after the window opens, ms | 34 | ≤ 1000 | met |",
		"| DueScan | scan speed ÷ lean INSERT … SELECT | 0.18 | ≥ 0.7 | missed |",
		"| Import | import of the plans, s | 30.5 | ≤ 30 | missed |",
		"| Receipts/postgres | receipts in one batch, s | — | ≤ 5 | not run |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
}

// Figures are read by benchmark and unit as the benchmarks print them.
func TestParseKeepsTheUnitsPrinted(t *testing.T) {
	got, err := parse(strings.NewReader("goos: linux\n" +
		"BenchmarkDispatchOnce/sms-2 \t 1 \t 13998008814 ns/op \t 67.41 max-rss-MB \t 7144 notices/s\n" +
		"BenchmarkFirstSend-2 1 658251540 ns/op 34.00 first-send-ms\nPASS\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got["DispatchOnce/sms max-rss-MB"] != 67.41 || got["DispatchOnce/sms notices/s"] != 7144 ||
		got["FirstSend first-send-ms"] != 34 {
		t.Errorf("figures %v", got)
	}
}

// A failed run is noticed in the stream, however it is cut into reads.
func TestFailWatchSeesAFailedRun(t *testing.T) {
	for in, want := range map[string]bool{
		"BenchmarkX-2 1 10 ns/op\nok  \tduebell/bench\t1s\n":         false,
		"--- FAIL: BenchmarkX\n    x_test.go:1: boom\n":              true,
		"BenchmarkX-2 1 10 ns/op\nFAIL\tduebell/bench\t1.0s\nFAIL\n": true,
	} {
		failed := false
		if _, err := io.Copy(io.Discard, &failWatch{r: iotest.OneByteReader(strings.NewReader(in)), failed: &failed}); err != nil {
			t.Fatal(err)
		}
		if failed != want {
			t.Errorf("%q: failed = %v, want %v", in, failed, want)
		}
	}
}
