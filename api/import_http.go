package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"duebell/repo"
)

// DefaultImportTimeout bounds one POST /api/v1/import (reading the body
// and answering), in place of the HTTP server's shorter timeouts.
const DefaultImportTimeout = time.Hour

// DefaultImportIdleTimeout bounds the wait for the next bytes of an import's
// body: the server's usual read timeout.
const DefaultImportIdleTimeout = 30 * time.Second

const codeUnsupportedMedia = "unsupported_media_type"

// importFailure is an import's answer when it did not complete: the error
// and the report of what was read and applied until then.
type importFailure struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	ImportReport
}

// postImport applies an NDJSON body (one customer, plan, payment or event
// per line). 200 with the report when the import ran to its end — refused
// lines are listed and skipped; 422 with the report for an atomic import
// with refused lines (nothing applied); 413 above ImportMaxBytes.
func (s *server) postImport(w http.ResponseWriter, r *http.Request) error {
	if !oneMediaType(r.Header.Values("Content-Type"), func(mt string) bool {
		return mt == "application/x-ndjson" || mt == "application/jsonl"
	}) {
		return &apiError{http.StatusUnsupportedMediaType, codeUnsupportedMedia,
			"want one Content-Type: application/x-ndjson (one JSON object per line, UTF-8)"}
	}
	q := r.URL.Query()
	var opts ImportOptions
	var err error
	if opts.Atomic, err = queryBool(q, "atomic"); err != nil {
		return err
	}
	if opts.DryRun, err = queryBool(q, "dry_run"); err != nil {
		return err
	}
	if r.ContentLength > s.cfg.ImportMaxBytes {
		return s.importTooLarge()
	}
	rc := http.NewResponseController(w)
	deadline := time.Now().Add(s.cfg.ImportTimeout)
	_ = rc.SetReadDeadline(deadline)
	_ = rc.SetWriteDeadline(deadline)
	idle := &idleReader{ReadCloser: r.Body, rc: rc, idle: s.cfg.ImportIdleTimeout, deadline: deadline}
	body, err := decodedBody(r.Header, http.MaxBytesReader(w, idle, s.cfg.ImportMaxBytes),
		s.cfg.ImportMaxBytes, "NDJSON")
	var tooLarge *http.MaxBytesError
	var badEnc *badEncodingError
	switch {
	case errors.As(err, &tooLarge):
		return s.importTooLarge()
	case idle.stalled.Load(): // before its gzip header came
		return &apiError{http.StatusRequestTimeout, codeTimeout,
			fmt.Sprintf("no bytes of the body for %s; send it again", s.cfg.ImportIdleTimeout)}
	case errors.As(err, &badEnc):
		return &apiError{http.StatusBadRequest, codeBadEncoding, badEnc.Error()}
	case err != nil:
		return err
	}
	rep, err := s.runImport(r.Context(), body, opts)
	switch {
	case errors.As(err, &tooLarge):
		ae := s.importTooLarge()
		writeImportFailure(w, ae, rep)
		return nil
	case errors.As(err, &badEnc):
		writeImportFailure(w, &apiError{http.StatusBadRequest, codeBadEncoding,
			fmt.Sprintf("import stopped after %d lines: %s; chunks before it are stored unless atomic", rep.Lines, badEnc.Error())}, rep)
		return nil
	case idle.stalled.Load():
		// The client stopped sending: what it sent is applied as far as a
		// chunk was committed, and the rest is the client's to send again.
		// Asked of the reader, not of err: net/http cancels the request's
		// context on the failed read, so the applier may fail first with
		// a cancelled statement.
		writeImportFailure(w, &apiError{http.StatusRequestTimeout, codeTimeout,
			fmt.Sprintf("no bytes of the body for %s; import stopped after %d lines; import the file again (chunks before it are stored unless atomic)",
				s.cfg.ImportIdleTimeout, rep.Lines)}, rep)
		return nil
	case err != nil && r.Context().Err() != nil:
		return err
	case errors.Is(err, repo.ErrConflict):
		// Another writer changed what a chunk had read (a racing import of
		// the same new plan): nothing of that chunk is stored, and the same
		// file imported again applies its lines to what is stored now.
		writeImportFailure(w, &apiError{http.StatusConflict, codeConflict,
			fmt.Sprintf("import stopped after %d lines: %s; import the file again (chunks before it are stored unless atomic)",
				rep.Lines, strings.TrimSuffix(err.Error(), ": "+repo.ErrConflict.Error()))}, rep)
		return nil
	case repo.IsUnavailable(err):
		// A database outage, as any other route answers it: one warning, and
		// the lender's sync is told to send the file again later, with the
		// report of where it stopped.
		s.unavailable(w, r, err, slog.Int("lines", rep.Lines))
		writeImportFailure(w, &apiError{http.StatusServiceUnavailable, codeUnavailable,
			fmt.Sprintf("the database is unavailable; import stopped after %d lines; import the file again later (chunks before it are stored unless atomic)",
				rep.Lines)}, rep)
		return nil
	case err != nil:
		s.log.LogAttrs(context.WithoutCancel(r.Context()), slog.LevelError, "import failed",
			slog.Int("lines", rep.Lines), slog.String("error", err.Error()))
		writeImportFailure(w, &apiError{http.StatusInternalServerError, codeInternal,
			fmt.Sprintf("import stopped after %d lines; chunks before it are stored unless atomic", rep.Lines)}, rep)
		return nil
	case opts.Atomic && rep.Refused > 0:
		writeImportFailure(w, &apiError{http.StatusUnprocessableEntity, codeInvalid,
			fmt.Sprintf("%d lines refused; atomic import applied nothing", rep.Refused)}, rep)
		return nil
	}
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "import",
		slog.Int("lines", rep.Lines), slog.Int("created", rep.Created), slog.Int("updated", rep.Updated),
		slog.Int("unchanged", rep.Unchanged), slog.Int("refused", rep.Refused),
		slog.Bool("atomic", opts.Atomic), slog.Bool("dry_run", opts.DryRun))
	writeJSON(w, http.StatusOK, rep)
	return nil
}

