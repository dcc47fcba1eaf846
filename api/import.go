package api

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"

	"duebell/repo"
)

// Import defaults.
const (
	DefaultImportMaxBytes = 1 << 30 // 1 GiB
	DefaultImportChunk    = 2000    // records per transaction
	DefaultImportWorkers  = 2       // chunks applied at once, each on its own connection
	analyzeEvery          = 20000   // created records before the first ANALYZE
	// MaxImportErrors is how many refused lines a report lists; the
	// counts cover every line.
	MaxImportErrors = 1000
)

// Importer applies an NDJSON import: the endpoint POST /api/v1/import and
// the `duebell import` command share it.
type Importer struct{ s *server }

// NewImporter validates cfg (as New does) and returns an Importer; Tokens
// are not needed.
func NewImporter(cfg Config) (*Importer, error) {
	s, err := newServer(cfg)
	if err != nil {
		return nil, err
	}
	return &Importer{s: s}, nil
}

// ImportOptions shape one import.
type ImportOptions struct {
	// Atomic applies everything or nothing: every chunk in one transaction,
	// rolled back when any line is refused.
	Atomic bool
	// DryRun checks and applies in a transaction that is always rolled
	// back: the report says what the import would do.
	DryRun bool
	// Chunk is the records per transaction (default DefaultImportChunk).
	Chunk int
	// Workers is how many chunks are applied at once, each in its own
	// transaction on its own connection (default DefaultImportWorkers).
	// Chunks that touch a common customer, plan, installment or event
	// are applied one after the other, in file order. An atomic import
	// or a dry run has one transaction, so one worker.
	Workers int
	// Progress, when set, is called after every chunk.
	Progress func(ImportProgress)
}

// ImportProgress is how far an import has come.
type ImportProgress struct {
	Lines int   // lines read
	Bytes int64 // bytes read
}

// ImportCounts are the outcomes of a set of lines.
type ImportCounts struct {
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	Refused   int `json:"refused"`
}

func (c *ImportCounts) add(o repo.ImportOutcome) {
	switch o {
	case repo.ImportCreated:
		c.Created++
	case repo.ImportUpdated:
		c.Updated++
	case repo.ImportUnchanged:
		c.Unchanged++
	case repo.ImportRefused:
		c.Refused++
	}
}

var importKinds = map[string]bool{"customer": true, "plan": true, "payment": true, "event": true}

