package cli

import (
	"context"
	"encoding/json"
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
	workers := fs.Int("workers", api.DefaultImportWorkers, "chunks applied at once, each on its own database connection")
	asJSON := fs.Bool("json", false, "print the report as the API's JSON answer")
	path, rest := splitFileArg(args)
	if err := parse(fs, rest); err != nil {
		return err
	}
	if path == "" {
		return fmt.Errorf("%w: want a file: duebell import FILE.ndjson [--dry-run] (- reads stdin)", errUsage)
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
	prog := newImportProgress(out, size, time.Now)
	rep, err := im.Import(ctx, body, api.ImportOptions{Atomic: *atomic, DryRun: *dryRun, Chunk: *chunk, Workers: *workers, Progress: prog.update})
	prog.done()
	if *asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		printImportReport(out, path, rep)
	}
	if err != nil {
		return fmt.Errorf("import stopped after line %d: %w", rep.Lines, err)
	}
	if rep.Refused > 0 {
		return fmt.Errorf("%d of %d lines refused", rep.Refused, rep.Lines)
	}
	return nil
}

// splitFileArg takes the file out of args wherever it stands
// (`duebell import FILE --dry-run` or `duebell import --dry-run FILE`), so
// the flags around it parse; a second file is left for parse to refuse.
func splitFileArg(args []string) (path string, rest []string) {
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
			name := strings.TrimLeft(arg, "-")
			if (name == "config" || name == "chunk") && i+1 < len(args) {
				i++
				rest = append(rest, args[i])
			}
		}
	}
	return path, rest
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
