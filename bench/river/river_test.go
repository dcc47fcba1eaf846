// Package river is the yardstick, run on the same machine as
// duebell's own benchmarks: a generic PostgreSQL job queue (River, 2,000
// workers) sending the same SMS and emails to the same kind of loopback
// sinks, each job recorded completed in PostgreSQL. It is its own module, so
// duebell itself does not depend on River; run it from this directory:
//
//	go test -run '^$' -bench . -benchtime 1x        # N=100000 jobs each
//
// and compare jobs/s with BenchmarkDispatch's notices/s at the same size
// (DUEBELL_BENCH_INSTALLMENTS=N). The River jobs do less than duebell's
// dispatcher (no re-check, no render, no signed link, no per-customer cap,
// no attempt row of their own): this is the floor the issue measured
// duebell against.
package river

import (
	"context"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// Knobs: N jobs (default 100,000), WORKERS (default 2,000, as the issue ran
// River), and TEST_DATABASE_URL as for duebell's tests.
func env(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// runQueue inserts n jobs (args(i)) into a fresh schema, starts a River
// client with worker, and reports jobs/s from the start until the sink saw
// all n and every job row is completed.
func runQueue[T river.JobArgs](b *testing.B, schema string, worker river.Worker[T], args func(i int) T, delivered *atomic.Int64) {
	n, workers := env("N", 100_000), env("WORKERS", 2_000)
	ctx := context.Background()
	url := os.Getenv("TEST_DATABASE_URL")
	if url == "" {
		url = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE; CREATE SCHEMA "+schema); err != nil {
		b.Fatal(err)
	}
	defer func() { _, _ = pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE") }()
	driver := riverpgxv5.New(pool)
	m, err := rivermigrate.New(driver, &rivermigrate.Config{Schema: schema})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		b.Fatal(err)
	}
	ws := river.NewWorkers()
	river.AddWorker(ws, worker)
	client, err := river.NewClient(driver, &river.Config{
		Schema:  schema,
		Queues:  map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: workers}},
		Workers: ws,
	})
	if err != nil {
		b.Fatal(err)
	}
	batch := make([]river.InsertManyParams, 0, 5000)
	for i := range n {
		batch = append(batch, river.InsertManyParams{Args: args(i)})
		if len(batch) == cap(batch) || i == n-1 {
			if _, err := client.InsertManyFast(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	b.ResetTimer()
	start := time.Now()
	if err := client.Start(ctx); err != nil {
		b.Fatal(err)
	}
	for delivered.Load() < int64(n) {
		if time.Since(start) > 5*time.Minute {
			b.Fatalf("stalled at %d of %d", delivered.Load(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// River records completions in batches: done when every row says so.
	for left := -1; left != 0; time.Sleep(5 * time.Millisecond) {
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+schema+".river_job WHERE state <> 'completed'").Scan(&left); err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	_ = client.Stop(ctx)
	b.ReportMetric(float64(n)/elapsed.Seconds(), "jobs/s")
}