// ImportLineError is one refused line.
type ImportLineError struct {
	Line    int    `json:"line"`
	Type    string `json:"type,omitempty"`
	Ref     string `json:"ref,omitempty"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// ImportReport is the answer to an import.
type ImportReport struct {
	Lines int `json:"lines"` // records read (blank lines are skipped)
	ImportCounts
	ByType map[string]*ImportCounts `json:"by_type"`
	// Errors lists refused lines in line order, at most MaxImportErrors.
	Errors          []ImportLineError `json:"errors"`
	ErrorsTruncated bool              `json:"errors_truncated"`
	Atomic          bool              `json:"atomic"`
	DryRun          bool              `json:"dry_run"`
	// Committed says the applied lines are stored: false for a dry run, a
	// refused atomic import, or an import that failed before its end.
	Committed bool `json:"committed"`
}

func (rep *ImportReport) record(res repo.ImportLineResult, ae *apiError) {
	if importKinds[res.Kind] {
		c := rep.ByType[res.Kind]
		if c == nil {
			c = &ImportCounts{}
			rep.ByType[res.Kind] = c
		}
		c.add(res.Outcome)
	}
	rep.ImportCounts.add(res.Outcome)
	if res.Outcome != repo.ImportRefused {
		return
	}
	if len(rep.Errors) >= MaxImportErrors {
		rep.ErrorsTruncated = true
		return
	}
	if ae == nil {
		// A refused line's error is the line's fault: fail's 4xx, else invalid.
		if ae = refusal(res.Err); ae == nil {
			ae = &apiError{http.StatusUnprocessableEntity, codeInvalid, res.Err.Error()}
		}
	}
	rep.Errors = append(rep.Errors, ImportLineError{Line: res.Line, Type: res.Kind, Ref: res.Ref, Code: ae.Code, Message: ae.Message})
}

// Import reads NDJSON from r and applies it in chunks. Refused lines are
// reported and skipped (unless opts.Atomic); the error is for what stops
// the whole import — reading r, the database — and comes with the report
// of what was done until then.
func (im *Importer) Import(ctx context.Context, r io.Reader, opts ImportOptions) (ImportReport, error) {
	return im.s.runImport(ctx, r, opts)
}

func (s *server) runImport(ctx context.Context, r io.Reader, opts ImportOptions) (ImportReport, error) {
	rep := ImportReport{ByType: map[string]*ImportCounts{}, Errors: []ImportLineError{}, Atomic: opts.Atomic, DryRun: opts.DryRun}
	if opts.Chunk <= 0 {
		opts.Chunk = DefaultImportChunk
	}
	if opts.Workers <= 0 {
		opts.Workers = DefaultImportWorkers
	}
	if opts.Atomic || opts.DryRun {
		opts.Workers = 1
	}
	run := &importRun{s: s, opts: opts, rep: &rep, ck: newChunker()}
	if err := s.cfg.Repo.RefreshImportStats(ctx); err != nil {
		return rep, err
	}
	// Reading and checking lines overlaps with applying the previous
	// chunks: one chunk is parsed while the database writes the others.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan importChunk)
	readErr := make(chan error, 1)
	go func() {
		defer close(batches)
		readErr <- run.read(ctx, r, batches)
	}()
	err := run.applyAll(ctx, batches)
	if err != nil {
		cancel()
		for range batches { // let the reader stop
		}
	}
	if rerr := <-readErr; err == nil {
		err = rerr
	}
	if err == nil {
		err = run.finish()
	}
	if run.tx != nil {
		_ = run.tx.Rollback()
	}
	sort.SliceStable(rep.Errors, func(i, j int) bool { return rep.Errors[i].Line < rep.Errors[j].Line })
	return rep, err
}

// importRun is one import in progress. The reader goroutine parses lines
// into chunks; the caller's goroutine hands them to the appliers. mu
// guards rep and the ANALYZE schedule.
type importRun struct {
	s    *server
	opts ImportOptions
	mu   sync.Mutex
	rep  *ImportReport
	ck   *chunker      // reader only
	tx   repo.ImportTx // the one transaction of an atomic import or a dry run
	// applied counts the records created so far (committed or not);
	// analyzedAt is that count when statistics were last refreshed.
	applied, analyzedAt int
	progressMu          sync.Mutex // one Progress call at a time
	// lines and bytes read so far, for progress.
	lines, bytes atomic.Int64
}

func (run *importRun) record(res repo.ImportLineResult, ae *apiError) {
	run.mu.Lock()
	defer run.mu.Unlock()
	run.rep.record(res, ae)
}

func (run *importRun) read(ctx context.Context, r io.Reader, out chan<- importChunk) error {
	cr := &countingReader{r: r}
	br := bufio.NewReaderSize(cr, 256<<10)
	maxLine := int(run.s.cfg.MaxBodyBytes)
	send := func() error {
		b := run.ck.reset()
		if b.batch.Len() == 0 {
			return nil
		}
		select {
		case out <- b:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	var buf []byte
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		line, tooLong, err := readLine(br, buf[:0], maxLine)
		buf = line
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read line %d: %w", n, err)
		}
		line = bytes.TrimSpace(line)
		if n == 1 {
			// A byte order mark, as spreadsheet tools on Windows write
			// before UTF-8 text: not part of the first record.
			line = bytes.TrimPrefix(line, []byte("\uFEFF"))
		}
		switch {
		case tooLong:
			run.countLine()
			run.record(repo.ImportLineResult{Line: n, Outcome: repo.ImportRefused},
				&apiError{http.StatusRequestEntityTooLarge, codeTooLarge, fmt.Sprintf("line is longer than %d bytes", maxLine)})
		case len(line) > 0:
			run.countLine()
			rec, perr := run.s.parseImportLine(n, line)
			if perr != nil {
				var ae *apiError
				if !errors.As(perr, &ae) {
					return perr
				}
				run.record(repo.ImportLineResult{Line: n, Kind: rec.kind, Ref: rec.ref, Outcome: repo.ImportRefused}, ae)
				break
			}
			// A line that must not be reordered with what the chunk
			// holds starts the next chunk.
			if !run.ck.fits(rec) {
				if err := send(); err != nil {
					return err
				}
			}
			run.ck.add(rec)
			if run.ck.batch.Len() >= run.opts.Chunk {
				if err := send(); err != nil {
					return err
				}
			}
		}
		run.bytes.Store(cr.n)
		if errors.Is(err, io.EOF) {
			return send()
		}
	}
}

func (run *importRun) countLine() {
	run.lines.Add(1)
	run.mu.Lock()
	run.rep.Lines++
	run.mu.Unlock()
}

// finish reports the end and, for an atomic import, commits when no line
// was refused.
func (run *importRun) finish() error {
	run.progress()
	switch {
	case !run.opts.Atomic && !run.opts.DryRun:
		run.rep.Committed = true
		return nil
	case run.opts.DryRun || run.rep.Refused > 0:
		return nil
	case run.tx == nil: // nothing to apply
		run.rep.Committed = true
		return nil
	}
	err := run.tx.Commit()
	run.tx = nil
	if err != nil {
		return err
	}
	run.rep.Committed = true
	return nil
}

// readLine reads one line into buf. A line longer than max is read to its
// end and dropped (tooLong), so one bad line does not end the import.
func readLine(br *bufio.Reader, buf []byte, max int) (line []byte, tooLong bool, err error) {
	for {
		frag, err := br.ReadSlice('\n')
		if !tooLong && len(buf)+len(frag) > max+1 {
			tooLong, buf = true, buf[:0]
		}
		if !tooLong {
			buf = append(buf, frag...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return buf, tooLong, err
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
