package api

import (
	"context"
	"sync"

	"duebell/repo"
)

// applyAll applies every chunk the reader sends: all in the import's one
// transaction when atomic or a dry run, else each in its own transaction,
// up to opts.Workers at once.
func (run *importRun) applyAll(ctx context.Context, chunks <-chan importChunk) error {
	if run.opts.Atomic || run.opts.DryRun {
		return run.applyInOne(ctx, chunks)
	}
	var (
		mu       sync.Mutex
		changed  = sync.NewCond(&mu)
		inFlight = map[int]importChunk{}
		firstErr error
		wg       sync.WaitGroup
	)
	// blocked says ch must wait: every worker is busy, or a chunk being
	// applied touches a customer, plan, installment or event ch touches
	// too (ch comes later in the file, so it waits for that one to commit).
	blocked := func(ch importChunk) bool {
		if len(inFlight) >= run.opts.Workers {
			return true
		}
		for _, f := range inFlight {
			if f.overlaps(ch) {
				return true
			}
		}
		return false
	}
	n := 0
	for ch := range chunks {
		mu.Lock()
		for firstErr == nil && blocked(ch) {
			changed.Wait()
		}
		if firstErr != nil {
			mu.Unlock()
			break
		}
		id := n
		n++
		inFlight[id] = ch
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := run.applyChunk(ctx, ch.batch)
			mu.Lock()
			defer mu.Unlock()
			delete(inFlight, id)
			if err != nil && firstErr == nil {
				firstErr = err
			}
			changed.Broadcast()
		}()
	}
	wg.Wait()
	return firstErr
}

// applyChunk applies one chunk in its own transaction and, once it is
// committed, records its lines.
func (run *importRun) applyChunk(ctx context.Context, b repo.ImportBatch) error {
	tx, err := run.s.cfg.Repo.BeginImport(ctx, run.s.cfg.PaymentConfirmChannels)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	results, err := run.apply(ctx, tx, b)
	if err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	run.mu.Lock()
	for _, res := range results {
		run.rep.record(res, nil)
	}
	run.rep.Committed = true
	run.mu.Unlock()
	run.progress()
	return nil
}

// applyInOne applies every chunk in one transaction, left open for finish
// to commit (atomic) or roll back (dry run, refused lines).
func (run *importRun) applyInOne(ctx context.Context, chunks <-chan importChunk) error {
	for ch := range chunks {
		if run.tx == nil {
			tx, err := run.s.cfg.Repo.BeginImport(ctx, run.s.cfg.PaymentConfirmChannels)
			if err != nil {
				return err
			}
			run.tx = tx
		}
		results, err := run.apply(ctx, run.tx, ch.batch)
		if err != nil {
			return err
		}
		run.mu.Lock()
		for _, res := range results {
			run.rep.record(res, nil)
		}
		run.mu.Unlock()
		run.progress()
	}
	return nil
}

// apply writes b in tx and, after every doubling of the records created
// (20k, 40k, 80k…), refreshes the planner's statistics in the same
// transaction, so the look-ups by ref keep walking the indexes.
func (run *importRun) apply(ctx context.Context, tx repo.ImportTx, b repo.ImportBatch) ([]repo.ImportLineResult, error) {
	results, err := tx.Apply(ctx, b, run.s.cfg.Now())
	if err != nil {
		return nil, err
	}
	created := 0
	for _, res := range results {
		if res.Outcome == repo.ImportCreated {
			created++
		}
	}
	run.mu.Lock()
	run.applied += created
	analyze := run.applied >= max(analyzeEvery, 2*run.analyzedAt)
	if analyze {
		run.analyzedAt = run.applied
	}
	run.mu.Unlock()
	if analyze {
		if err := tx.Analyze(ctx); err != nil {
			return nil, err
		}
	}
	return results, nil
}

func (run *importRun) progress() {
	if run.opts.Progress == nil {
		return
	}
	run.progressMu.Lock()
	defer run.progressMu.Unlock()
	run.opts.Progress(ImportProgress{Lines: int(run.lines.Load()), Bytes: run.bytes.Load()})
}
