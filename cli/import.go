package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"duebell/api"
)

// runImport applies an NDJSON file with the code of POST /api/v1/import.
func runImport(ctx context.Context, args []string, out io.Writer) error {
	var c commonFlags
	fs := newFlagSet("import", &c)
	dryRun := fs.Bool("dry-run", false, "check and apply in a transaction that is rolled back: report what would change")
	atomic := fs.Bool("atomic", false, "all or nothing: apply no line when any line is refused")
	chunk := fs.Int("chunk", api.DefaultImportChunk, "records per transaction")
	workers := fs.Int("workers", api.DefaultImportWorkers, fmt.Sprintf("chunks applied at once (1 to %d), each on its own database connection", maxImportWorkers))
	asJSON := fs.Bool("json", false, "print the report as the API's JSON answer")
	path, rest := splitFileArg(fs, args)
	if err := parse(fs, rest); err != nil {
		return err
	}
	if path == "" {
		return fmt.Errorf("%w: want a file: duebell import FILE.ndjson [--dry-run] (- reads stdin)", errUsage)
	}
	// The importer takes 0 or less for its default: given here, it is a
	// mistake to say, not a value to replace silently.
	if *chunk < 1 {
		return fmt.Errorf("%w: --chunk %d: want a positive number of records", errUsage, *chunk)
	}
	if *workers < 1 || *workers > maxImportWorkers {
		return fmt.Errorf("%w: --workers %d: want 1 to %d", errUsage, *workers, maxImportWorkers)
	}
	in, size, err := openInput(path)
	if err != nil {
		return err
	}
	defer in.Close()
	// A gzip file (book.ndjson.gz, or gzip on stdin) is read decompressed;
	// the progress bar then cannot know the size it expands to.
	body, gz, err := api.SniffGzip(in)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if gz {
		size = -1
	}
	a, err := openMigrated(ctx, c.config)
	if err != nil {
		return err
	}
	defer a.close()
	im, err := api.NewImporter(a.apiConfig())
	if err != nil {
		return err
	}
	maxLine := a.cfg.HTTP.MaxBodyBytes
	if maxLine <= 0 {
		maxLine = api.DefaultMaxBodyBytes
	}
	lines := &lineLimitReader{r: body, max: maxLine, line: 1}
	progOut := out
	if *asJSON { // stdout holds the JSON report alone, for a script to parse
		progOut = io.Discard
	}
	prog := newImportProgress(progOut, size, time.Now)
	rep, err := im.Import(ctx, lines, api.ImportOptions{Atomic: *atomic, DryRun: *dryRun, Chunk: *chunk, Workers: *workers, Progress: prog.update})
	prog.done()
	if *asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		printImportReport(out, path, rep)
	}
	var long *lineTooLongError
	if errors.As(err, &long) {
		return fmt.Errorf("import stopped at line %d: %w", long.line, long)
	}
	if err != nil {
		return fmt.Errorf("import stopped after line %d: %w", rep.Lines, err)
	}
	if rep.Refused > 0 {
		return fmt.Errorf("%d of %d lines refused", rep.Refused, rep.Lines)
	}
	return nil
}

// maxImportWorkers bounds --workers. Each worker holds a database
// connection for its chunk's transaction, and the pool has 20 (repo.Open;
// 8 on SQLite): workers past that only wait for one, so a larger number
// is a typo, not a setting.
const maxImportWorkers = 64

// lineLimitReader passes r on and fails with a *lineTooLongError once a
// line holds more than max bytes (http.max_body_bytes, the importer's
// limit on a line). The importer refuses such a line and reads on to its
// newline, which a file without one (/dev/zero, a gzip of zeros) never
// brings: `duebell import` has no body limit to end it, as the API has.
// So the command stops at the line, having read at most max bytes of it.
type lineLimitReader struct {
	r    io.Reader
	max  int64
	line int   // the line being read, from 1
	n    int64 // its bytes read so far
	err  error
}

func (l *lineLimitReader) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	n, err := l.r.Read(p)
	for rest := p[:n]; len(rest) > 0; {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			i = len(rest)
		}
		if l.n+int64(i) > l.max {
			// The lines before this one are passed on and applied, and
			// the first max bytes of this one, however it was read.
			l.err = &lineTooLongError{line: l.line, max: l.max}
			return n - len(rest) + int(l.max-l.n), l.err
		}
		if i == len(rest) {
			l.n += int64(i)
			break
		}
		l.line, l.n, rest = l.line+1, 0, rest[i+1:]
	}
	return n, err
}

// lineTooLongError is a line over the limit; the wording is the API's for
// the same line (too_large).
type lineTooLongError struct {
	line int
	max  int64
}

func (e *lineTooLongError) Error() string {
	return fmt.Sprintf("line is longer than %d bytes (http.max_body_bytes)", e.max)
}

