// Command benchtable passes `go test -bench` output through and, at its
// end, prints the figures the throughput issue names beside their targets,
// as a Markdown table: `make bench` pipes its benchmarks into it. It exits
// 1 when the benchmarks failed (a FAIL line), so the pipe keeps go test's
// verdict.
package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/perf/benchfmt"
)

// target is one figure the issue sets: the benchmark (its name without the
// -GOMAXPROCS suffix), the unit it reports, and the bound.
type target struct {
	bench, unit, what string
	atLeast           bool // the figure must reach bound (else: stay within it)
	bound             float64
}

var targets = []target{
	{"Dispatch/sms", "notices/s", "SMS/s, in process", true, 10_000},
	{"Dispatch/email", "notices/s", "emails/s, in process", true, 5_000},
	{"DispatchOnce/sms", "notices/s", "SMS/s, dispatch --once", true, 10_000},
	{"DispatchOnce/sms", "max-rss-MB", "dispatcher RSS, MB", false, 150},
	{"DispatchOnce/email", "notices/s", "emails/s, dispatch --once", true, 5_000},
	{"DispatchOnce/email", "max-rss-MB", "dispatcher RSS, MB", false, 150},
	{"FirstSend", "first-send-ms", "first send after the window opens, ms", false, 1_000},
	{"DueScan", "speed-vs-lean", "scan speed ÷ lean INSERT … SELECT", true, 0.7},
	{"Import", "load-s", "import of the plans, s", false, 30},
	{"Receipts/postgres", "batch-s", "receipts in one batch, s", false, 5},
}

func main() {
	failed := false
	figures, err := parse(&failWatch{r: io.TeeReader(os.Stdin, os.Stdout), failed: &failed})
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
	fmt.Print(table(figures))
	if f, ok := figures["DueScan floor-vs-lean"]; ok {
		fmt.Printf("\nDueScan's yardstick: a bare queue (the unique key, a primary key and the claim's index, nothing else) inserts at %s× the lean table's speed.\n", figure(f))
	}
	if n, ok := figures["DueScan installments"]; ok && n != 100_000 {
		fmt.Printf("\nThis run seeded %.0f installments; the targets are set for the default 100,000 (and 20,000 receipts).\n", n)
	}
	if failed {
		os.Exit(1)
	}
}

// parse reads benchmark results into figures by "name unit" (the name
// without "Benchmark" and the -GOMAXPROCS suffix, the unit as printed).
func parse(r io.Reader) (map[string]float64, error) {
	figures := map[string]float64{}
	rd := benchfmt.NewReader(r, "stdin")
	for rd.Scan() {
		res, ok := rd.Result().(*benchfmt.Result)
		if !ok {
			continue
		}
		name := strings.TrimPrefix(string(res.Name.Full()), "Benchmark")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			name = name[:i]
		}
		for _, v := range res.Values {
			unit, value := v.Unit, v.Value
			if v.OrigUnit != "" { // the reader turns "max-rss-MB" into bytes
				unit, value = v.OrigUnit, v.OrigValue
			}
			figures[name+" "+unit] = value
		}
	}
	return figures, rd.Err()
}

// figure prints a figure to four significant digits, and a large one whole
// (11048, not 1.105e+04).
func figure(v float64) string {
	if v >= 1000 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.4g", v)
}

// table is the Markdown table of targets, each with its figure (— when the
// run did not report it) and whether it is met.
func table(figures map[string]float64) string {
	var b strings.Builder
	b.WriteString("\n| benchmark | figure | this run | target | |\n|---|---|---|---|---|\n")
	for _, t := range targets {
		v, ok := figures[t.bench+" "+t.unit]
		got, verdict := "—", "not run"
		if ok {
			got, verdict = figure(v), "missed"
			if t.atLeast && v >= t.bound || !t.atLeast && v <= t.bound {
				verdict = "met"
			}
		}
		cmp := "≤"
		if t.atLeast {
			cmp = "≥"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s %g | %s |\n", t.bench, t.what, got, cmp, t.bound, verdict)
	}
	return b.String()
}

// failWatch reads r and notes a go test failure line ("FAIL", "--- FAIL").
type failWatch struct {
	r      io.Reader
	failed *bool
	line   []byte
}

func (f *failWatch) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	for _, c := range p[:n] {
		if c != '\n' {
			f.line = append(f.line, c)
			continue
		}
		if s := string(f.line); strings.HasPrefix(s, "FAIL") || strings.HasPrefix(s, "--- FAIL") {
			*f.failed = true
		}
		f.line = f.line[:0]
	}
	return n, err
}
