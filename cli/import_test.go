package cli

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"duebell/api"
	"duebell/repo/repotest"
)

const importFile = `{"type":"customer","ref":"c1","name":"李雷","phone":"+8613812345678"}
{"type":"plan","ref":"p1","customer_ref":"c1","merchant":"Shop","title":"Phone","total":20000,"periods":2,"installments":[{"seq":1,"due_date":"2026-12-15","amount":10000},{"seq":2,"due_date":"2027-01-15","amount":10000}]}
{"type":"payment","plan_ref":"p1","seq":1,"amount":10000,"ref":"pay-1"}
`

func TestImportCommand(t *testing.T) {
	r, schema := repotest.NewWithURL(t)
	config := outboxConfig(t, schema)
	dir := t.TempDir()
	good := filepath.Join(dir, "book.ndjson")
	if err := os.WriteFile(good, []byte(importFile), 0o600); err != nil {
		t.Fatal(err)
	}
	count := func(table string) int {
		var n int
		if err := r.DB().Get(&n, `SELECT count(*) FROM `+table); err != nil {
			t.Fatal(err)
		}
		return n
	}

	code, out, stderr := runMain("import", good, "--dry-run", "--config", config)
	if code != 0 || !strings.Contains(out, "created 3") || !strings.Contains(out, "dry run") || count("customers") != 0 {
		t.Fatalf("dry run: exit %d %q %q, %d customers", code, out, stderr, count("customers"))
	}
	code, out, stderr = runMain("import", "--config", config, good)
	if code != 0 || !strings.Contains(out, "created 3, updated 0, unchanged 0, refused 0 (committed)") || count("installments") != 2 || count("payments") != 1 {
		t.Fatalf("import: exit %d %q %q", code, out, stderr)
	}
	code, out, _ = runMain("import", good, "--config", config)
	if code != 0 || !strings.Contains(out, "created 0, updated 0, unchanged 3") {
		t.Errorf("second import: exit %d %q", code, out)
	}

	bad := filepath.Join(dir, "bad.ndjson")
	if err := os.WriteFile(bad, []byte(importFile+`{"type":"plan","ref":"p2","customer_ref":"ghost","total":1,"periods":1,"installments":[{"seq":1,"due_date":"2026-12-15","amount":1}]}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, stderr = runMain("import", bad, "--config", config)
	if code != 1 || !strings.Contains(out, `line 4 plan p2: not_found: customer "ghost" not found`) || !strings.Contains(stderr, "1 of 4 lines refused") {
		t.Errorf("refused line: exit %d %q %q", code, out, stderr)
	}
	// A refused line's ref is printed escaped, never as the terminal control
	// sequence a crafted file puts in it.
	hostile := filepath.Join(dir, "hostile.ndjson")
	if err := os.WriteFile(hostile, []byte(`{"type":"customer","ref":"e\u001b]0;pwned\u0007\u001b[2J","name":"Y"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runMain("import", hostile, "--config", config)
	if code != 1 || strings.ContainsAny(out, "\x1b\x07") || !strings.Contains(out, `line 1 customer "e\x1b]0;pwned\a\x1b[2J"`) {
		t.Errorf("refused hostile ref: exit %d %q", code, out)
	}
	if code, _, stderr = runMain("import", "--config", config); code != 2 || !strings.Contains(stderr, "want a file") {
		t.Errorf("no file: exit %d %q", code, stderr)
	}
}

// Off a terminal, progress is a plain line every few seconds.
func TestImportProgressPlainLines(t *testing.T) {
	var out bytes.Buffer
	now := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	p := newImportProgress(&out, 1000, func() time.Time { return now })
	p.update(api.ImportProgress{Lines: 10, Bytes: 100})
	if out.Len() != 0 {
		t.Errorf("progress printed before %s: %q", progressEvery, out.String())
	}
	now = now.Add(10 * time.Second)
	p.update(api.ImportProgress{Lines: 5000, Bytes: 2_000_000})
	if got := out.String(); got != "progress: 5000 records, 2.0 MB, 500 records/s\n" {
		t.Errorf("progress line %q", got)
	}
}

// TestImportCommandReadsGzip: `duebell import book.ndjson.gz` read the
// compressed bytes as NDJSON and refused every "line"; a gzip file is now
// read decompressed, and a corrupt one stops the import with exit 1 and a
// message that says so.
func TestImportCommandReadsGzip(t *testing.T) {
	r, schema := repotest.NewWithURL(t)
	config := outboxConfig(t, schema)
	dir := t.TempDir()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write([]byte(importFile))
	_ = zw.Close()
	gz := filepath.Join(dir, "book.ndjson.gz")
	if err := os.WriteFile(gz, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runMain("import", gz, "--config", config)
	var n int
	if err := r.DB().Get(&n, `SELECT count(*) FROM installments`); err != nil {
		t.Fatal(err)
	}
	if code != 0 || !strings.Contains(out, "created 3, updated 0, unchanged 0, refused 0 (committed)") || n != 2 {
		t.Fatalf("gzip import: exit %d %q %q, %d installments", code, out, stderr, n)
	}
	cut := filepath.Join(dir, "cut.ndjson.gz")
	if err := os.WriteFile(cut, buf.Bytes()[:buf.Len()-12], 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, stderr = runMain("import", cut, "--atomic", "--config", config); code != 1 || !strings.Contains(stderr, "gzip") {
		t.Errorf("cut-off gzip: exit %d %q %q", code, out, stderr)
	}
}

// A file that is not there is named once, as the system says it.
func TestImportCommandMissingFile(t *testing.T) {
	_, schema := repotest.NewWithURL(t)
	missing := filepath.Join(t.TempDir(), "book.ndjson")
	code, _, stderr := runMain("import", missing, "--config", outboxConfig(t, schema))
	if want := "duebell import: open " + missing + ": no such file or directory\n"; code != 1 || stderr != want {
		t.Fatalf("exit %d, stderr %q; want 1 and %q", code, stderr, want)
	}
}

// runMainWithin is runMain that gives up after d (or near the test's
// deadline): a command that never ends fails the test instead of hanging
// the suite. The command's goroutine is left behind when it times out.
func runMainWithin(t *testing.T, d time.Duration, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	if dl, ok := t.Deadline(); ok && time.Until(dl)-5*time.Second < d {
		d = max(time.Until(dl)-5*time.Second, time.Second)
	}
	type result struct {
		code        int
		out, errOut string
	}
	done := make(chan result, 1)
	go func() {
		code, out, errOut := runMain(args...)
		done <- result{code, out, errOut}
	}()
	select {
	case r := <-done:
		return r.code, r.out, r.errOut
	case <-time.After(d):
		t.Fatalf("%v still running after %s", args, d)
		return 0, "", ""
	}
}

// TestImportStopsAtAnOverlongLine: a line over http.max_body_bytes was
// read to its newline and refused, so `duebell import /dev/zero` (or a
// file with no newline) read forever. The import now stops at that line,
// naming it, with exit 1, having read at most the limit of it.
func TestImportStopsAtAnOverlongLine(t *testing.T) {
	r, schema := repotest.NewWithURL(t)
	config := outboxConfig(t, schema)
	dir := t.TempDir()
	const max = api.DefaultMaxBodyBytes
	wantLong := func(line int) string {
		return fmt.Sprintf("import stopped at line %d: line is longer than %d bytes (http.max_body_bytes)", line, max)
	}

	if _, err := os.Stat("/dev/zero"); err == nil {
		code, out, stderr := runMainWithin(t, 30*time.Second, "import", "/dev/zero", "--config", config)
		if code != 1 || !strings.Contains(stderr, wantLong(1)) || !strings.Contains(out, "0 records") {
			t.Errorf("/dev/zero: exit %d %q %q; want 1 and %q", code, out, stderr, wantLong(1))
		}
	}

	// Zeros compressed: what the gzip expands to is held to the same rule.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(make([]byte, 8*max))
	_ = zw.Close()
	bomb := filepath.Join(dir, "zeros.ndjson.gz")
	if err := os.WriteFile(bomb, gz.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, stderr := runMainWithin(t, 30*time.Second, "import", bomb, "--config", config); code != 1 || !strings.Contains(stderr, wantLong(1)) {
		t.Errorf("gzip of zeros: exit %d %q %q; want 1 and %q", code, out, stderr, wantLong(1))
	}

	// An over-long line between good ones stops the import at it (in an
	// atomic import nothing is written), and says which line it is.
	lines := strings.SplitAfter(importFile, "\n")
	long := filepath.Join(dir, "long.ndjson")
	body := lines[0] + `{"type":"customer","ref":"c2","name":"` + strings.Repeat("x", max) + "\"}\n" + lines[1]
	if err := os.WriteFile(long, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runMainWithin(t, 30*time.Second, "import", long, "--atomic", "--config", config)
	var n int
	if err := r.DB().Get(&n, `SELECT count(*) FROM customers`); err != nil {
		t.Fatal(err)
	}
	if code != 1 || !strings.Contains(stderr, wantLong(2)) || !strings.Contains(out, "nothing written") || n != 0 {
		t.Errorf("over-long line 2: exit %d %q %q, %d customers; want 1, %q and nothing written", code, out, stderr, n, wantLong(2))
	}

	// A line of exactly the limit is not over it (here blank: skipped).
	exact := filepath.Join(dir, "exact.ndjson")
	if err := os.WriteFile(exact, []byte(lines[0]+strings.Repeat(" ", max)+"\n"+lines[1]+lines[2]), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, stderr := runMainWithin(t, 30*time.Second, "import", exact, "--config", config); code != 0 || !strings.Contains(out, "created 3, updated 0, unchanged 0, refused 0 (committed)") {
		t.Errorf("a line of %d bytes: exit %d %q %q; want it read", max, code, out, stderr)
	}
}

// The file may stand after any flag, --workers included: `duebell import
// --workers 4 book.ndjson` took 4 for the file and refused book.ndjson as
// the value of --workers.
func TestImportFileAfterAValueFlag(t *testing.T) {
	_, schema := repotest.NewWithURL(t)
	config := outboxConfig(t, schema)
	good := filepath.Join(t.TempDir(), "book.ndjson")
	if err := os.WriteFile(good, []byte(importFile), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runMain("import", "--workers", "3", "--chunk", "1", good, "--config", config)
	if code != 0 || !strings.Contains(out, "created 3, updated 0, unchanged 0, refused 0 (committed)") {
		t.Fatalf("import --workers 3 --chunk 1 FILE: exit %d %q %q", code, out, stderr)
	}
}

// lineLimitReader passes every line of up to max bytes, in one read or
// byte by byte, and stops at the first longer one, naming it, with the
// lines before it and the first max bytes of it passed on.
func TestLineLimitReader(t *testing.T) {
	for _, tc := range []struct {
		in, pass string
		line     int // the over-long line, 0 for none
	}{
		{"abcd\nefgh\n", "abcd\nefgh\n", 0},
		{"abcd\n\nefgh", "abcd\n\nefgh", 0},
		{"abcd\r\n", "abcd", 1},
		{"abcd\nefghi\nj\n", "abcd\nefgh", 2},
		{"a\nb\nc\n" + strings.Repeat("\x00", 100), "a\nb\nc\n\x00\x00\x00\x00", 4},
	} {
		for name, wrap := range map[string]func(io.Reader) io.Reader{
			"whole": func(r io.Reader) io.Reader { return r }, "byte by byte": iotest.OneByteReader} {
			l := &lineLimitReader{r: wrap(strings.NewReader(tc.in)), max: 4, line: 1}
			got, err := io.ReadAll(l)
			var long *lineTooLongError
			switch {
			case string(got) != tc.pass:
				t.Errorf("%q %s: passed %q, want %q", tc.in, name, got, tc.pass)
			case tc.line == 0 && err != nil:
				t.Errorf("%q %s: %v", tc.in, name, err)
			case tc.line != 0 && (!errors.As(err, &long) || long.line != tc.line):
				t.Errorf("%q %s: %v, want line %d too long", tc.in, name, err, tc.line)
			}
		}
	}
}