func (s *server) importTooLarge() *apiError {
	return &apiError{http.StatusRequestEntityTooLarge, codeTooLarge,
		fmt.Sprintf("import body is larger than %d bytes (http.import_max_bytes); split the file", s.cfg.ImportMaxBytes)}
}

func writeImportFailure(w http.ResponseWriter, ae *apiError, rep ImportReport) {
	var f importFailure
	f.Error.Code, f.Error.Message, f.ImportReport = ae.Code, ae.Message, rep
	writeJSON(w, ae.Status, f)
}

// queryBool reads the flag name of q: false when it is not there. Given
// without a value (?dry_run), it is refused rather than read as false: a
// client that meant a dry run would import for real.
func queryBool(q url.Values, name string) (bool, error) {
	if !q.Has(name) {
		return false, nil
	}
	b, err := strconv.ParseBool(q.Get(name))
	if err != nil {
		return false, invalid(name, "want true or false")
	}
	return b, nil
}

// idleReader reads an import's body with a read deadline that moves on
// with every read: at most idle from now, never past the import's own.
type idleReader struct {
	io.ReadCloser
	rc       *http.ResponseController
	idle     time.Duration
	deadline time.Time
	stalled  atomic.Bool // a read waited idle for bytes
}

func (ir *idleReader) Read(p []byte) (int, error) {
	next := time.Now().Add(ir.idle)
	if next.After(ir.deadline) {
		next = ir.deadline
	}
	_ = ir.rc.SetReadDeadline(next)
	n, err := ir.ReadCloser.Read(p)
	if errors.Is(err, os.ErrDeadlineExceeded) && next.Before(ir.deadline) {
		ir.stalled.Store(true)
	}
	return n, err
}