// splitFileArg takes the file out of args wherever it stands
// (`duebell import FILE --dry-run` or `duebell import --workers 4 FILE`), so
// the flags around it parse; a second file is left for parse to refuse.
func splitFileArg(fs *flag.FlagSet, args []string) (path string, rest []string) {
	for i := 0; i < len(args); i++ {
		arg := args[i]
		switch {
		case arg == "--":
			if path == "" && i+1 < len(args) {
				path, i = args[i+1], i+1
			}
			rest = append(rest, args[i+1:]...)
			return path, rest
		case path == "" && (arg == "-" || !strings.HasPrefix(arg, "-")):
			path = arg
		default:
			rest = append(rest, arg)
			if takesValue(fs, arg) && i+1 < len(args) {
				i++
				rest = append(rest, args[i])
			}
		}
	}
	return path, rest
}

// takesValue says whether arg is a flag of fs given its value as the next
// argument (--workers 4, not --workers=4 nor the bool --dry-run).
func takesValue(fs *flag.FlagSet, arg string) bool {
	name := strings.TrimLeft(arg, "-")
	if strings.Contains(name, "=") {
		return false
	}
	f := fs.Lookup(name)
	if f == nil {
		return false
	}
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return !ok || !b.IsBoolFlag()
}

func openInput(path string) (io.ReadCloser, int64, error) {
	if path == "-" {
		return io.NopCloser(os.Stdin), -1, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err // *PathError: "open book.ndjson: no such file or directory"
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, st.Size(), nil
}

// importProgress shows how far an import is: a bar with records/s and ETA
// on a terminal, a plain line every few seconds otherwise.
type importProgress struct {
	out   io.Writer
	bar   *progressbar.ProgressBar
	now   func() time.Time
	start time.Time
	last  time.Time
	lines int
	bytes int64
}

const progressEvery = 5 * time.Second

func newImportProgress(out io.Writer, size int64, now func() time.Time) *importProgress {
	p := &importProgress{out: out, now: now, start: now()}
	p.last = p.start
	if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions64(size,
			progressbar.OptionSetWriter(out),
			progressbar.OptionSetDescription("importing"),
			progressbar.OptionShowBytes(true),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionShowElapsedTimeOnFinish(),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionClearOnFinish())
	}
	return p
}

func (p *importProgress) rate() float64 {
	secs := p.now().Sub(p.start).Seconds()
	if secs <= 0 {
		return 0
	}
	return float64(p.lines) / secs
}

func (p *importProgress) update(pr api.ImportProgress) {
	p.lines, p.bytes = pr.Lines, pr.Bytes
	if p.bar != nil {
		p.bar.Describe(fmt.Sprintf("%d records, %.0f records/s", p.lines, p.rate()))
		_ = p.bar.Set64(pr.Bytes)
		return
	}
	if now := p.now(); now.Sub(p.last) >= progressEvery {
		p.last = now
		fmt.Fprintf(p.out, "progress: %d records, %.1f MB, %.0f records/s\n", p.lines, float64(p.bytes)/1e6, p.rate())
	}
}

func (p *importProgress) done() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}

func printImportReport(out io.Writer, path string, rep api.ImportReport) {
	state := "committed"
	switch {
	case rep.DryRun:
		state = "dry run, nothing written"
	case !rep.Committed && rep.Atomic:
		state = "atomic: nothing written"
	case !rep.Committed:
		state = "nothing written"
	}
	fmt.Fprintf(out, "import %s: %d records: created %d, updated %d, unchanged %d, refused %d (%s)\n",
		path, rep.Lines, rep.Created, rep.Updated, rep.Unchanged, rep.Refused, state)
	kinds := make([]string, 0, len(rep.ByType))
	for k := range rep.ByType {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		c := rep.ByType[k]
		fmt.Fprintf(out, "  %-9s created %d, updated %d, unchanged %d, refused %d\n", k, c.Created, c.Updated, c.Unchanged, c.Refused)
	}
	for _, e := range rep.Errors {
		fmt.Fprintf(out, "line %d", e.Line)
		if e.Type != "" {
			fmt.Fprintf(out, " %s", shown(e.Type))
		}
		if e.Ref != "" {
			fmt.Fprintf(out, " %s", shown(e.Ref))
		}
		fmt.Fprintf(out, ": %s: %s\n", e.Code, shown(e.Message))
	}
	if rep.ErrorsTruncated {
		fmt.Fprintf(out, "(only the first %d refused lines are listed)\n", api.MaxImportErrors)
	}
}

// shown is s as a terminal may print it: quoted, with escapes, when it
// holds invalid UTF-8 or a character that is not printable. A refused
// line's ref comes from the file as it is, and a crafted export's escape
// sequences would otherwise retitle or clear the operator's terminal.
func shown(s string) string {
	if utf8.ValidString(s) && strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) < 0 {
		return s
	}
	return strconv.Quote(s)
}
